"""Interop 2: messages sent by `celeriac call` are consumed by a real Celery
5.2 worker (tests/interop/celery_app.py defines the same task names); the
results it stores are read back by `celeriac call --wait`.

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_celery_worker.py
"""

import datetime
import json
import os
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import PythonCeleryWorker, RedisServer, wait_until  # noqa: E402

SERVER = None
WORKER = None
R = None


def setUpModule():
    global SERVER, WORKER, R
    SERVER = RedisServer().start()
    R = SERVER.client()
    WORKER = PythonCeleryWorker(SERVER.url, queues="celery,csv", pool="solo").start()
    WORKER.wait_ready()


def tearDownModule():
    for p in (WORKER, SERVER):
        if p is not None:
            p.stop()


def call(name, *flags, timeout=60):
    """Runs `celeriac call NAME flags... -b URL`; returns (rc, task id, the
    rest of stdout, stderr)."""
    argv = [harness.celeriac_bin(), "call", name, *flags, "-b", SERVER.url]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    lines = p.stdout.splitlines()
    task_id = lines[0].strip() if lines else None
    return p.returncode, task_id, "\n".join(lines[1:]), p.stderr


class CallWait(unittest.TestCase):
    def check_result(self, name, expected, *flags):
        rc, tid, out, err = call(name, *flags, "--wait", "--timeout", "30")
        self.assertEqual(rc, 0, f"celeriac call {name} {flags}: rc {rc}, stdout {out!r}, stderr {err!r}")
        self.assertEqual(json.loads(out), expected)
        meta = harness.result_meta(R, tid)
        self.assertEqual(meta["status"], "SUCCESS")
        self.assertEqual(meta["result"], expected)
        self.assertEqual(meta["task_id"], tid)
        # Written by Celery's worker: its log names the task id (logged just
        # after the result is stored, so wait for it).
        WORKER.wait_log(f"Task {name}[{tid}] succeeded", 10)
        return tid

    def test_add_args(self):
        self.check_result("celeriac.add", 5, "--args", "[2, 3]")

    def test_add_kwargs(self):
        self.check_result("celeriac.add", "ab", "--kwargs", '{"x": "a", "y": "b"}')
        self.check_result("celeriac.add", 3.5, "--args", "[1.5]", "--kwargs", '{"y": 2}')

    def test_echo(self):
        args = [1, "two", [3, [3.5]], {"four": 4}, None, True, False, -7, "h\u00e9llo \u2713 \U0001F600",
                "quote\" back\\slash \n newline", 2 ** 53]
        kwargs = {"k": "v", "nested": {"a": [1, {"b": None}]}, "empty": {}, "list": []}
        self.check_result("celeriac.echo", {"args": args, "kwargs": kwargs}, "--args", json.dumps(args),
                          "--kwargs", json.dumps(kwargs))

    def test_noop(self):
        self.check_result("celeriac.noop", None)

    def test_failure_exits_1(self):
        rc, tid, out, err = call("celeriac.fail", "--args", '["kaboom"]', "--wait", "--timeout", "30")
        self.assertEqual(rc, 1, f"stdout {out!r} stderr {err!r}")
        self.assertIn("RuntimeError", err)
        self.assertIn("kaboom", err)
        self.assertEqual(out.strip(), "")
        meta = harness.result_meta(R, tid)
        self.assertEqual(meta["status"], "FAILURE")
        self.assertEqual(meta["result"]["exc_type"], "RuntimeError")
        self.assertEqual(meta["result"]["exc_message"], ["kaboom"])

    def test_type_error_exits_1(self):
        rc, tid, out, err = call("celeriac.add", "--args", '["a", 1]', "--wait", "--timeout", "30")
        self.assertEqual(rc, 1, f"stdout {out!r} stderr {err!r}")
        self.assertIn("TypeError", err)

    def test_unregistered_task_fails(self):
        # Celery 5.2's worker stores FAILURE/NotRegistered for a task name it
        # does not know, so --wait exits 1.
        rc, tid, out, err = call("celeriac.nope", "--wait", "--timeout", "30")
        self.assertEqual(rc, 1, f"stdout {out!r} stderr {err!r}")
        self.assertIn("NotRegistered", err)
        self.assertIn("celeriac.nope", err)
        WORKER.wait_log("Received unregistered task of type 'celeriac.nope'", 10)
        self.assertEqual(harness.result_meta(R, tid)["result"]["exc_module"], "celery.exceptions")

    def test_wait_timeout_exits_2(self):
        # Nobody consumes this queue: --wait gives up with exit code 2.
        queue = f"nobody-{uuid.uuid4().hex[:8]}"
        rc, tid, out, err = call("celeriac.noop", "-Q", queue, "--wait", "--timeout", "1")
        self.assertEqual(rc, 2, f"stdout {out!r} stderr {err!r}")
        self.assertIn("no result", err)
        R.delete(queue)


class Options(unittest.TestCase):
    def not_early(self, tid, not_before):
        done = harness.parse_date_done(harness.result_meta(R, tid)["date_done"])
        self.assertGreaterEqual(done, not_before - datetime.timedelta(milliseconds=10),
                                f"ran at {done}, before {not_before}")

    def test_countdown(self):
        t0 = harness.utcnow_naive()
        rc, tid, out, err = call("celeriac.add", "--args", "[1, 1]", "--countdown", "3", "--wait", "--timeout", "30")
        self.assertEqual((rc, out), (0, "2"), err)
        self.not_early(tid, t0 + datetime.timedelta(seconds=3))

    def test_eta(self):
        eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
        rc, tid, out, err = call("celeriac.add", "--args", "[2, 2]", "--eta", eta.isoformat(), "--wait",
                                 "--timeout", "30")
        self.assertEqual((rc, out), (0, "4"), err)
        self.not_early(tid, eta.replace(tzinfo=None))

    def test_expires_before_eta_is_revoked(self):
        rc, tid, out, err = call("celeriac.add", "--args", "[1, 2]", "--countdown", "3", "--expires", "1", "--wait",
                                 "--timeout", "30")
        self.assertEqual(rc, 1, f"stdout {out!r} stderr {err!r}")
        self.assertIn("REVOKED", err)
        meta = harness.result_meta(R, tid)
        self.assertEqual(meta["status"], "REVOKED")
        self.assertEqual(meta["result"]["exc_type"], "TaskRevokedError")

    def test_already_expired_is_revoked(self):
        rc, tid, out, err = call("celeriac.add", "--args", "[1, 2]", "--expires", "-5", "--wait", "--timeout", "30")
        self.assertEqual(rc, 1, f"stdout {out!r} stderr {err!r}")
        self.assertIn("REVOKED", err)
        self.assertEqual(harness.result_meta(R, tid)["status"], "REVOKED")

    def test_expires_in_the_future_runs(self):
        rc, tid, out, err = call("celeriac.add", "--args", "[1, 2]", "--expires", "60", "--wait", "--timeout", "30")
        self.assertEqual((rc, out), (0, "3"), err)

    def test_queue(self):
        rc, tid, out, err = call("celeriac.add", "--args", "[10, 5]", "-Q", "csv", "--wait", "--timeout", "30")
        self.assertEqual((rc, out), (0, "15"), err)
        WORKER.wait_log(f"Task celeriac.add[{tid}] succeeded", 10)

    def test_queue_not_consumed(self):
        queue = f"elsewhere-{uuid.uuid4().hex[:8]}"
        rc, tid, out, err = call("celeriac.add", "--args", "[1, 1]", "-Q", queue)
        self.assertEqual(rc, 0, err)
        self.assertEqual(R.llen(queue), 1)
        envelope = json.loads(R.lindex(queue, 0))
        self.assertEqual(envelope["headers"]["id"], tid)
        self.assertEqual(envelope["properties"]["delivery_info"], {"exchange": "", "routing_key": queue})
        self.assertIsNone(harness.result_meta(R, tid))
        R.delete(queue)

    def test_priority_order(self):
        """Queue with priorities 9, 5, 0 while no worker listens, then start a
        solo Celery worker: Redis serves the LOWEST number first."""
        queue = f"prio-{uuid.uuid4().hex[:8]}"
        sent = []
        for prio, label in [(9, "p9a"), (9, "p9b"), (5, "p5a"), (5, "p5b"), (0, "p0a"), (0, "p0b")]:
            rc, tid, out, err = call("celeriac.sleep", "--args", "[0.05]", "-Q", queue, "--priority", str(prio))
            self.assertEqual(rc, 0, err)
            sent.append((label, tid))
        self.assertEqual((R.llen(queue), R.llen(queue + "\x06\x163"), R.llen(queue + "\x06\x169")), (2, 2, 2))
        with PythonCeleryWorker(SERVER.url, queues=queue, pool="solo") as w:
            w.wait_ready()
            done = []
            for label, tid in sent:
                meta = harness.wait_meta(R, tid, timeout=30)
                self.assertEqual(meta["status"], "SUCCESS")
                done.append((harness.parse_date_done(meta["date_done"]), label))
        self.assertEqual([label for _, label in sorted(done)], ["p0a", "p0b", "p5a", "p5b", "p9a", "p9b"])


class ZZAfterAll(unittest.TestCase):
    def test_worker_healthy_and_nothing_left(self):
        self.assertTrue(WORKER.running(), "the Celery worker exited")
        log = WORKER.log()
        for bad in ("Received invalid task message", "ContentDisallowed", "Couldn't ack", "DecodeError",
                    "Unrecoverable error"):
            self.assertNotIn(bad, log)
        wait_until(lambda: harness.unacked_count(R) == 0, 20, message="unacked to drain")
        for q in ("celery", "csv"):
            self.assertEqual(R.llen(q), 0, q)


if __name__ == "__main__":
    harness.run("interop_celery_worker", globals())
