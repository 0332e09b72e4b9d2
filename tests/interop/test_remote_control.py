"""Interop: Celery 5.2's remote control (`inspect` and `control`, client and
CLI) against a `celeriac worker`, with a Celery worker on the same Redis
answering the same broadcasts.

Each node must answer once (Celery's client keys replies by node name),
within Celery's default 1 s timeout even while every child runs a task,
with the shapes Celery's worker gives (celery/worker/control.py).

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_remote_control.py
"""

import datetime
import os
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, PythonCeleryWorker, RedisServer, children_of, wait_until  # noqa: E402

GET_TIMEOUT = 30
SERVER = None
WORKER = None
PY_WORKER = None
R = None
celery_app = None
NODE = "cc@interop"
PY_NODE = "py@interop"


def setUpModule():
    global SERVER, WORKER, PY_WORKER, R, celery_app
    SERVER = RedisServer().start()
    R = SERVER.client()
    os.environ.update(harness.celery_env(SERVER.url))
    import celery_app as module
    celery_app = module
    # --enable-test-tasks: celeriac.spin, to give a child CPU time to lose.
    WORKER = CeleriacWorker(SERVER.url, concurrency=2, name=NODE, extra=["--enable-test-tasks"]).start()
    # The Celery worker consumes another queue: it answers broadcasts but
    # takes none of the celeriac worker's tasks.
    PY_WORKER = PythonCeleryWorker(SERVER.url, queues="pyq", name=PY_NODE).start()
    WORKER.wait_ready(R)
    PY_WORKER.wait_ready()


def tearDownModule():
    if celery_app is not None:
        celery_app.app.close()
    for p in (WORKER, PY_WORKER, SERVER):
        if p is not None:
            p.stop()


def app():
    return celery_app.app


def inspect(dest=(NODE,), timeout=1.0):
    return app().control.inspect(destination=list(dest) if dest else None, timeout=timeout)


def only(reply, node=NODE):
    """The one node's reply; fails if it did not answer."""
    if not reply or node not in reply:
        raise AssertionError(f"no reply from {node}: {reply!r}")
    return reply[node]


def celery_cli(*args):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run(["/usr/bin/python3", "-m", "celery", "-A", "celery_app", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def child_pids():
    return sorted(children_of(WORKER.pid))


class Broadcast(unittest.TestCase):
    def test_ping_reaches_both_kinds_of_worker_once_each(self):
        replies = app().control.ping(timeout=1.0)
        nodes = [name for reply in replies for name in reply]
        self.assertEqual(sorted(nodes), sorted([NODE, PY_NODE]), "one reply per node, no duplicates")
        for reply in replies:
            self.assertEqual(list(reply.values())[0], {"ok": "pong"})

    def test_inspect_without_destination_collects_both(self):
        registered = inspect(dest=None).registered()
        self.assertIn(NODE, registered)
        self.assertIn(PY_NODE, registered)
        self.assertIn("celeriac.add", registered[NODE])
        self.assertEqual(registered[NODE], sorted(registered[NODE]))

    def test_destination_is_honoured(self):
        self.assertEqual(list(inspect(dest=(PY_NODE,)).ping().keys()), [PY_NODE])
        self.assertEqual(list(inspect().ping().keys()), [NODE])

    def test_unknown_command_gets_an_error_reply(self):
        replies = app().control.broadcast("no_such_command", reply=True, timeout=1.0, destination=[NODE])
        self.assertEqual(replies, [{NODE: {"error": "KeyError('no_such_command')"}}])


class WhileBusy(unittest.TestCase):
    """Both children run a task: the node still answers at once, and lists
    what runs, what it holds, and what waits for its eta."""

    def test_active_scheduled_query_task(self):
        sleeps = [app().send_task("celeriac.sleep", args=[4]) for _ in range(2)]
        eta = celery_app.add.apply_async((1, 2), countdown=20)
        running = lambda: (lambda a: a if a and len(a.get(NODE, [])) == 2 else None)(inspect().active())  # noqa: E731
        active = only(wait_until(running, 15, interval=0.2, message="both sleeps to run"))
        self.assertEqual(sorted(t["id"] for t in active), sorted(s.id for s in sleeps))
        pids = child_pids()
        for t in active:
            self.assertEqual(t["name"], "celeriac.sleep")
            self.assertEqual(t["type"], "celeriac.sleep")
            self.assertEqual(t["args"], [4])
            self.assertEqual(t["kwargs"], {})
            self.assertEqual(t["hostname"], NODE)
            self.assertIn(t["worker_pid"], pids)
            self.assertAlmostEqual(t["time_start"], time.time(), delta=10)
            self.assertFalse(t["acknowledged"], "acks_late: acked when done")
            self.assertEqual(t["delivery_info"], {"exchange": "", "routing_key": "celery", "priority": 0,
                                                  "redelivered": None})
        # Every child is busy, and still the node answers within 1 s. With
        # both children busy no child waits on the main list: the eta
        # message is held once a child's once-a-second fetch takes it.
        held = lambda: (lambda s: s if s and s.get(NODE) else None)(inspect().scheduled())  # noqa: E731
        scheduled = only(wait_until(held, 5, interval=0.2, message="the eta task to be held"))
        self.assertEqual([s["request"]["id"] for s in scheduled], [eta.id])
        self.assertEqual(scheduled[0]["priority"], 6)
        due = datetime.datetime.fromisoformat(scheduled[0]["eta"]).timestamp()
        self.assertAlmostEqual(due, time.time() + 20, delta=10)
        self.assertIsNone(scheduled[0]["request"]["worker_pid"])
        q = only(inspect().query_task(sleeps[0].id, eta.id))
        self.assertEqual(q[sleeps[0].id][0], "active")
        self.assertEqual(q[eta.id][0], "reserved")
        self.assertEqual(only(inspect().reserved()), [], "nothing else is held")
        for s in sleeps:
            s.get(timeout=GET_TIMEOUT)
        eta.revoke()
        wait_until(lambda: eta.state == "REVOKED", 10, message="the eta task revoked")


class Stats(unittest.TestCase):
    def test_stats_counts_tasks_and_describes_the_pool(self):
        before = only(inspect().stats())["total"].get("celeriac.echo", 0)
        for i in range(7):
            app().send_task("celeriac.echo", args=[i]).get(timeout=GET_TIMEOUT)
        stats = only(inspect().stats())
        self.assertEqual(stats["total"]["celeriac.echo"], before + 7)
        self.assertEqual(stats["pid"], WORKER.pid)
        self.assertEqual(sorted(stats["pool"]["processes"]), child_pids())
        self.assertEqual(stats["pool"]["max-concurrency"], 2)
        self.assertEqual(stats["pool"]["max-tasks-per-child"], "N/A")
        self.assertEqual(stats["broker"]["port"], SERVER.port)
        self.assertEqual(stats["broker"]["transport"], "redis")
        self.assertEqual(stats["prefetch_count"], 8)
        self.assertGreater(stats["rusage"]["utime"] + stats["rusage"]["stime"], 0)
        # Whole seconds since the node started, rounded (0 in its first half second).
        self.assertIsInstance(stats["uptime"], int)
        self.assertGreaterEqual(stats["uptime"], 0)
        self.assertLessEqual(stats["uptime"], round(time.time() - WORKER.started_at) + 1)
        self.assertTrue(stats["clock"].isdigit())
        # The fields Flower reads from the same reply.
        for key in ("total", "pool", "broker", "prefetch_count", "rusage"):
            self.assertIn(key, stats)


    def test_stats_total_keeps_what_replaced_children_ran(self):
        """Celery counts every task its worker accepted since it started:
        children killed and replaced take none of the node's count with
        them (it used to be summed over the live children only). Nor do
        they take their CPU time out of rusage: its counters only grow."""
        before = only(inspect().stats())["total"].get("celeriac.echo", 0)
        for i in range(5):
            app().send_task("celeriac.echo", args=[i]).get(timeout=GET_TIMEOUT)
        # Spins for 0.5 s of wall time: less CPU time on a busy machine, but
        # far more than a replacement child uses to start.
        app().send_task("celeriac.spin", args=[0.5]).get(timeout=GET_TIMEOUT)
        used = only(inspect().stats())["rusage"]
        old = child_pids()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: len(child_pids()) == 2 and not set(child_pids()) & set(old), 30,
                   message="both children replaced")
        # A replacement answers once it listens on the pidbox again.
        replies = {}
        wait_until(lambda: replies.update(inspect().stats() or {}) or NODE in replies, 30,
                   message="the node to answer inspect stats again")
        stats = replies[NODE]
        self.assertEqual(stats["total"]["celeriac.echo"], before + 5)
        self.assertEqual(sorted(stats["pool"]["processes"]), child_pids())
        for key in ("utime", "stime", "minflt", "nvcsw"):
            self.assertGreaterEqual(stats["rusage"][key], used[key], key)


class NodeFacts(unittest.TestCase):
    def test_active_queues(self):
        queues = only(inspect().active_queues())
        self.assertEqual([q["name"] for q in queues], ["celery"])
        self.assertEqual(queues[0]["exchange"]["type"], "direct")
        self.assertEqual(queues[0]["routing_key"], "celery")

    def test_conf_report_clock(self):
        conf = only(inspect().conf())
        self.assertEqual(conf["broker_url"], SERVER.url)
        self.assertEqual(conf["worker_concurrency"], 2)
        report = only(inspect().report())
        self.assertIn("software -> celeriac:", report["ok"])
        self.assertIn("broker_url:", report["ok"])
        self.assertIsInstance(only(inspect().clock())["clock"], int)

    def test_revoked_lists_revoked_ids(self):
        tid = str(uuid.uuid4())
        app().control.revoke(tid)
        wait_until(lambda: tid in (only(inspect().revoked()) or []), 5, interval=0.2,
                   message="the revoked id listed")

    def test_hello_exchanges_revoked_ids_as_celery_mingle_does(self):
        theirs = str(uuid.uuid4())
        ours = str(uuid.uuid4())
        app().control.revoke(ours)
        time.sleep(0.3)
        reply = only(inspect().hello("other@node", {theirs: time.time()}))
        self.assertIn(ours, reply["revoked"])
        self.assertIsInstance(reply["revoked"][ours], float)
        self.assertIsInstance(reply["clock"], int)
        wait_until(lambda: R.zscore("celeriac.revoked", theirs) is not None, 5,
                   message="their revoked id kept for the whole cluster")


class Control(unittest.TestCase):
    def test_rate_limit_is_cluster_wide(self):
        replies = app().control.rate_limit("celeriac.echo", "100/m", destination=[NODE], reply=True)
        self.assertEqual(replies, [{NODE: {"ok": "new rate limit set successfully"}}])
        self.assertEqual(R.hget("celeriac.rate_limits", "celeriac.echo"), "100/m")
        self.assertEqual(app().control.rate_limit("no.such.task", "1/s", destination=[NODE], reply=True),
                         [{NODE: {"error": "unknown task"}}])
        bad = app().control.rate_limit("celeriac.echo", "10/x", destination=[NODE], reply=True)
        self.assertTrue(bad[0][NODE]["error"].startswith("Invalid rate limit string:"), bad)
        app().control.rate_limit("celeriac.echo", "0", destination=[NODE], reply=True)

    def test_time_limit_applies_to_the_next_runs(self):
        from billiard.exceptions import TimeLimitExceeded
        replies = app().control.time_limit("celeriac.sleep", soft=None, hard=1, destination=[NODE], reply=True)
        self.assertEqual(replies, [{NODE: {"ok": "time limits set successfully"}}])
        try:
            r = app().send_task("celeriac.sleep", args=[5])
            with self.assertRaises(TimeLimitExceeded):
                r.get(timeout=GET_TIMEOUT)
        finally:
            app().control.time_limit("celeriac.sleep", soft=None, hard=None, destination=[NODE], reply=True)
        self.assertIsNone(app().send_task("celeriac.sleep", args=[1.5]).get(timeout=GET_TIMEOUT))
        self.assertEqual(app().control.time_limit("no.such.task", soft=1, hard=2, destination=[NODE], reply=True),
                         [{NODE: {"error": "unknown task"}}])

    def test_add_and_cancel_consumer(self):
        replies = app().control.add_consumer("extra", destination=[NODE], reply=True)
        self.assertEqual(replies, [{NODE: {"ok": "add consumer extra"}}])
        self.assertEqual(app().send_task("celeriac.add", args=[2, 3], queue="extra").get(timeout=GET_TIMEOUT), 5)
        self.assertIn("extra", [q["name"] for q in only(inspect().active_queues())])
        replies = app().control.cancel_consumer("extra", destination=[NODE], reply=True)
        self.assertEqual(replies, [{NODE: {"ok": "no longer consuming from extra"}}])
        app().send_task("celeriac.add", args=[2, 3], queue="extra")
        time.sleep(2)
        self.assertEqual(R.llen("extra"), 1, "no longer fetched")
        self.assertEqual([q["name"] for q in only(inspect().active_queues())], ["celery"])
        R.delete("extra")

    def test_pool_grow_and_shrink(self):
        self.assertEqual(app().control.pool_grow(1, destination=[NODE], reply=True),
                         [{NODE: {"ok": "pool will grow"}}])
        wait_until(lambda: len(child_pids()) == 3, 10, message="a third child")
        wait_until(lambda: len(only(inspect().stats())["pool"]["processes"]) == 3, 5, interval=0.2,
                   message="stats to show three children")
        self.assertEqual(app().control.pool_shrink(1, destination=[NODE], reply=True),
                         [{NODE: {"ok": "pool will shrink"}}])
        wait_until(lambda: len(child_pids()) == 2, 10, message="back to two children")
        self.assertEqual(app().send_task("celeriac.add", args=[1, 1]).get(timeout=GET_TIMEOUT), 2)

    def test_events_switched_and_heartbeat_requested(self):
        control = app().control
        self.assertEqual(control.enable_events(destination=[NODE], reply=True),
                         [{NODE: {"ok": "task events enabled"}}])
        self.assertEqual(control.enable_events(destination=[NODE], reply=True),
                         [{NODE: {"ok": "task events already enabled"}}])
        self.assertEqual(control.disable_events(destination=[NODE], reply=True),
                         [{NODE: {"ok": "task events disabled"}}])
        self.assertEqual(control.disable_events(destination=[NODE], reply=True),
                         [{NODE: {"ok": "task events already disabled"}}])
        # heartbeat: a worker-heartbeat event now; Celery's handler replies None.
        pubsub = R.pubsub()
        pubsub.psubscribe("/0.celeryev/worker.heartbeat")
        pubsub.get_message(timeout=1)
        self.assertEqual(control.heartbeat(destination=[NODE], reply=True), [{NODE: None}])
        msg = wait_until(lambda: pubsub.get_message(timeout=0.2), 5, message="a worker-heartbeat event")
        self.assertEqual(msg["type"], "pmessage")
        pubsub.close()

    def test_autoscale_refused_on_a_fixed_pool(self):
        self.assertEqual(app().control.autoscale(4, 1, destination=[NODE], reply=True),
                         [{NODE: {"error": "ValueError('Autoscale not enabled')"}}])


class CeleryCli(unittest.TestCase):
    def test_inspect_and_control_from_the_celery_cli(self):
        out = celery_cli("inspect", "active_queues", "-d", NODE)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(f"->  {NODE}: OK", out.stdout)
        out = celery_cli("inspect", "stats", "--json", "-d", NODE)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn('"max-concurrency": 2', out.stdout)
        out = celery_cli("control", "rate_limit", "celeriac.echo", "0", "-d", NODE)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("new rate limit set successfully", out.stdout)


    def test_every_inspect_command_from_the_celery_cli(self):
        import json
        for command in ("ping", "active", "reserved", "scheduled", "revoked", "registered", "stats",
                        "active_queues", "conf", "report", "clock"):
            with self.subTest(command=command):
                out = celery_cli("inspect", command, "--json", "-d", NODE)
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                self.assertIn(NODE, json.loads(out.stdout))

    def test_control_commands_from_the_celery_cli(self):
        for args, want in ((("time_limit", "celeriac.echo", "10", "20"), "time limits set successfully"),
                           (("add_consumer", "cli_q"), "add consumer cli_q"),
                           (("cancel_consumer", "cli_q"), "no longer consuming from cli_q")):
            with self.subTest(command=args[0]):
                out = celery_cli("control", *args, "-d", NODE)
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                self.assertIn(f"->  {NODE}: OK", out.stdout)
                self.assertIn(want, out.stdout)
        app().control.time_limit("celeriac.echo", soft=None, hard=None, destination=[NODE], reply=True)


class Shutdown(unittest.TestCase):
    def test_zz_control_shutdown_stops_the_worker(self):
        # Last (zz): the shared worker is gone afterwards; a fresh node.
        w = CeleriacWorker(SERVER.url, concurrency=2, name="bye@interop").start()
        w.wait_ready(R)
        out = celery_cli("control", "shutdown", "-d", "bye@interop")
        self.assertIn("No nodes replied", out.stdout + out.stderr, "Celery's worker does not reply either")
        wait_until(lambda: not w.running(), 15, message="the worker to stop")
        self.assertEqual(w.proc.returncode, 0)
        self.assertIn("Got shutdown from remote", w.log())


if __name__ == "__main__":
    harness.run("remote_control", globals())
