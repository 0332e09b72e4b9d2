"""Interop with celery-node (npm), the Celery-protocol client and worker
Node API servers use, both ways, on a private Redis:

- celery-node's client drives a celeriac worker: add, unicode kwargs, a
  failure raised to the client, 2,000 adds and their time;
- `celeriac call --wait` and `celeriac beat` drive a celery-node worker,
  whose results (traceback = the result, date_done ending in "Z") celeriac
  reads, as Celery's own client does;
- a stored result that cannot be read makes `celeriac call --wait` fail at
  once with the reason.

celery-node is installed here with `npm ci` from tests/interop/node's
package.json and lock file (an exact version), into CELERIAC_NODE_DIR
(ctest: <build>/tests/interop/node) once per lock file. Nothing is skipped:
without node and npm, or when npm cannot install, the test fails.

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_celery_node.py
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, Managed, RedisServer, wait_until  # noqa: E402

NODE_SOURCES = os.path.join(harness.HERE, "node")
NODE_QUEUE = "node"  # the celery-node worker's queue; the celeriac worker consumes "celery"
BULK_ADDS = 2000
UNICODE_KWARGS = {"name": "Zoë Ålvarez", "city": "東京", "emoji": "🚀✨", "quote": "\"'\\", "empty": ""}

SERVER = None
R = None
WORKER = None
NODE_WORKER = None
NODE_MODULES = None


def node_binary():
    path = shutil.which("node") or shutil.which("nodejs")
    if not path:
        raise RuntimeError("node is not installed: scripts/install-deps installs Debian's nodejs and npm")
    return path


def install_celery_node():
    """npm ci of tests/interop/node into CELERIAC_NODE_DIR, skipped when the
    lock file is the one installed last time. Returns its node_modules."""
    target = os.environ.get("CELERIAC_NODE_DIR") or os.path.join(harness.tmp_root(), "node")
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(NODE_SOURCES, "package-lock.json"), "rb") as f:
        lock_hash = hashlib.sha256(f.read()).hexdigest()
    modules = os.path.join(target, "node_modules")
    stamp = os.path.join(modules, ".celeriac-lock-sha256")
    if os.path.exists(stamp) and open(stamp).read() == lock_hash:
        return modules
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm is not installed: scripts/install-deps installs Debian's nodejs and npm")
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(NODE_SOURCES, name), os.path.join(target, name))
    p = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=target,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"npm ci in {target} failed ({p.returncode}): cannot install celery-node\n"
                           f"{p.stdout}\n{p.stderr}")
    with open(stamp, "w") as f:
        f.write(lock_hash)
    return modules


def node_env():
    env = dict(os.environ)
    env["NODE_PATH"] = NODE_MODULES
    return env


def node_client(mode, *args, timeout=120):
    """Runs tests/interop/node/client.js MODE ARGS...; returns its JSON line."""
    argv = [node_binary(), os.path.join(NODE_SOURCES, "client.js"), SERVER.url, mode, *map(str, args)]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                       env=node_env())
    if p.returncode != 0:
        raise AssertionError(f"client.js {mode} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


class NodeWorker(Managed):
    """tests/interop/node/worker.js: a celery-node worker consuming `queue`."""

    def __init__(self, url, queue):
        super().__init__("celery-node worker",
                         [node_binary(), os.path.join(NODE_SOURCES, "worker.js"), url, queue], env=node_env())
        self.queue = queue

    def wait_ready(self, timeout=30):
        self.wait_log(f"celery-node worker ready on {self.queue}", timeout)
        return self


def setUpModule():
    global SERVER, R, WORKER, NODE_WORKER, NODE_MODULES
    NODE_MODULES = install_celery_node()
    SERVER = RedisServer().start()
    R = SERVER.client()
    WORKER = CeleriacWorker(SERVER.url, queues="celery", concurrency=2).start()
    WORKER.wait_ready(R)
    NODE_WORKER = NodeWorker(SERVER.url, NODE_QUEUE).start()
    NODE_WORKER.wait_ready()


def tearDownModule():
    for p in (NODE_WORKER, WORKER, SERVER):
        if p is not None:
            p.stop()


def call(name, *flags, timeout=60):
    """`celeriac call NAME flags... -b URL`: (rc, task id, the rest of stdout, stderr)."""
    argv = [harness.celeriac_bin(), "call", name, *flags, "-b", SERVER.url]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.splitlines()
    return p.returncode, (lines[0].strip() if lines else None), "\n".join(lines[1:]), p.stderr


def celery_get(task_id):
    """The result as Celery 5.2's own client reads it (AsyncResult.get)."""
    from celery import Celery
    app = Celery(broker=SERVER.url, backend=SERVER.url)
    try:
        return app.AsyncResult(task_id).get(timeout=10)
    finally:
        app.close()


class NodeClientDrivesCeleriacWorker(unittest.TestCase):
    def test_add(self):
        self.assertEqual(node_client("add", 2, 3), {"result": 5})

    def test_unicode_kwargs(self):
        out = node_client("echo", json.dumps(UNICODE_KWARGS, ensure_ascii=False))
        self.assertEqual(out, {"result": {"args": [], "kwargs": UNICODE_KWARGS}})

    def test_failure_is_raised_to_the_client(self):
        out = node_client("fail", "bõom ⚡")
        self.assertEqual(out, {"error": {"message": "FAILURE", "exc_type": "RuntimeError",
                                         "exc_message": ["bõom ⚡"], "exc_module": "builtins"}})

    def test_2000_adds(self):
        out = node_client("bulk", BULK_ADDS, timeout=300)
        print(f"\n  celery-node client -> celeriac worker (-c 2): {BULK_ADDS} adds sent in "
              f"{out['send_seconds']:.3f}s, every result read in {out['seconds']:.2f}s", flush=True)
        self.assertEqual(out["n"], BULK_ADDS)
        self.assertEqual(out["wrong"], 0)
        # Generous: the client alone polls each result every 500 ms.
        self.assertLess(out["seconds"], 60)


class CeleriacDrivesNodeWorker(unittest.TestCase):
    def call_node(self, name, *flags):
        return call(name, "-Q", NODE_QUEUE, *flags, "--wait", "--timeout", "20")

    def test_call_add_reads_the_node_result(self):
        started = time.monotonic()
        rc, tid, out, err = self.call_node("node.add", "--args", "[2, 3]")
        self.assertEqual(rc, 0, f"rc {rc}, stdout {out!r}, stderr {err!r}")
        self.assertEqual(json.loads(out), 5)
        self.assertLess(time.monotonic() - started, 10, "read when stored, not at the timeout")
        # The odd forms celeriac now reads, as stored by celery-node 0.5.9.
        meta = harness.result_meta(R, tid)
        self.assertEqual(meta["traceback"], 5)
        self.assertTrue(meta["date_done"].endswith("Z"), meta["date_done"])
        self.assertEqual(celery_get(tid), 5)

    def test_call_unicode_kwargs(self):
        rc, tid, out, err = self.call_node("node.echo", "--args", '[1, "ü"]', "--kwargs",
                                           json.dumps(UNICODE_KWARGS))
        self.assertEqual(rc, 0, f"rc {rc}, stdout {out!r}, stderr {err!r}")
        self.assertEqual(json.loads(out), {"args": [1, "ü"], "kwargs": UNICODE_KWARGS})

    def test_call_failure(self):
        # A thrown Error: celery-node stores result null and traceback {}.
        rc, tid, out, err = self.call_node("node.fail", "--args", '["boom"]')
        self.assertEqual(rc, 1, f"rc {rc}, stdout {out!r}, stderr {err!r}")
        self.assertIn(f"task {tid} FAILURE: FAILURE", err)
        # A thrown string is the traceback itself.
        rc, tid, out, err = self.call_node("node.fail_text", "--args", '["went wrong"]')
        self.assertEqual(rc, 1, f"rc {rc}, stdout {out!r}, stderr {err!r}")
        self.assertIn(f"task {tid} FAILURE: FAILURE: went wrong", err)

    def test_beat_entry_runs_on_the_node_worker(self):
        schedule = os.path.join(harness.tmp_root(), "node-schedule.toml")
        with open(schedule, "w") as f:
            f.write('[[entry]]\nname = "node-tick"\ntask = "node.tick"\nevery = "1s"\n'
                    f'queue = "{NODE_QUEUE}"\nkwargs = {{ entry = "node-tick" }}\n')
        before = set(self.ticks_received())

        def ticks_done():
            done = [t for t in self.ticks_received() if t not in before
                    and (harness.result_meta(R, t) or {}).get("status") == "SUCCESS"]
            return done if len(done) >= 2 else None

        with Managed("celeriac beat", [harness.celeriac_bin(), "beat", "--schedule", schedule, "-b", SERVER.url,
                                       "--lease-ms", "1500"]):
            done = wait_until(ticks_done, 20, interval=0.1, message="two ticks run by the celery-node worker")
        for tid in done[:2]:
            self.assertEqual(harness.result_meta(R, tid)["result"]["tick"], "node-tick")
            self.assertEqual(celery_get(tid)["tick"], "node-tick")

    @staticmethod
    def ticks_received():
        marker = "Received task: node.tick["
        return [line.split(marker, 1)[1].split("]", 1)[0] for line in NODE_WORKER.log().splitlines()
                if marker in line]


class UnreadableResult(unittest.TestCase):
    def test_call_wait_fails_at_once_with_the_reason(self):
        argv = [harness.celeriac_bin(), "call", "nobody.runs.this", "-Q", "unconsumed", "--wait", "--timeout",
                "60", "-b", SERVER.url]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            tid = p.stdout.readline().strip()
            self.assertTrue(tid, "celeriac call printed no task id")
            key = f"celery-task-meta-{tid}"
            broken = json.dumps({"result": 5, "task_id": tid})  # no status
            started = time.monotonic()
            R.set(key, broken)
            R.publish(key, broken)
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertLess(time.monotonic() - started, 10, "failed at once, not at the 60 s timeout")
        self.assertEqual(p.returncode, 65, f"stdout {out!r}, stderr {err!r}")
        self.assertIn(key, err)
        self.assertIn("'status' = <missing>", err)


if __name__ == "__main__":
    harness.run("interop_celery_node", globals())
