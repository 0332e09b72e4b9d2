"""Interop 3: messages held by a worker that is killed with SIGKILL are
restored by the OTHER implementation once the visibility timeout passes,
through kombu's `unacked`/`unacked_index` bookkeeping.

(a) celeriac holds them (one running, three prefetched) and is killed; a
    Celery worker restores them at start-up and runs them all.
(b) a Celery worker (prefork, acks_late) holds them and is killed; a
    celeriac worker restores them and runs them all.

Each direction first restores with a worker that consumes ANOTHER queue
(restore_visible covers every queue on the db), so the restored bytes can be
inspected in the list before a consuming worker runs them.

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_restore.py
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, PythonCeleryWorker, RedisServer, wait_until  # noqa: E402

VT = 5            # visibility timeout, seconds
LONG_SLEEP = 6    # the task running when the worker is killed
SERVER = None
R = None

# These tests are about a whole worker's death and kombu's restore: the
# worker keeps every message it prefetched (no fair-dispatch hand-back while
# a task runs), as kombu's layout is what is under test.
HOLD = ["--hand-back-after", "0"]


def setUpModule():
    global SERVER, R
    SERVER = RedisServer().start()
    R = SERVER.client()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def send(queue, name, args):
    return send_with(queue, name, args)


def send_with(queue, name, args, *flags):
    argv = [harness.celeriac_bin(), "call", name, "--args", json.dumps(args), "-Q", queue, "-b", SERVER.url, *flags]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, f"celeriac call failed: {p.stderr}"
    return p.stdout.split()[0]


def queue_four(queue):
    """One long task first, then three short ones, all queued before any
    worker runs: the worker fetches them together, runs the long one and
    holds the other three."""
    ids = [send(queue, "celeriac.sleep", [LONG_SLEEP])]
    ids += [send(queue, "celeriac.echo", ["restored", i]) for i in range(3)]
    assert R.llen(queue) == 4
    return ids


def unacked_task_ids():
    ids = set()
    for entry in R.hvals("unacked"):
        payload, exchange, routing_key = json.loads(entry)
        ids.add(payload["headers"]["id"])  # kombu stores the message itself, not a string
    return ids


def wait_past_visibility_timeout():
    """Waits until every unacked_index score is older than VT (+1 s margin)."""
    newest = max(score for _, score in R.zrange("unacked_index", 0, -1, withscores=True))
    delay = newest + VT + 1 - time.time()
    if delay > 0:
        time.sleep(delay)


def check_restored_list(test, queue, ids, oldest_first=True):
    """The restored messages are back in `queue`, flagged redelivered."""
    test.assertEqual(R.hlen("unacked"), 0, "unacked still holds messages after the restore")
    test.assertEqual(R.zcard("unacked_index"), 0)
    restored = [json.loads(m) for m in R.lrange(queue, 0, -1)]
    test.assertEqual(sorted(m["headers"]["id"] for m in restored), sorted(ids))
    for m in restored:
        test.assertIs(m["headers"].get("redelivered"), True, m["headers"])
        test.assertIs(m["properties"]["delivery_info"].get("redelivered"), True, m["properties"])
        test.assertEqual(m["properties"]["delivery_info"]["routing_key"], queue)
    if oldest_first:
        # restore_visible RPUSHes newest first (ZREVRANGEBYSCORE), so the
        # oldest delivery is served first again.
        test.assertEqual(json.loads(R.lindex(queue, -1))["headers"]["id"], ids[0])


def check_all_succeeded(test, ids):
    for tid in ids:
        meta = harness.wait_meta(R, tid, timeout=60)
        test.assertEqual(meta["status"], "SUCCESS", meta)
    for i, tid in enumerate(ids[1:]):
        test.assertEqual(harness.result_meta(R, tid)["result"], {"args": ["restored", i], "kwargs": {}})
    wait_until(lambda: R.hlen("unacked") == 0 and R.zcard("unacked_index") == 0, 20,
               message=lambda: f"unacked to be empty: {R.hkeys('unacked')}")


class Restore(unittest.TestCase):
    def setUp(self):
        R.flushdb()

    def test_a_celeriac_killed_celery_restores(self):
        queue = "restore-a"
        ids = queue_four(queue)
        w = CeleriacWorker(SERVER.url, queues=queue, concurrency=1,
                           extra=HOLD + ["--prefetch-multiplier", "4", "--visibility-timeout", str(VT)])
        with w:
            w.wait_ready(R)
            wait_until(lambda: R.llen(queue) == 0 and R.hlen("unacked") == 4, 20,
                       message="celeriac to hold all four messages")
            self.assertEqual(unacked_task_ids(), set(ids))
            pids = harness.process_group_members(w.pid)
            self.assertGreaterEqual(len(pids), 2, "expected the supervisor and its child")
            w.kill_group()
            wait_until(lambda: not harness.process_group_members(w.pid), 10, message="the killed worker to go")
            w.proc.wait(5)
        self.assertEqual(unacked_task_ids(), set(ids), "SIGKILL must leave the held messages in unacked")
        for tid in ids:
            self.assertIsNone(harness.result_meta(R, tid), "a task finished before the kill; hold longer")

        wait_past_visibility_timeout()
        # A Celery worker on another queue restores them (restore_visible at
        # start-up) without consuming: kombu parsed celeriac's entries.
        with PythonCeleryWorker(SERVER.url, queues="unrelated", visibility_timeout=VT) as restorer:
            restorer.wait_ready()
            wait_until(lambda: R.llen(queue) == 4, 20, message="kombu to restore the four messages")
        # celeriac fetched the four in one batch: same unacked_index score,
        # so kombu's restore order among them is arbitrary.
        check_restored_list(self, queue, ids, oldest_first=False)

        with PythonCeleryWorker(SERVER.url, queues=queue, pool="prefork", concurrency=1,
                                visibility_timeout=VT) as consumer:
            consumer.wait_ready()
            check_all_succeeded(self, ids)
            for tid in ids:  # the run was this worker's
                consumer.wait_log(f"[{tid}] succeeded", 10)

    def test_b_celery_killed_celeriac_restores(self):
        queue = "restore-b"
        ids = queue_four(queue)
        w = PythonCeleryWorker(SERVER.url, queues=queue, pool="prefork", concurrency=1, acks_late=True,
                               prefetch_multiplier=4)
        with w:
            w.wait_ready()
            wait_until(lambda: R.llen(queue) == 0 and R.hlen("unacked") == 4, 30,
                       message="Celery to hold all four messages")
            self.assertEqual(unacked_task_ids(), set(ids))
            self.assertGreaterEqual(len(harness.process_group_members(w.pid)), 2,
                                    "expected the Celery main process and its pool child")
            w.kill_group()
            wait_until(lambda: not harness.process_group_members(w.pid), 10, message="the killed worker to go")
            w.proc.wait(5)
        self.assertEqual(unacked_task_ids(), set(ids), "SIGKILL must leave the held messages in unacked")
        for tid in ids:
            self.assertIsNone(harness.result_meta(R, tid), "a task finished before the kill; hold longer")

        wait_past_visibility_timeout()
        # celeriac on another queue restores them: its child 1 runs
        # restore_visible at start.
        with CeleriacWorker(SERVER.url, queues="unrelated", concurrency=1,
                            extra=["--visibility-timeout", str(VT)]) as restorer:
            restorer.wait_ready(R)
            wait_until(lambda: R.llen(queue) == 4, 20, message="celeriac to restore the four messages")
            restorer.wait_log("restored 4 message(s)", 10)
        check_restored_list(self, queue, ids)

        with CeleriacWorker(SERVER.url, queues=queue, concurrency=1,
                            extra=["--visibility-timeout", str(VT)]) as consumer:
            consumer.wait_ready(R)
            check_all_succeeded(self, ids)
            for tid in ids:  # the run was this worker's
                consumer.wait_log(f"[{tid}] succeeded", 10)

    def test_c_celeriac_restores_directly_while_consuming(self):
        """The plain path of (b): the restoring celeriac worker consumes the
        queue itself and runs what it restored."""
        queue = "restore-c"
        ids = queue_four(queue)
        w = PythonCeleryWorker(SERVER.url, queues=queue, pool="prefork", concurrency=1, acks_late=True,
                               prefetch_multiplier=4)
        with w:
            w.wait_ready()
            wait_until(lambda: R.llen(queue) == 0 and R.hlen("unacked") == 4, 30,
                       message="Celery to hold all four messages")
            w.kill_group()
            wait_until(lambda: not harness.process_group_members(w.pid), 10, message="the killed worker to go")
            w.proc.wait(5)
        self.assertEqual(unacked_task_ids(), set(ids))
        wait_past_visibility_timeout()
        with CeleriacWorker(SERVER.url, queues=queue, concurrency=1,
                            extra=["--visibility-timeout", str(VT)]) as consumer:
            consumer.wait_ready(R)
            check_all_succeeded(self, ids)


class WarmShutdown(unittest.TestCase):
    def setUp(self):
        R.flushdb()

    def test_celeriac_warm_shutdown_hands_held_messages_to_celery(self):
        """SIGTERM: celeriac finishes the running task and puts what it holds
        (a prefetched task and a held countdown task) straight back on the
        queue, flagged redelivered, as Celery does; a Celery worker then runs
        them, the countdown one not before its time."""
        import datetime
        queue = "warm"
        w = CeleriacWorker(SERVER.url, queues=queue, concurrency=1, extra=HOLD + ["--prefetch-multiplier", "4"])
        with w:
            w.wait_ready(R)
            running = send(queue, "celeriac.sleep", [2])
            wait_until(lambda: R.hlen("unacked") == 1, 10, message="the sleep task to be fetched")
            t0 = harness.utcnow_naive()
            held_eta = send_with(queue, "celeriac.echo", ["eta"], "--countdown", "4")
            prefetched = send(queue, "celeriac.echo", ["prefetched"])
            wait_until(lambda: R.llen(queue) == 0 and R.hlen("unacked") == 3, 10,
                       message="celeriac to hold all three messages")
            self.assertEqual(w.stop(signal.SIGTERM, timeout=30), 0)
        self.assertEqual(R.hlen("unacked"), 0)
        back = {json.loads(m)["headers"]["id"]: json.loads(m) for m in R.lrange(queue, 0, -1)}
        # The sleep task started long before the SIGTERM (two `celeriac call`
        # runs later), so it finished; were it still unstarted it would be
        # put back like the others, which is also correct.
        if running not in back:
            self.assertEqual(harness.result_meta(R, running)["status"], "SUCCESS")
        self.assertEqual(set(back) - {running}, {held_eta, prefetched})
        for tid, m in back.items():
            self.assertIs(m["headers"].get("redelivered"), True)
            self.assertIsNone(harness.result_meta(R, tid))

        with PythonCeleryWorker(SERVER.url, queues=queue, pool="solo") as consumer:
            consumer.wait_ready()
            self.assertEqual(harness.wait_meta(R, running, timeout=30)["status"], "SUCCESS")
            self.assertEqual(harness.wait_meta(R, prefetched, timeout=30)["result"],
                             {"args": ["prefetched"], "kwargs": {}})
            meta = harness.wait_meta(R, held_eta, timeout=30)
            self.assertEqual(meta["result"], {"args": ["eta"], "kwargs": {}})
            self.assertGreaterEqual(harness.parse_date_done(meta["date_done"]),
                                    t0 + datetime.timedelta(seconds=4) - datetime.timedelta(milliseconds=10))
            wait_until(lambda: R.hlen("unacked") == 0, 10, message="unacked to be empty")


if __name__ == "__main__":
    harness.run("interop_restore", globals())
