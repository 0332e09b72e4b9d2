"""Interop 1: a real Celery 5.2 client (send_task, apply_async, canvas) sends
celeriac's built-in tasks to a `celeriac worker`; the results are read back
with Celery's own AsyncResult.get().

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_celery_client.py
"""

import datetime
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, RedisServer, wait_until  # noqa: E402

GET_TIMEOUT = 30
SERVER = None
WORKER = None
R = None
celery_app = None  # imported once Redis runs: it reads its URLs from the environment


def setUpModule():
    global SERVER, WORKER, R, celery_app
    SERVER = RedisServer().start()
    R = SERVER.client()
    os.environ.update(harness.celery_env(SERVER.url))
    import celery_app as module
    celery_app = module
    WORKER = CeleriacWorker(SERVER.url, queues="celery,csv", concurrency=2).start()
    WORKER.wait_ready(R)


def tearDownModule():
    if celery_app is not None:
        celery_app.app.close()
    for p in (WORKER, SERVER):
        if p is not None:
            p.stop()


def app():
    return celery_app.app


class Basics(unittest.TestCase):
    def test_send_task_args(self):
        r = app().send_task("celeriac.add", args=[2, 3])
        self.assertEqual(r.get(timeout=GET_TIMEOUT), 5)
        self.assertEqual(r.state, "SUCCESS")

    def test_send_task_kwargs(self):
        r = app().send_task("celeriac.add", kwargs={"x": "con", "y": "cat"})
        self.assertEqual(r.get(timeout=GET_TIMEOUT), "concat")
        r = app().send_task("celeriac.add", args=[1.5], kwargs={"y": 2})
        self.assertEqual(r.get(timeout=GET_TIMEOUT), 3.5)

    def test_echo_round_trips_json_values(self):
        args = [1, "two", [3, [3.5]], {"four": 4}, None, True, False, 2.5, -7, "h\u00e9llo \u2713 \U0001F600",
                "quote\" back\\slash \n newline", 2 ** 53]
        kwargs = {"k": "v", "nested": {"a": [1, {"b": None}]}, "empty": {}, "list": []}
        r = app().send_task("celeriac.echo", args=args, kwargs=kwargs)
        self.assertEqual(r.get(timeout=GET_TIMEOUT), {"args": args, "kwargs": kwargs})

    def test_signature_apply_async_and_delay(self):
        self.assertEqual(celery_app.add.s(4, 5).apply_async().get(timeout=GET_TIMEOUT), 9)
        sig = app().signature("celeriac.echo", args=(1,), kwargs={"a": 2})
        self.assertEqual(sig.apply_async().get(timeout=GET_TIMEOUT), {"args": [1], "kwargs": {"a": 2}})
        self.assertEqual(celery_app.add.delay(20, 22).get(timeout=GET_TIMEOUT), 42)
        self.assertEqual(celery_app.add.apply_async(kwargs={"x": [1], "y": [2]}).get(timeout=GET_TIMEOUT), [1, 2])
        self.assertIsNone(celery_app.noop.delay().get(timeout=GET_TIMEOUT))

    def test_fixed_task_id(self):
        tid = str(uuid.uuid4())
        r = celery_app.add.apply_async((1, 1), task_id=tid)
        self.assertEqual(r.id, tid)
        self.assertEqual(r.get(timeout=GET_TIMEOUT), 2)
        meta = harness.result_meta(R, tid)
        self.assertEqual(meta["task_id"], tid)
        self.assertEqual(meta["status"], "SUCCESS")


class Timing(unittest.TestCase):
    """countdown/eta: the task must not run before its time. Checked with the
    stored date_done against the send time, not with timed waits."""

    def check_not_early(self, r, not_before, expected):
        self.assertFalse(r.ready(), "a task with a 3 s delay was ready right after it was sent")
        self.assertEqual(r.get(timeout=GET_TIMEOUT), expected)
        done = r.date_done
        if isinstance(done, str):
            done = harness.parse_date_done(done)
        done = done.replace(tzinfo=None)
        self.assertGreaterEqual(done, not_before - datetime.timedelta(milliseconds=10),
                                f"ran at {done}, before its time {not_before}")

    def test_countdown(self):
        t0 = harness.utcnow_naive()
        r = celery_app.add.apply_async((2, 2), countdown=3)
        self.check_not_early(r, t0 + datetime.timedelta(seconds=3), 4)

    def test_eta_utc(self):
        eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
        r = celery_app.add.apply_async((3, 3), eta=eta)
        self.check_not_early(r, eta.replace(tzinfo=None), 6)

    def test_eta_with_offset(self):
        # An aware eta in +02:00 goes on the wire with that offset.
        eta_utc = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)
        eta = eta_utc.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
        r = celery_app.add.apply_async((4, 4), eta=eta)
        self.check_not_early(r, eta_utc.replace(tzinfo=None), 8)

    def test_expires_in_the_past_is_revoked(self):
        from celery.exceptions import TaskRevokedError
        past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=60)
        r = celery_app.add.apply_async((1, 2), expires=past)
        with self.assertRaises(TaskRevokedError):
            r.get(timeout=GET_TIMEOUT)
        self.assertEqual(r.state, "REVOKED")
        meta = harness.result_meta(R, r.id)
        self.assertEqual(meta["result"]["exc_type"], "TaskRevokedError")
        self.assertEqual(meta["result"]["exc_module"], "celery.exceptions")

    def test_expires_in_the_future_runs(self):
        r = celery_app.add.apply_async((1, 2), expires=60)
        self.assertEqual(r.get(timeout=GET_TIMEOUT), 3)

    def test_expires_before_eta_is_revoked(self):
        from celery.exceptions import TaskRevokedError
        r = celery_app.add.apply_async((1, 2), countdown=3, expires=1)
        with self.assertRaises(TaskRevokedError):
            r.get(timeout=GET_TIMEOUT)
        self.assertEqual(r.state, "REVOKED")


class Routing(unittest.TestCase):
    def test_queue_consumed_by_worker(self):
        r = app().send_task("celeriac.add", args=[10, 5], queue="csv")
        self.assertEqual(r.get(timeout=GET_TIMEOUT), 15)
        r = celery_app.echo.apply_async(("q",), queue="csv")
        self.assertEqual(r.get(timeout=GET_TIMEOUT), {"args": ["q"], "kwargs": {}})

    def test_queue_not_consumed_until_a_worker_listens(self):
        queue = f"elsewhere-{uuid.uuid4().hex[:8]}"
        r = app().send_task("celeriac.add", args=[7, 7], queue=queue)
        wait_until(lambda: R.llen(queue) == 1, 10, message=f"the message in list {queue}")
        self.assertFalse(r.ready())
        with CeleriacWorker(SERVER.url, queues=queue, concurrency=1) as w:
            w.wait_ready(R)
            self.assertEqual(r.get(timeout=GET_TIMEOUT), 14)
        self.assertEqual(R.llen(queue), 0)

    def test_priority_order(self):
        """kombu's Redis transport serves the LOWEST priority number first
        (steps 0/3/6/9 are separate lists). Queue everything with no worker
        listening, then start one single-child worker: it must run them in
        priority order, FIFO within one priority."""
        queue = f"prio-{uuid.uuid4().hex[:8]}"
        sent = []  # (label, AsyncResult)
        for prio, label in [(9, "p9a"), (9, "p9b"), (5, "p5a"), (5, "p5b"), (0, "p0a"), (0, "p0b")]:
            # A short sleep keeps date_done values well apart.
            sent.append((label, celery_app.sleep.apply_async((0.05,), queue=queue, priority=prio)))
        wait_until(lambda: R.llen(queue) == 2 and R.llen(queue + "\x06\x163") == 2 and
                   R.llen(queue + "\x06\x169") == 2, 10, message="the priority lists to be filled")
        with CeleriacWorker(SERVER.url, queues=queue, concurrency=1) as w:
            w.wait_ready(R)
            done = []
            for label, r in sent:
                self.assertIsNone(r.get(timeout=GET_TIMEOUT))
                done.append((harness.parse_date_done(harness.result_meta(R, r.id)["date_done"]), label))
        order = [label for _, label in sorted(done)]
        self.assertEqual(order, ["p0a", "p0b", "p5a", "p5b", "p9a", "p9b"])


class Canvas(unittest.TestCase):
    def test_chain(self):
        res = (celery_app.add.s(2, 2) | celery_app.add.s(4) | celery_app.add.s(8)).apply_async()
        self.assertEqual(res.get(timeout=GET_TIMEOUT), 16)
        self.assertEqual(res.parent.get(timeout=GET_TIMEOUT), 8)
        self.assertEqual(res.parent.parent.get(timeout=GET_TIMEOUT), 4)
        self.assertIsNone(res.parent.parent.parent)
        # Each step's meta names the next step as its child, and the next
        # steps carry parent_id (Celery stores it when the request has one).
        first, second = res.parent.parent, res.parent
        self.assertEqual([c.id for c in first.children], [second.id])
        self.assertEqual([c.id for c in second.children], [res.id])
        self.assertEqual(harness.result_meta(R, second.id).get("parent_id"), first.id)
        self.assertEqual(harness.result_meta(R, res.id).get("parent_id"), second.id)

    def test_chain_with_kwargs_and_immutable_step(self):
        res = (celery_app.add.s(1, y=1) | celery_app.echo.si("fixed") | celery_app.echo.s(k="v")).apply_async()
        self.assertEqual(res.get(timeout=GET_TIMEOUT),
                         {"args": [{"args": ["fixed"], "kwargs": {}}], "kwargs": {"k": "v"}})

    def test_link(self):
        cb_id = str(uuid.uuid4())
        parent = celery_app.add.apply_async((2, 2), link=celery_app.echo.s("extra").set(task_id=cb_id))
        self.assertEqual(parent.get(timeout=GET_TIMEOUT), 4)
        cb = app().AsyncResult(cb_id)
        self.assertEqual(cb.get(timeout=GET_TIMEOUT), {"args": [4, "extra"], "kwargs": {}})
        self.assertEqual(harness.result_meta(R, cb_id).get("parent_id"), parent.id)

    def test_link_immutable(self):
        cb = celery_app.echo.si("only")
        cb_id = cb.freeze().id  # freeze() fixes the callback's task id
        parent = celery_app.add.apply_async((1, 2), link=cb)
        self.assertEqual(parent.get(timeout=GET_TIMEOUT), 3)
        self.assertEqual(app().AsyncResult(cb_id).get(timeout=GET_TIMEOUT), {"args": ["only"], "kwargs": {}})

    def test_link_error(self):
        eb_id = str(uuid.uuid4())
        r = celery_app.fail.apply_async(("boom",), link_error=celery_app.echo.s("eb").set(task_id=eb_id))
        with self.assertRaises(RuntimeError):
            r.get(timeout=GET_TIMEOUT)
        # Celery 5.2 sends an errback it cannot call in-process as a task
        # with args (failed_task_id,) + signature args.
        self.assertEqual(app().AsyncResult(eb_id).get(timeout=GET_TIMEOUT), {"args": [r.id, "eb"], "kwargs": {}})

    def test_link_not_called_on_failure_and_link_error_not_on_success(self):
        cb_id, eb_id = str(uuid.uuid4()), str(uuid.uuid4())
        ok = celery_app.add.apply_async((1, 1), link_error=celery_app.echo.s().set(task_id=eb_id))
        bad = celery_app.fail.apply_async(("x",), link=celery_app.echo.s().set(task_id=cb_id))
        self.assertEqual(ok.get(timeout=GET_TIMEOUT), 2)
        with self.assertRaises(RuntimeError):
            bad.get(timeout=GET_TIMEOUT)
        # Give a wrongly sent follow-up time to run before looking.
        marker = celery_app.noop.delay()
        marker.get(timeout=GET_TIMEOUT)
        wait_until(lambda: R.llen("celery") == 0 and harness.unacked_count(R) == 0, 10,
                   message="the worker to be idle")
        self.assertIsNone(harness.result_meta(R, cb_id))
        self.assertIsNone(harness.result_meta(R, eb_id))


    def test_group(self):
        from celery import group
        g = group(celery_app.add.s(1, 1), celery_app.add.s(2, 2), celery_app.echo.s("g")).apply_async()
        self.assertEqual(g.get(timeout=GET_TIMEOUT), [2, 4, {"args": ["g"], "kwargs": {}}])
        for member in g.results:
            self.assertEqual(harness.result_meta(R, member.id).get("group_id"), g.id)

    def test_chord(self):
        """The header counts on the Redis backend's keys and the last member
        sends the body (every shape: test_chords.py)."""
        from celery import chord
        c = chord([celery_app.add.s(1, 1), celery_app.add.s(2, 2)], celery_app.echo.s("body")).apply_async()
        self.assertEqual(c.get(timeout=8), {"args": [[2, 4], "body"], "kwargs": {}})


class Failures(unittest.TestCase):
    def test_failure_raises(self):
        r = celery_app.fail.delay("kaboom")
        with self.assertRaises(RuntimeError) as cm:
            r.get(timeout=GET_TIMEOUT)
        self.assertEqual(str(cm.exception), "kaboom")
        self.assertEqual(r.state, "FAILURE")
        self.assertIn("RuntimeError", r.traceback or "")

    def test_failure_without_propagate(self):
        r = app().send_task("celeriac.fail", args=["quiet"])
        exc = r.get(timeout=GET_TIMEOUT, propagate=False)
        self.assertIsInstance(exc, RuntimeError)
        self.assertEqual(exc.args, ("quiet",))
        self.assertTrue(r.failed())

    def test_type_error_from_bad_operands(self):
        r = celery_app.add.delay("a", 1)
        with self.assertRaises(TypeError):
            r.get(timeout=GET_TIMEOUT)

    def test_unknown_task(self):
        from celery.exceptions import NotRegistered
        r = app().send_task("celeriac.nope", args=[1])
        with self.assertRaises(NotRegistered) as cm:
            r.get(timeout=GET_TIMEOUT)
        self.assertIn("celeriac.nope", str(cm.exception))
        entries = [e for e in harness.dead_letters(R) if e.get("task_id") == r.id or r.id in e.get("raw", "")]
        self.assertEqual(len(entries), 1, f"dead letters: {harness.dead_letters(R)}")
        self.assertEqual(entries[0]["reason"], "unknown_task")
        self.assertEqual(entries[0]["queue"], "celery")

    def test_ignore_result(self):
        r = app().send_task("celeriac.add", args=[1, 2], ignore_result=True)
        WORKER.wait_log(f"Task celeriac.add[{r.id}] succeeded", GET_TIMEOUT)
        wait_until(lambda: harness.unacked_count(R) == 0, 10, message="the message to be acked")
        self.assertIsNone(R.get(f"celery-task-meta-{r.id}"))
        r2 = celery_app.add.apply_async((1, 2), ignore_result=True)
        WORKER.wait_log(f"Task celeriac.add[{r2.id}] succeeded", GET_TIMEOUT)
        wait_until(lambda: harness.unacked_count(R) == 0, 10, message="the message to be acked")
        self.assertIsNone(R.get(f"celery-task-meta-{r2.id}"))


class ZZAfterAll(unittest.TestCase):
    def test_nothing_left_behind(self):
        wait_until(lambda: harness.unacked_count(R) == 0 and R.zcard("unacked_index") == 0, 20,
                   message=lambda: f"unacked to drain: {R.hkeys('unacked')}")
        for q in ("celery", "csv"):
            self.assertEqual(R.llen(q), 0, q)
        self.assertTrue(WORKER.running(), "the worker exited")


if __name__ == "__main__":
    harness.run("interop_celery_client", globals())
