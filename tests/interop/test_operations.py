"""Interop: Celery 5.2's own client drives issue 8's worker operations on a
`celeriac worker`: apply_async(time_limit=...), WorkerLostError as Celery
reports it, eta far in the future, and (where Celery has it) revoke.

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_operations.py
"""

import datetime
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, RedisServer, wait_until  # noqa: E402

GET_TIMEOUT = 30
SERVER = None
WORKER = None
R = None
celery_app = None


def setUpModule():
    global SERVER, WORKER, R, celery_app
    SERVER = RedisServer().start()
    R = SERVER.client()
    os.environ.update(harness.celery_env(SERVER.url))
    import celery_app as module
    celery_app = module
    WORKER = CeleriacWorker(SERVER.url, concurrency=2, extra=["--enable-test-tasks", "--max-crashes", "2"]).start()
    WORKER.wait_ready(R)


def tearDownModule():
    if celery_app is not None:
        celery_app.app.close()
    for p in (WORKER, SERVER):
        if p is not None:
            p.stop()


def app():
    return celery_app.app


class TimeLimits(unittest.TestCase):
    def test_hard_time_limit_from_apply_async(self):
        from billiard.exceptions import TimeLimitExceeded
        r = app().signature("celeriac.spin", args=(30,)).apply_async(time_limit=1)
        with self.assertRaises(TimeLimitExceeded):
            r.get(timeout=GET_TIMEOUT)
        self.assertEqual(r.state, "FAILURE")
        # The pool carries on.
        self.assertEqual(celery_app.add.delay(2, 2).get(timeout=GET_TIMEOUT), 4)


class Crashes(unittest.TestCase):
    def test_poison_task_fails_with_worker_lost_error(self):
        from billiard.exceptions import WorkerLostError
        r = app().send_task("celeriac.crash", args=["SIGKILL"])
        with self.assertRaises(WorkerLostError) as cm:
            r.get(timeout=GET_TIMEOUT)
        self.assertIn("Worker exited prematurely: signal 9 (SIGKILL)", str(cm.exception))
        self.assertEqual(celery_app.add.delay(3, 4).get(timeout=GET_TIMEOUT), 7)


class Delayed(unittest.TestCase):
    def test_countdown_beyond_the_horizon_waits_in_redis(self):
        r = celery_app.add.apply_async((1, 2), countdown=3600)
        wait_until(lambda: R.zcard("celeriac.delayed.celery") >= 1, 10, message="the message in the delayed set")
        self.assertEqual(R.hlen("unacked"), 0)
        self.assertEqual(r.state, "PENDING")
        # Make it due now: the worker moves it back and runs it.
        member = R.zrange("celeriac.delayed.celery", 0, 0)[0]
        R.zadd("celeriac.delayed.celery", {member: time.time() - 1})
        # Its eta is still an hour away: it is fetched, and deferred again.
        wait_until(lambda: R.zcard("celeriac.delayed.celery") == 1 and R.llen("celery") == 0, 10,
                   message="the message deferred again, its eta unchanged")
        self.assertEqual(r.state, "PENDING")


class Revoke(unittest.TestCase):
    def wait_state(self, r, state, timeout=15):
        try:
            wait_until(lambda: r.state == state, timeout, message=f"task {r.id} to be {state} (is {r.state})")
        except AssertionError as e:
            raise AssertionError(f"{e}\nworker log:\n{WORKER.log_tail()}") from None

    def test_revoke_not_started(self):
        r = celery_app.add.apply_async((1, 2), countdown=5)  # held by the worker for its eta
        wait_until(lambda: R.hlen("unacked") >= 1, 10, message="the worker to hold the eta task")
        r.revoke()
        self.wait_state(r, "REVOKED")
        self.assertEqual(harness.result_meta(R, r.id)["result"]["exc_message"], ["revoked"])
        time.sleep(5.5)
        self.assertEqual(r.state, "REVOKED", "it never ran")

    def test_revoke_terminate_running(self):
        r = app().send_task("celeriac.sleep", args=[30])
        wait_until(lambda: R.hlen("unacked") >= 1, 10, message="the sleep to start")
        time.sleep(0.5)
        r.revoke(terminate=True)  # SIGTERM: asked to stop, stops at its next check
        self.wait_state(r, "REVOKED", 10)
        self.assertEqual(harness.result_meta(R, r.id)["result"]["exc_message"], ["terminated"])
        self.assertEqual(celery_app.add.delay(1, 1).get(timeout=GET_TIMEOUT), 2)

    def test_revoke_terminate_sigkill_runaway(self):
        r = app().send_task("celeriac.spin", args=[60])  # ignores every request to stop
        wait_until(lambda: R.hlen("unacked") >= 1, 10, message="the spin to start")
        time.sleep(0.5)
        r.revoke(terminate=True, signal="SIGKILL")
        self.wait_state(r, "REVOKED", 10)
        self.assertEqual(celery_app.add.delay(2, 1).get(timeout=GET_TIMEOUT), 3)

    def test_celery_cli_control_revoke(self):
        r = celery_app.add.apply_async((5, 5), countdown=6)
        wait_until(lambda: R.hlen("unacked") >= 1, 10, message="the worker to hold the eta task")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run(["/usr/bin/python3", "-m", "celery", "-A", "celery_app", "control", "revoke", r.id],
                             capture_output=True, text=True, env=env, timeout=60)
        self.assertIn(WORKER.node, out.stdout + out.stderr)
        self.assertIn("flagged as revoked", out.stdout + out.stderr)
        self.wait_state(r, "REVOKED")
        self.assertIsNotNone(R.zscore("celeriac.revoked", r.id), "kept in Redis for workers started later")

    def test_revoked_before_a_worker_sees_it(self):
        import uuid
        tid = str(uuid.uuid4())
        out = subprocess.run([harness.celeriac_bin(), "revoke", tid, "-b", SERVER.url], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        time.sleep(1.5)  # workers load celeriac.revoked at start and every 30 s; the broadcast reached them now
        r = celery_app.add.apply_async((1, 1), task_id=tid)
        self.wait_state(r, "REVOKED")


if __name__ == "__main__":
    unittest.main(verbosity=2)
