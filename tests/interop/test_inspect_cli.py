"""Interop: `celeriac inspect` and `celeriac control` against Celery's own CLI.

A Celery 5.2 worker (prefork, one process) and a celeriac worker share a
private Redis. Every inspect and control command is sent twice: by
`celeriac inspect|control ...` and by `/usr/bin/python3 -m celery -A
celery_app inspect|control ...`, to the same node, and the two outputs must
be the same text (human form and --json) with the same exit code; for
replies that change from one request to the next (stats, clock) the same
nodes, keys and stable values. Against Celery's worker this proves the
requests are the ones Celery's CLI sends and the replies print as it prints
them; against the celeriac worker it also checks each command is answered
(a command the worker does not answer yet is an expected failure, listed
in NOT_ANSWERED_BY_CELERIAC).

Run: CELERIAC_BIN=build/worker/celeriac /usr/bin/python3 tests/interop/test_inspect_cli.py
"""

import json
import os
import re
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import CeleriacWorker, PythonCeleryWorker, RedisServer, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = None
R = None
PY = None  # the Celery worker, consuming pyq
CC = None  # the celeriac worker, consuming celery
PY_NODE = "py@cli"
CC_NODE = "cc@cli"
NO_REPLY = "Error: No nodes replied within time constraint"
UNDO = {("control", "enable_events"): ("control", "disable_events"),
        ("control", "disable_events"): ("control", "enable_events")}

# Commands a celeriac worker does not answer yet (Celery's reply is an
# error or something else): their tests against it are expected failures.
NOT_ANSWERED_BY_CELERIAC = set()


def setUpModule():
    global SERVER, R, PY, CC
    SERVER = RedisServer().start()
    R = SERVER.client()
    PY = PythonCeleryWorker(SERVER.url, queues="pyq", pool="prefork", concurrency=1, name=PY_NODE).start()
    CC = CeleriacWorker(SERVER.url, concurrency=2, name=CC_NODE).start()
    CC.wait_ready(R)
    PY.wait_ready()


def tearDownModule():
    for p in (CC, PY, SERVER):
        if p is not None:
            p.stop()


def _celeriac_argv(args):
    return [harness.celeriac_bin(), *args, "-b", SERVER.url]


def _celery_argv(args):
    return [harness.SYSTEM_PYTHON, "-m", "celery", "-A", "celery_app", *args]


def _celery_env():
    env = dict(os.environ)
    env.update(harness.celery_env(SERVER.url))
    env["PYTHONPATH"] = HERE
    return env


def _run(argv, env=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=HERE)


def celeriac(*args):
    return _run(_celeriac_argv(args))


def celery(*args):
    return _run(_celery_argv(args), env=_celery_env())


def both(*args):
    """(celeriac's result, Celery's result) for the same words, run at the
    same time (for requests that change nothing)."""
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=HERE)
             for argv, env in ((_celeriac_argv(args), None), (_celery_argv(args), _celery_env()))]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results[0], results[1]


def describe(r):
    return f"exit {r.returncode}\n--- stdout\n{r.stdout}--- stderr\n{r.stderr}"


class Comparing(unittest.TestCase):
    def assertSameOutput(self, ours, theirs):
        self.assertEqual(ours.returncode, theirs.returncode,
                         f"exit codes differ\nceleriac: {describe(ours)}\ncelery: {describe(theirs)}")
        self.assertEqual(ours.stdout, theirs.stdout,
                         f"outputs differ\nceleriac: {describe(ours)}\ncelery: {describe(theirs)}")

    def assertSame(self, *args):
        """celeriac and Celery print the same, human and --json."""
        ours, theirs = both(*args)
        self.assertSameOutput(ours, theirs)
        self.assertEqual(ours.returncode, 0, describe(ours))
        ours_json, theirs_json = both(*args, "--json")
        self.assertSameOutput(ours_json, theirs_json)
        return json.loads(ours_json.stdout)

    def assertSameSequentially(self, *args):
        """For requests that change the worker: ours first, then Celery's;
        the replies must read the same. A switch (enable_events) is turned
        back between the two, so both find the worker in the same state."""
        ours = celeriac(*args)
        # Turned back only when ours changed it ("already ..." changed nothing).
        if args[:2] in UNDO and "already" not in ours.stdout:
            celery(*UNDO[args[:2]], *args[2:])
        theirs = celery(*args)
        self.assertSameOutput(ours, theirs)
        return ours

    def assertSameShape(self, node, command, volatile):
        """Both --json replies name the same nodes and keys, and agree on
        every value but the `volatile` ones."""
        ours, theirs = both("inspect", command, "-d", node, "--json")
        self.assertEqual((ours.returncode, theirs.returncode), (0, 0), describe(ours) + describe(theirs))
        a, b = json.loads(ours.stdout), json.loads(theirs.stdout)
        self.assertEqual(list(a), [node])
        self.assertEqual(list(b), [node])
        self.assertEqual(sorted(a[node]), sorted(b[node]))
        for key in a[node]:
            if key not in volatile:
                self.assertEqual(a[node][key], b[node][key], key)
        human = celeriac("inspect", command, "-d", node)
        self.assertEqual(human.returncode, 0, describe(human))
        self.assertTrue(human.stdout.startswith(f"->  {node}: OK\n    {{\n"), human.stdout)
        self.assertTrue(human.stdout.endswith("\n    \n\n1 node online.\n"), human.stdout)
        return a[node]


# ---------------------------------------------------------------------------
# Against Celery's own worker
# ---------------------------------------------------------------------------

class InspectCeleryWorker(Comparing):
    def test_idle_node_facts_print_the_same(self):
        for command in ("ping", "registered", "active_queues", "conf", "report", "active", "reserved", "scheduled",
                        "memsample", "memdump", "objgraph"):
            with self.subTest(command=command):
                self.assertSame("inspect", command, "-d", PY_NODE)

    def test_arguments_are_sent_as_celery_sends_them(self):
        self.assertSame("inspect", "registered", "rate_limit", "-d", PY_NODE)
        # Not `conf true`: Celery's full configuration holds Infinity, which
        # celeriac's JSON reader refuses, so that reply is dropped (logged).
        self.assertSame("inspect", "conf", "false", "-d", PY_NODE)
        self.assertSame("inspect", "memdump", "3", "-d", PY_NODE)
        self.assertSame("inspect", "query_task", str(uuid.uuid4()), "-d", PY_NODE)

    def test_stats_and_clock(self):
        stats = self.assertSameShape(PY_NODE, "stats", volatile=("clock", "uptime", "rusage"))
        self.assertEqual(stats["pid"], PY.pid)
        clock = self.assertSameShape(PY_NODE, "clock", volatile=("clock",))
        self.assertIsInstance(clock["clock"], int)

    def test_busy_worker_lists_its_tasks_the_same(self):
        app = _client()
        sleep_id, echo_id, later_id = (str(uuid.uuid4()) for _ in range(3))
        app.send_task("celeriac.sleep", args=[10], queue="pyq", task_id=sleep_id)
        app.send_task("celeriac.echo", args=["it's", 'say "hi"', "caf\u00e9 \u2603", "tab\t\n", 1.5, None, True, []],
                      kwargs={"k": {"nested": [1, 2.25, False]}}, queue="pyq", task_id=echo_id)
        app.send_task("celeriac.add", args=[2, 3], queue="pyq", task_id=later_id, countdown=300)
        try:
            wait_until(lambda: sleep_id in celery("inspect", "active", "-d", PY_NODE).stdout, 20, interval=0.2,
                       message="the sleep to run on the Celery worker")
            for command in ("active", "reserved", "scheduled"):
                with self.subTest(command=command):
                    self.assertSame("inspect", command, "-d", PY_NODE)
            replies = self.assertSame("inspect", "query_task", sleep_id, echo_id, later_id, "-d", PY_NODE)
            self.assertEqual(replies[PY_NODE][sleep_id][0], "active")
            self.assertEqual(replies[PY_NODE][echo_id][0], "reserved")
        finally:
            app.control.revoke([later_id])
            app.close()
            # The tests after this one compare an idle node: if the sleep
            # ended between celeriac's inspect and celery's, they differed.
            wait_until(lambda: sleep_id not in celery("inspect", "active", "-d", PY_NODE).stdout, 20,
                       interval=0.5, message="the sleep to end on the Celery worker")

    def test_revoked_ids_print_the_same(self):
        ids = [str(uuid.uuid4()), str(uuid.uuid4())]
        self.assertSameSequentially("control", "revoke", *ids, "-d", PY_NODE)
        replies = self.assertSame("inspect", "revoked", "-d", PY_NODE)
        self.assertTrue(set(ids) <= set(replies[PY_NODE]))

    def test_every_node_answers_and_is_counted(self):
        ours, theirs = both("inspect", "ping")
        self.assertEqual((ours.returncode, theirs.returncode), (0, 0), describe(ours) + describe(theirs))
        self.assertEqual(sorted(ours.stdout.splitlines()), sorted(theirs.stdout.splitlines()))
        self.assertTrue(ours.stdout.endswith("\n2 nodes online.\n"), ours.stdout)
        ours, theirs = both("inspect", "ping", "--json", "-d", f"{PY_NODE},{CC_NODE}")
        self.assertEqual(json.loads(ours.stdout), json.loads(theirs.stdout))
        self.assertEqual(json.loads(ours.stdout), {PY_NODE: {"ok": "pong"}, CC_NODE: {"ok": "pong"}})

    def test_nobody_answering_exits_69_as_celery_does(self):
        for words in (("inspect", "ping"), ("control", "rate_limit", "celeriac.add", "1/s"), ("inspect", "stats")):
            with self.subTest(words=words):
                ours, theirs = both(*words, "-d", "nobody@cli", "-t", "0.5")
                self.assertEqual((ours.returncode, theirs.returncode), (69, 69), describe(ours) + describe(theirs))
                self.assertEqual(ours.stdout, "")
                self.assertEqual(ours.stderr.splitlines()[0], NO_REPLY)
                self.assertIn(NO_REPLY, theirs.stderr)


class ControlCeleryWorker(Comparing):
    def test_control_commands_reply_the_same(self):
        for words in (("rate_limit", "celeriac.add", "10/m"), ("rate_limit", "celeriac.add", "0"),
                      ("time_limit", "celeriac.add", "5", "10"), ("time_limit", "celeriac.sleep", "30"),
                      ("add_consumer", "extra_cli"), ("add_consumer", "extra_cli2", "ex", "direct", "extra_cli2"),
                      ("cancel_consumer", "extra_cli"), ("cancel_consumer", "extra_cli2"),
                      ("revoke", str(uuid.uuid4())), ("terminate", "SIGKILL", str(uuid.uuid4())),
                      ("heartbeat",), ("autoscale", "3", "1"), ("election",), ("pool_restart",)):
            with self.subTest(words=words):
                self.assertSameSequentially("control", *words, "-d", PY_NODE)
                self.assertSameSequentially("control", *words, "-d", PY_NODE, "--json")

    def test_rate_and_time_limits_reach_the_tasks(self):
        celeriac("control", "rate_limit", "celeriac.echo", "7/m", "-d", PY_NODE)
        celeriac("control", "time_limit", "celeriac.echo", "11", "12", "-d", PY_NODE)
        out = celery("inspect", "registered", "rate_limit", "time_limit", "soft_time_limit", "-d", PY_NODE, "--json")
        self.assertIn("celeriac.echo [rate_limit=7/m time_limit=12.0 soft_time_limit=11.0]",
                      json.loads(out.stdout)[PY_NODE])

    def test_consumers_added_and_cancelled(self):
        out = celeriac("control", "add_consumer", "cli_q", "-d", PY_NODE)
        self.assertEqual(out.stdout, f"->  {PY_NODE}: OK\n        add consumer cli_q\n", describe(out))
        queues = lambda: [q["name"] for q in json.loads(  # noqa: E731
            celery("inspect", "active_queues", "-d", PY_NODE, "--json").stdout)[PY_NODE]]
        wait_until(lambda: "cli_q" in queues(), 10, interval=0.3, message="cli_q consumed")
        celeriac("control", "cancel_consumer", "cli_q", "-d", PY_NODE)
        wait_until(lambda: "cli_q" not in queues(), 10, interval=0.3, message="cli_q no longer consumed")

    def test_events_switched_on_and_off(self):
        # (This Celery worker runs without gossip, mingle and heartbeat, so
        # it has no event dispatcher and replies an AttributeError: the
        # point is that both CLIs print the same.)
        for command in ("enable_events", "disable_events", "disable_events", "enable_events"):
            self.assertSameSequentially("control", command, "-d", PY_NODE)

    def test_pool_grow_and_shrink(self):
        processes = lambda: len(json.loads(  # noqa: E731
            celery("inspect", "stats", "-d", PY_NODE, "--json").stdout)[PY_NODE]["pool"]["processes"])
        self.assertSameSequentially("control", "pool_grow", "1", "-d", PY_NODE)
        wait_until(lambda: processes() == 3, 15, interval=0.3, message="the Celery pool grown by two")
        self.assertSameSequentially("control", "pool_shrink", "-d", PY_NODE)
        # billiard retires a process when it is idle: fewer, not at once one.
        wait_until(lambda: processes() < 3, 15, interval=0.3, message="the Celery pool to shrink")

    def test_bad_words_are_refused_before_sending(self):
        out = celeriac("control", "rate_limit", "a", "b", "c")
        self.assertEqual(out.returncode, 64, describe(out))
        self.assertIn("Command 'rate_limit' takes arguments: <task_name> <rate_limit (e.g., 5/s | 5/m | 5/h)>",
                      out.stderr)
        out = celeriac("control", "pool_grow", "x")
        self.assertEqual(out.returncode, 64, describe(out))
        self.assertIn("n of pool_grow must be a whole number, not 'x'", out.stderr)
        out = celeriac("inspect", "rate_limit")
        self.assertEqual(out.returncode, 64, describe(out))
        self.assertIn("no inspect command 'rate_limit'; the commands are: report, conf,", out.stderr)
        out = celeriac("inspect")
        self.assertEqual(out.returncode, 64, describe(out))
        out = celeriac("inspect", "--help")
        self.assertEqual(out.returncode, 0, describe(out))
        self.assertIn("active_queues", out.stdout)

    def test_unreachable_redis_exits_69(self):
        url = f"redis://127.0.0.1:{harness.free_port()}/0"
        out = _run([harness.celeriac_bin(), "inspect", "ping", "-b", url])
        self.assertEqual(out.returncode, 69, describe(out))
        self.assertIn(f"celeriac inspect: ", out.stderr)
        self.assertIn("nothing was sent. Check --broker or CELERIAC_BROKER_URL.", out.stderr)


# ---------------------------------------------------------------------------
# Against a celeriac worker
# ---------------------------------------------------------------------------

def _answered(reply):
    """A reply that is not Celery's 'unknown command' error."""
    return not (isinstance(reply, dict) and "error" in reply and str(reply["error"]).startswith("KeyError("))


class CeleriacWorkerCommands(Comparing):
    """One test per command: celeriac's CLI and Celery's print the same
    against the celeriac worker, and the worker answers it."""

    def check_inspect(self, command, *args):
        replies = self.assertSame("inspect", command, *args, "-d", CC_NODE)
        self.assertTrue(_answered(replies[CC_NODE]), replies)

    def check_control(self, *words):
        out = self.assertSameSequentially("control", *words, "-d", CC_NODE, "--json")
        self.assertEqual(out.returncode, 0, describe(out))
        [reply] = json.loads(out.stdout)
        self.assertTrue(_answered(reply[CC_NODE]), reply)
        if reply[CC_NODE] is not None:  # heartbeat: Celery's handler replies None
            self.assertNotIn("error", reply[CC_NODE], reply)

    def test_stats_and_clock(self):
        stats = self.assertSameShape(CC_NODE, "stats", volatile=("clock", "uptime", "rusage"))
        self.assertEqual(stats["pid"], CC.pid)
        self.assertSameShape(CC_NODE, "clock", volatile=("clock",))

    def test_busy_worker_lists_its_tasks_the_same(self):
        app = _client()
        ids = [str(uuid.uuid4()) for _ in range(2)]
        for tid in ids:
            app.send_task("celeriac.sleep", args=[60], task_id=tid)
        soon = app.send_task("celeriac.echo", args=["caf\u00e9", {"k": [1.5, None]}], countdown=20)
        try:
            wait_until(lambda: all(t in celery("inspect", "active", "-d", CC_NODE).stdout for t in ids), 20,
                       interval=0.2, message="both sleeps to run on the celeriac worker")
            # With both children busy no child waits on the main list: the
            # eta task is held once a child's once-a-second fetch takes it.
            wait_until(lambda: soon.id in celery("inspect", "scheduled", "-d", CC_NODE).stdout, 20,
                       interval=0.2, message="the eta task to be held")
            for command in ("active", "reserved", "scheduled"):
                with self.subTest(command=command):
                    self.assertSameButStartTimes("inspect", command, "-d", CC_NODE)
            replies = self.assertSameButStartTimes("inspect", "query_task", *ids, soon.id, "-d", CC_NODE)
            self.assertEqual({tid: state for tid, (state, _) in replies[CC_NODE].items()},
                             {ids[0]: "active", ids[1]: "active", soon.id: "reserved"})
        finally:
            celeriac("revoke", *ids, soon.id, "--terminate")
            app.close()

    def assertSameButStartTimes(self, *args):
        """assertSame, but a running task's time_start may differ in its
        last digits: the celeriac worker works it out anew for each request
        (now minus the time it has run)."""
        def steady(r):
            r.stdout = re.sub(r"(['\"]time_start['\"]: )\d+\.\d+", r"\1T", r.stdout)
            return r
        for extra in ((), ("--json",)):
            ours, theirs = both(*args, *extra)
            self.assertSameOutput(steady(ours), steady(theirs))
            self.assertEqual(ours.returncode, 0, describe(ours))
        return json.loads(ours.stdout.replace('"time_start": T', '"time_start": 0'))


def _add_command_test(name, body, expected_failure):
    def test(self):
        body(self)
    test.__name__ = name
    setattr(CeleriacWorkerCommands, name, unittest.expectedFailure(test) if expected_failure else test)


for _command, _args in (("ping", ()), ("registered", ()), ("registered", ("rate_limit",)), ("active_queues", ()),
                        ("revoked", ()), ("conf", ()), ("report", ()), ("active", ()), ("reserved", ()),
                        ("scheduled", ()), ("query_task", ("no-such-task",))):
    _add_command_test(f"test_inspect_{_command}{'_' + '_'.join(_args) if _args else ''}".replace("-", "_"),
                      lambda self, c=_command, a=_args: self.check_inspect(c, *a),
                      _command in NOT_ANSWERED_BY_CELERIAC)

for _words in (("rate_limit", "celeriac.echo", "100/m"), ("rate_limit", "celeriac.echo", "0"),
               ("time_limit", "celeriac.sleep", "20", "30"), ("add_consumer", "cc_extra"),
               ("cancel_consumer", "cc_extra"), ("pool_grow", "1"), ("pool_shrink", "1"),
               ("revoke", "00000000-0000-4000-8000-000000000000"), ("enable_events",), ("disable_events",),
               ("heartbeat",)):
    _add_command_test(f"test_control_{_words[0]}_{'_'.join(_words[1:])}".rstrip("_").replace("/", "_per_")
                      .replace(".", "_").replace("-", "_"),
                      lambda self, w=_words: self.check_control(*w),
                      _words[0] in NOT_ANSWERED_BY_CELERIAC)


# ---------------------------------------------------------------------------
# Shutdown, last: it stops the worker it is sent to
# ---------------------------------------------------------------------------

class ZzShutdown(unittest.TestCase):
    def test_shutdown_stops_both_kinds_of_worker_without_a_reply(self):
        py = PythonCeleryWorker(SERVER.url, queues="byeq", name="pybye@cli").start()
        cc = CeleriacWorker(SERVER.url, queues="byeq2", concurrency=1, name="ccbye@cli").start()
        py.wait_ready()
        cc.wait_ready(R)
        for w in (py, cc):
            with self.subTest(node=w.node):
                out = celeriac("control", "shutdown", "-d", w.node)
                # Celery's worker stops without replying, and so does celeriac's.
                self.assertEqual(out.returncode, 69, describe(out))
                self.assertEqual(out.stderr.splitlines()[0], NO_REPLY)
                wait_until(lambda: not w.running(), 20, message=f"{w.node} to stop")
                self.assertEqual(w.proc.returncode, 0)


def _client():
    from celery import Celery
    return Celery("inspect_cli_test", broker=SERVER.url, backend=SERVER.url)


if __name__ == "__main__":
    harness.run("inspect_cli", globals())
