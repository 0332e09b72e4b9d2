"""Interop: Celery 5.2's own client drives issue 8's worker operations on a
`celeriac worker`: apply_async(time_limit=...), WorkerLostError as Celery
reports it, eta far in the future, and (where Celery has it) revoke.

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_operations.py
"""

import datetime
import os
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
