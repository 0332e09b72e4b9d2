// celery-node's client against a celeriac worker, one mode per run; prints
// one JSON line with what the client saw (tests/interop/test_celery_node.py).
//
//   node client.js BROKER_URL add X Y           -> {"result": X + Y}
//   node client.js BROKER_URL echo KWARGS_JSON  -> {"result": <celeriac.echo's result>}
//   node client.js BROKER_URL fail MESSAGE      -> {"error": {message, exc_type, exc_message, exc_module}}
//   node client.js BROKER_URL bulk N            -> {"n", "wrong", "send_seconds", "seconds"}
"use strict";

const celery = require("celery-node");

const TIMEOUT_MS = 30000;

function seconds(start) {
  const [s, ns] = process.hrtime(start);
  return s + ns / 1e9;
}

async function add(client, x, y) {
  const result = await client.createTask("celeriac.add").applyAsync([x, y]).get(TIMEOUT_MS);
  return { result };
}

async function echo(client, kwargs) {
  const result = await client.createTask("celeriac.echo").applyAsync([], kwargs).get(TIMEOUT_MS);
  return { result };
}

// AsyncResult.get() rejects with Error(status) carrying the stored result's
// fields (exc_type, exc_message, exc_module).
async function fail(client, message) {
  try {
    const result = await client.createTask("celeriac.fail").applyAsync([message]).get(TIMEOUT_MS);
    return { result };
  } catch (err) {
    const { exc_type, exc_message, exc_module } = err;
    return { error: { message: err.message, exc_type, exc_message, exc_module } };
  }
}

// N adds sent at once, then every result awaited (get() polls each every 500 ms).
async function bulk(client, n) {
  const task = client.createTask("celeriac.add");
  const start = process.hrtime();
  const pending = [];
  for (let i = 0; i < n; i += 1) pending.push(task.applyAsync([i, i]));
  const sendSeconds = seconds(start);
  const results = await Promise.all(pending.map((r) => r.get(TIMEOUT_MS)));
  const wrong = results.filter((r, i) => r !== 2 * i).length;
  return { n, wrong, send_seconds: sendSeconds, seconds: seconds(start) };
}

async function main() {
  const [url, mode, ...rest] = process.argv.slice(2);
  const client = celery.createClient(url, url);
  const modes = {
    add: () => add(client, Number(rest[0]), Number(rest[1])),
    echo: () => echo(client, JSON.parse(rest[0])),
    fail: () => fail(client, rest[0]),
    bulk: () => bulk(client, Number(rest[0])),
  };
  if (!modes[mode]) throw new Error(`unknown mode ${mode}: use add, echo, fail or bulk`);
  const out = await modes[mode]();
  process.stdout.write(JSON.stringify(out) + "\n");
  await client.disconnect();
}

main().catch((err) => {
  process.stderr.write(`client.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
