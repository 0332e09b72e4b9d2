"""Interop: Celery's monitoring tools read a celeriac worker's events.

A celeriac worker started with -E on a private Redis publishes Celery 5.2's
events. Celery's own `celery events --dump` must show its tasks, and
`celery.events.state.State` fed by `app.events.Receiver` (what Flower and
`celery events` build on) must see the worker alive with the right counts
of succeeded, failed, retried and revoked tasks, its heartbeat's
`processed` figure, and the worker going offline when it stops (not when a
child is merely recycled).

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_events.py
"""

import collections
import datetime
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, Managed, wait_until  # noqa: E402

SERVER = None
R = None
celery_app = None  # imported once the server runs: it reads its broker URL at import


def setUpModule():
    global SERVER, R, celery_app
    SERVER, R, celery_app = harness.redis_with_celery_app()


def tearDownModule():
    if SERVER is not None:
        SERVER.stop()


def pattern_subscribers():
    return R.execute_command("PUBSUB", "NUMPAT")


class EventWatcher:
    """Celery's EventReceiver on a thread, feeding a State, counting event types."""

    def __init__(self):
        self.app = celery_app.app
        self.state = self.app.events.State()
        self.types = collections.Counter()
        self.by_task = collections.defaultdict(list)  # uuid -> event types, in arrival order
        self.clocks = collections.defaultdict(list)  # hostname -> clock of every event, in arrival order
        self.lock = threading.Lock()
        before = pattern_subscribers()
        self.conn = self.app.connection_for_read()
        self.receiver = self.app.events.Receiver(self.conn, handlers={"*": self.on_event})
        self.failure = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        wait_until(lambda: pattern_subscribers() > before, 10, message="the event receiver to subscribe")

    def on_event(self, event):
        with self.lock:
            self.state.event(event)
            self.types[event["type"]] += 1
            self.clocks[event.get("hostname")].append(event.get("clock"))
            if "uuid" in event:
                self.by_task[event["uuid"]].append(event["type"])

    def run(self):
        try:
            self.receiver.capture(limit=None, timeout=None, wakeup=False)
        except Exception as e:  # the connection closing at stop
            if not self.receiver.should_stop:
                self.failure = e

    def stop(self):
        self.receiver.should_stop = True
        self.thread.join(5)
        self.conn.close()

    def count(self, event_type):
        with self.lock:
            return self.types[event_type]

    def states(self, name=None):
        with self.lock:
            return collections.Counter(t.state for t in self.state.tasks.values() if name is None or t.name == name)

    def events_of(self, task_id):
        with self.lock:
            return list(self.by_task[task_id])

    def worker(self, node):
        with self.lock:
            return self.state.workers.get(node)


def start_worker(*extra, concurrency=2):
    w = CeleriacWorker(SERVER.url, concurrency=concurrency, extra=["-E", "--enable-test-tasks", *extra]).start()
    return w.wait_ready(R)


class EventsTest(unittest.TestCase):
    def test_celery_events_dump_shows_the_workers_tasks(self):
        with start_worker() as worker:
            dump = Managed("celery events --dump",
                           [harness.SYSTEM_PYTHON, "-m", "celery", "-A", "celery_app", "events", "--dump"],
                           env=dict(os.environ, PYTHONPATH=harness.HERE, PYTHONUNBUFFERED="1"),
                           cwd=harness.HERE).start()
            with dump:
                # Receiving: a heartbeat of the worker's came through (the
                # subscriber count would also count the worker's own).
                dump.wait_log("heartbeat: active=0", 20)
                ok = celery_app.add.delay(2, 3)
                bad = celery_app.fail.delay("boom")
                self.assertEqual(ok.get(timeout=20), 5)
                with self.assertRaises(RuntimeError):
                    bad.get(timeout=20)
                node = worker.node
                expected = [
                    f"task received: celeriac.add({ok.id}) args=(2, 3) kwargs={{}}",
                    f"task started: celeriac.add({ok.id})",
                    f"task succeeded: celeriac.add({ok.id}) args=(2, 3) kwargs={{}}",
                    "result=5, runtime=",
                    f"task failed: celeriac.fail({bad.id}) args=('boom',) kwargs={{}}",
                    "exception=RuntimeError('boom')",
                    "sw_ident=celeriac",
                ]
                for text in expected:
                    dump.wait_log(text, 20)
                # Every task line names the worker.
                for line in dump.log().splitlines():
                    if " task " in line:
                        self.assertTrue(line.startswith(f"{node} ["), line)

    def test_state_sees_the_worker_alive_with_its_task_counts(self):
        watcher = EventWatcher()
        try:
            with start_worker() as worker:
                node = worker.node
                wait_until(lambda: watcher.worker(node) and watcher.worker(node).alive, 20,
                           message="State to see the worker alive (worker-online/heartbeat)")
                adds = [celery_app.add.delay(i, i) for i in range(10)]
                fails = [celery_app.fail.delay(f"no {i}") for i in range(3)]
                retried = celery_app.app.send_task("celeriac.retry_until", args=[1])
                past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
                expired = celery_app.add.apply_async((1, 1), expires=past)
                held = celery_app.add.apply_async((7, 7), countdown=20)
                wait_until(lambda: held.id in watcher.state.tasks, 20, message="the eta task to be received")
                celery_app.app.control.revoke(held.id)

                self.assertEqual([a.get(timeout=30) for a in adds], [2 * i for i in range(10)])
                self.assertEqual(retried.get(timeout=30), 1)
                for f in fails:
                    with self.assertRaises(RuntimeError):
                        f.get(timeout=30)

                def counts():
                    return (watcher.states("celeriac.add")["SUCCESS"], watcher.states("celeriac.fail")["FAILURE"],
                            watcher.states()["REVOKED"], watcher.count("task-retried"),
                            watcher.states("celeriac.retry_until")["SUCCESS"])
                wait_until(lambda: counts() == (10, 3, 2, 1, 1), 20,
                           message=lambda: f"State's counts (add ok, fail, revoked, retried, retry ok): {counts()}")
                self.assertEqual(watcher.state.tasks[expired.id].state, "REVOKED")
                # Expired on arrival: task-revoked only, as Celery (no task-received).
                self.assertEqual(watcher.events_of(expired.id), ["task-revoked"])
                self.assertEqual(watcher.events_of(held.id), ["task-received", "task-revoked"])
                self.assertEqual(watcher.state.tasks[held.id].state, "REVOKED")
                failed = watcher.state.tasks[fails[0].id]
                self.assertEqual(failed.exception, "RuntimeError('no 0')")
                self.assertIn("RuntimeError: no 0", failed.traceback)
                done = watcher.state.tasks[adds[3].id]
                self.assertEqual(done.result, "6")
                self.assertGreaterEqual(done.runtime, 0)
                self.assertEqual(done.worker.hostname, node)
                self.assertEqual(watcher.state.tasks[retried.id].retries, 1)

                # The heartbeat's figures are the node's: 10 + 3 runs, and the
                # retried task ran twice; the expired and revoked ones never ran.
                wait_until(lambda: watcher.worker(node).processed == 15 and watcher.worker(node).active == 0, 10,
                           message=lambda: f"a heartbeat with processed=15, active=0 (got "
                                           f"{watcher.worker(node).processed}, {watcher.worker(node).active})")
                w = watcher.worker(node)
                self.assertTrue(w.alive)
                self.assertEqual(w.freq, 2.0)
                self.assertEqual(w.sw_ident, "celeriac")
                self.assertEqual(w.pid, worker.pid)
                self.assertEqual(watcher.count("worker-offline"), 0)
                # One Lamport clock for the node, as a Celery worker has: both
                # children's events never share a clock value.
                with watcher.lock:
                    clocks = list(watcher.clocks[node])
                self.assertGreater(len(clocks), 40)
                self.assertEqual(len(clocks), len(set(clocks)), "events of one node share a clock value")
            # Stopped (SIGTERM): worker-offline.
            wait_until(lambda: watcher.count("worker-offline") == 1, 10, message="worker-offline")
            self.assertFalse(watcher.worker(node).alive)
            self.assertIsNone(watcher.failure)
        finally:
            watcher.stop()

    def test_outcomes_the_supervisor_decides_send_celerys_events(self):
        # The child is gone at a hard time limit or a crash, so the
        # supervisor sends what Celery's worker would: task-failed with
        # TimeLimitExceeded, task-rejected (requeue) for a redelivery, and
        # task-failed with WorkerLostError once the message is given up.
        watcher = EventWatcher()
        try:
            with start_worker("--max-crashes", "2") as worker:
                wait_until(lambda: watcher.worker(worker.node) and watcher.worker(worker.node).alive, 20,
                           message="State to see the worker alive")
                app = celery_app.app
                spun = app.signature("celeriac.spin", args=(30,)).apply_async(time_limit=1)
                crashed = app.send_task("celeriac.crash", args=["SIGKILL"])
                for r in (spun, crashed):
                    with self.assertRaises(Exception):
                        r.get(timeout=30)

                def final(task_id):
                    t = watcher.state.tasks.get(task_id)
                    return t.state if t else None
                wait_until(lambda: final(spun.id) == "FAILURE" and final(crashed.id) == "FAILURE", 20,
                           message=lambda: f"FAILURE in State for both (spin: {watcher.events_of(spun.id)}, "
                                           f"crash: {watcher.events_of(crashed.id)})")
                self.assertEqual(watcher.state.tasks[spun.id].exception, "TimeLimitExceeded(1.0)")
                self.assertIn("TimeLimitExceeded", watcher.state.tasks[spun.id].traceback)
                self.assertEqual(watcher.events_of(spun.id), ["task-received", "task-started", "task-failed"])
                # Died twice under it (--max-crashes 2): redelivered once, then
                # dead-lettered with a FAILURE. (The child's own received and
                # started events may die with it unsent: they are not checked.)
                crash_events = [e for e in watcher.events_of(crashed.id) if e in ("task-rejected", "task-failed")]
                self.assertEqual(crash_events, ["task-rejected", "task-failed"])
                self.assertEqual(watcher.state.tasks[crashed.id].exception,
                                 "WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL)')")
                # The events name the node, and the pool carries on.
                self.assertEqual(watcher.state.tasks[crashed.id].worker.hostname, worker.node)
                self.assertEqual(celery_app.add.delay(1, 1).get(timeout=20), 2)
            self.assertIsNone(watcher.failure)
        finally:
            watcher.stop()

    def test_a_recycled_child_does_not_take_the_node_offline(self):
        watcher = EventWatcher()
        try:
            with start_worker("--max-tasks-per-child", "3", concurrency=1) as worker:
                wait_until(lambda: watcher.count("worker-online") >= 1, 20, message="worker-online")
                results = [celery_app.add.delay(i, 1) for i in range(7)]
                self.assertEqual([r.get(timeout=30) for r in results], [i + 1 for i in range(7)])
                wait_until(lambda: watcher.states("celeriac.add")["SUCCESS"] == 7, 20, message="7 task-succeeded")
                # Child 1 was replaced twice; each replacement announces the
                # node again, none says it went offline.
                time.sleep(2.5)
                self.assertEqual(watcher.count("worker-offline"), 0)
                self.assertTrue(watcher.worker(worker.node).alive)
                # `processed` is the node's, not the current first child's.
                wait_until(lambda: watcher.worker(worker.node).processed == 7, 10,
                           message=lambda: f"a heartbeat with processed=7 (got {watcher.worker(worker.node).processed})")
        finally:
            watcher.stop()

    def test_without_events_only_worker_events_until_enable_events(self):
        watcher = EventWatcher()
        try:
            w = CeleriacWorker(SERVER.url, concurrency=1).start()
            with w.wait_ready(R):
                wait_until(lambda: watcher.worker(w.node) and watcher.worker(w.node).alive, 20,
                           message="worker-online without -E")
                self.assertEqual(celery_app.add.delay(1, 2).get(timeout=20), 3)
                wait_until(lambda: watcher.count("worker-heartbeat") >= 1, 10, message="a heartbeat")
                self.assertEqual(sum(n for t, n in watcher.types.items() if t.startswith("task-")), 0)
                # Remote enable_events turns task events on in every child.
                control = celery_app.app.control
                self.assertEqual(control.enable_events(destination=[w.node], reply=True),
                                 [{w.node: {"ok": "task events enabled"}}])
                later = celery_app.add.delay(2, 2)
                self.assertEqual(later.get(timeout=20), 4)
                wait_until(lambda: watcher.states("celeriac.add")["SUCCESS"] == 1, 10,
                           message="task events after enable_events")
                self.assertEqual(watcher.state.tasks[later.id].name, "celeriac.add")
            wait_until(lambda: watcher.count("worker-offline") == 1, 10, message="worker-offline")
        finally:
            watcher.stop()


if __name__ == "__main__":
    harness.run("interop_events", globals())
