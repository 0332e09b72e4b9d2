// A celery-node worker on BROKER_URL (also its result backend) consuming
// QUEUE, with the tasks tests/interop/test_celery_node.py sends it from
// `celeriac call` and `celeriac beat`. celery-node passes the message's
// kwargs as the handler's last argument.
//
//   node worker.js BROKER_URL QUEUE
"use strict";

const celery = require("celery-node");

const [url, queue] = process.argv.slice(2);
const worker = celery.createWorker(url, url, queue);

worker.register("node.add", (x, y) => x + y);
worker.register("node.echo", (...args) => {
  const kwargs = args.pop();
  return { args, kwargs };
});
// A thrown Error is stored as traceback {} (JSON.stringify drops its message).
worker.register("node.fail", (message) => {
  throw new Error(message);
});
// A thrown string is stored as the traceback itself.
worker.register("node.fail_text", (message) => {
  throw message;
});
worker.register("node.tick", (...args) => {
  const kwargs = args.pop();
  return { tick: kwargs.entry || null, at: new Date().toISOString() };
});

worker.isReady().then(() => console.log(`celery-node worker ready on ${queue}`));
worker.start();
