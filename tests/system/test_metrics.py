#!/usr/bin/python3
"""System test: /metrics of `celeriac worker --metrics-port` and `celeriac beat
--metrics-port`, and `--log-format json`, on a private redis-server.

Every scrape is parsed by the strict parser in prometheus_text.py (names,
HELP/TYPE, label syntax and escaping, histogram consistency), and its numbers
are checked against what actually happened:

* parser_is_strict: the parser itself refuses malformed expositions.
* worker_counts: tasks run by two children (successes, failures, expired =
  revoked, undecodable = dead letters) are counted node-wide by name and
  outcome, runtime histograms count the runs, pool and Redis gauges match
  what the test reads itself; the node name label carries a double quote and
  a backslash (escaping end to end). The JSON log has one object per line,
  with the task's name and id on its lines.
* backlog_and_restart: with one child busy on a long task and prefetch 1,
  queue length, held and running match Redis; SIGKILLing that child (the one
  serving /metrics) is counted as a restart, /metrics comes back with the
  replacement, and the counts made before the kill are still there.
* beat: a leader and a standby; ticks sent match the messages pushed, lag is
  counted per tick, leadership moves to the standby when the leader stops.
* job_store_backlog: with --database, the children's unwritten task states
  show as celeriac_job_store_backlog: 0 while PostgreSQL takes them, growing
  while it is stopped, back to 0 once it returns.
* endpoint_problems: a taken port stops the start with exit 69 and the
  reason; other paths answer 404; bad flags are usage errors.
"""

import datetime
import http.client
import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prometheus_text import ExpositionError, parse  # noqa: E402
from support import (celeriac_bin, check, enqueue, free_port, get_metas, log, make_message, run_suite,  # noqa: E402
                     utc_now, wait_until)


EXIT_USAGE = 64
EXIT_UNAVAILABLE = 69


def get(port, path="/metrics", timeout=5):
    """(status, headers dict, body text) of one GET on 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def scrape(port):
    """The parsed exposition; checks status and Content-Type."""
    status, headers, body = get(port)
    check(status == 200, f"/metrics answered {status}: {body[:200]}")
    check(headers.get("content-type") == "text/plain; version=0.0.4; charset=utf-8",
          f"Content-Type: {headers.get('content-type')}")
    return parse(body)


def wait_scrape(port, timeout=20):
    def attempt():
        try:
            return scrape(port)
        except (ConnectionError, OSError):
            return None
    return wait_until(attempt, timeout, interval=0.1, what=f"/metrics on port {port}")


def nonzero_task_series(families):
    """{(task, outcome): count} of the non-zero celeriac_tasks_total series."""
    out = {}
    for key, v in families["celeriac_tasks_total"].series().items():
        d = dict(key)
        if v:
            out[(d["task"], d["outcome"])] = v
    return out


def queue_waiting(r, queue):
    return sum(r.llen(k) for k in [queue] + [f"{queue}\x06\x16{p}" for p in (3, 6, 9)])


# ---------------------------------------------------------------------------


def test_parser_is_strict(env):
    good = ("# HELP celeriac_x_total x\n# TYPE celeriac_x_total counter\nceleriac_x_total{a=\"q\\\"\\\\\\n\"} 1\n"
            "# HELP celeriac_h h\n# TYPE celeriac_h histogram\n"
            "celeriac_h_bucket{le=\"1\"} 1\nceleriac_h_bucket{le=\"+Inf\"} 2\nceleriac_h_sum 3.5\nceleriac_h_count 2\n")
    fams = parse(good)
    check(fams["celeriac_x_total"].value(a="q\"\\\n") == 1, "escapes decoded")
    bad = {
        "no final line feed": good[:-1],
        "blank line": good.replace("\n# HELP celeriac_h", "\n\n# HELP celeriac_h"),
        "bad escape": good.replace('\\"', "\\t"),
        "raw quote": good.replace('a="q\\"', 'a="q"x"'),
        "trailing comma": good.replace('\\n"}', '\\n",}'),
        "counter without _total": good.replace("celeriac_x_total", "celeriac_x"),
        "sample before TYPE": "celeriac_y 1\n",
        "count != +Inf": good.replace("celeriac_h_count 2", "celeriac_h_count 3"),
        "decreasing buckets": good.replace('le="1"} 1', 'le="1"} 5'),
        "no +Inf": good.replace('celeriac_h_bucket{le="+Inf"} 2\n', ""),
        "timestamp": good.replace("celeriac_h_sum 3.5", "celeriac_h_sum 3.5 1700000000"),
        "other comment": "# hello\n" + good,
        "duplicate series": good + "# HELP celeriac_z z\n# TYPE celeriac_z gauge\nceleriac_z 1\nceleriac_z 2\n",
        "interleaved family": good + "celeriac_x_total{a=\"b\"} 1\n",
        "negative counter": good.replace('\\n"} 1', '\\n"} -1'),
        "bad value": good.replace("celeriac_h_sum 3.5", "celeriac_h_sum 3,5"),
        "reserved label": good.replace("{a=", "{__a="),
    }
    for what, text in bad.items():
        try:
            parse(text)
        except ExpositionError:
            continue
        raise AssertionError(f"the parser accepted: {what}")


def test_worker_counts(env):
    srv = env.redis()
    r = srv.client()
    port = free_port()
    node_base = 'we"ird\\node'
    w = env.worker(srv.url, name=node_base, concurrency=2,
                   extra=["--metrics-port", str(port), "--log-format", "json"])
    fams = wait_scrape(port)
    check(fams["celeriac_worker_info"].value(node=f"{node_base}@systemtest") == 1,
          f"node label round-trips its quote and backslash: {fams['celeriac_worker_info'].series()}")

    past = utc_now() - datetime.timedelta(minutes=5)
    msgs, ids = [], {"add": [], "fail": [], "expired_add": [], "expired_fail": []}
    for i in range(30):
        tid, m = make_message("celeriac.add", args=(i, 1))
        ids["add"].append(tid), msgs.append(m)
    for i in range(7):
        tid, m = make_message("celeriac.fail", args=(f"boom {i}",))
        ids["fail"].append(tid), msgs.append(m)
    for i in range(4):
        tid, m = make_message("celeriac.add", args=(1, 2), expires=past)
        ids["expired_add"].append(tid), msgs.append(m)
    for i in range(2):
        tid, m = make_message("celeriac.fail", expires=past)
        ids["expired_fail"].append(tid), msgs.append(m)
    msgs += ["not json at all", '{"body": 1}', "\xff garbage"]
    enqueue(r, msgs)
    all_ids = [t for v in ids.values() for t in v]
    wait_until(lambda: all(m is not None for m in get_metas(r, all_ids).values()) and r.llen("celeriac.dead") == 3,
               30, what="every result stored and 3 dead letters")
    metas = get_metas(r, all_ids)
    check(all(metas[t]["status"] == "REVOKED" for t in ids["expired_add"] + ids["expired_fail"]), "expired revoked")

    fams = scrape(port)
    counts = nonzero_task_series(fams)
    check(counts == {("celeriac.add", "success"): 30, ("celeriac.add", "revoked"): 4,
                     ("celeriac.fail", "failure"): 7, ("celeriac.fail", "revoked"): 2},
          f"tasks by name and outcome: {counts}")
    done = fams["celeriac_tasks_total"]
    check(done.value(task="celeriac.add", outcome="failure") == 0 and
          done.value(task="celeriac.add", outcome="retry") == 0, "a task that ran shows every outcome, zeros too")
    runtime = fams["celeriac_task_runtime_seconds"]
    for task, ran in (("celeriac.add", 30), ("celeriac.fail", 7)):
        h = runtime.histogram(task=task)
        check(h["count"] == ran, f"{task}: {h['count']} runs in its histogram, expected {ran} (expired ones never ran)")
        check(0 <= h["sum"] < ran * 1.0, f"{task}: runtime sum {h['sum']}")
    check(fams["celeriac_worker_children"].value() == 2, "two children alive")
    check(fams["celeriac_worker_children_started_total"].value() == 2, "two started")
    restarts = fams["celeriac_worker_child_restarts_total"].series()
    check(set(dict(k)["reason"] for k in restarts) == {"crashed", "time_limit", "recycled"} and
          all(v == 0 for v in restarts.values()), f"no restarts: {restarts}")
    check(fams["celeriac_redis_up"].value() == 1, "Redis read")
    rtt = fams["celeriac_redis_roundtrip_seconds"].value()
    check(0 < rtt < 0.5, f"round trip {rtt}")
    check(fams["celeriac_queue_length"].value(queue="celery") == 0, "queue drained")
    check(fams["celeriac_queue_delayed"].value(queue="celery") == 0, "nothing delayed")
    check(fams["celeriac_dead_letters"].value() == r.llen("celeriac.dead") == 3, "dead letters = LLEN celeriac.dead")
    check(fams["celeriac_messages_held"].value() == 0, "nothing held once all is acked")
    check(fams["celeriac_tasks_running"].value() == 0, "nothing running")
    check("celeriac_job_store_backlog" not in fams, "no job store without --database")
    started = fams["celeriac_worker_start_time_seconds"].value()
    check(abs(started - time.time()) < 120, f"start time {started}")

    # The JSON log: one object per line, Celery's fields, the task on its lines.
    lines = [ln for ln in w.log().splitlines() if ln.strip()]
    check(len(lines) > 40, f"a log was written: {len(lines)} lines")
    succeeded = {}
    for ln in lines:
        obj = json.loads(ln)  # raises on anything that is not one JSON object
        check(isinstance(obj, dict), f"not an object: {ln}")
        check({"time", "level", "process", "pid", "message"} <= set(obj), f"fields missing: {ln}")
        check(obj["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), f"level: {ln}")
        check(datetime.datetime.fromisoformat(obj["time"]).tzinfo is not None, f"time: {ln}")
        check(obj["process"] == "MainProcess" or obj["process"].startswith("Worker-"), f"process: {ln}")
        if " succeeded in " in obj["message"]:
            check(obj.get("task_name") == "celeriac.add", f"task_name: {ln}")
            succeeded[obj["task_id"]] = succeeded.get(obj["task_id"], 0) + 1
        if "raised unexpected" in obj["message"]:
            check(obj.get("task_name") == "celeriac.fail" and obj.get("task_id") in ids["fail"], f"failure: {ln}")
    check(succeeded == {t: 1 for t in ids["add"]}, f"one success line per add, with its id: {len(succeeded)}")


def test_backlog_and_restart(env):
    srv = env.redis()
    r = srv.client()
    port = free_port()
    w = env.worker(srv.url, concurrency=1, prefetch=1, extra=["--metrics-port", str(port), "--hand-back-after", "0"])
    wait_scrape(port)
    first = [make_message("celeriac.add", args=(i, i)) for i in range(5)]
    enqueue(r, [m for _, m in first])
    wait_until(lambda: all(get_metas(r, [t for t, _ in first]).values()), 20, what="the first adds")

    sleep_id, sleep_msg = make_message("celeriac.sleep", args=(30,))
    enqueue(r, [sleep_msg])
    wait_until(lambda: wait_scrape(port)["celeriac_tasks_running"].value() == 1, 20, what="the sleep to run")
    later = [make_message("celeriac.add", args=(i, 0)) for i in range(6)]
    enqueue(r, [m for _, m in later])
    fams = scrape(port)
    check(fams["celeriac_queue_length"].value(queue="celery") == queue_waiting(r, "celery") == 6,
          f"queue length {fams['celeriac_queue_length'].series()} vs LLEN {queue_waiting(r, 'celery')}")
    check(fams["celeriac_messages_held"].value() == 1, f"held: {fams['celeriac_messages_held'].value()}")
    check(fams["celeriac_queue_delayed"].value(queue="celery") == r.zcard("celeriac.delayed.celery"), "delayed")

    child = w.children()[0]
    log(f"killing child {child}, which serves /metrics, while it runs a 30 s sleep")
    w.kill_child(child)
    fams = wait_until(lambda: (lambda f: f if f and f["celeriac_worker_children_started_total"].value() == 2
                               else None)(wait_scrape(port)), 20, what="/metrics back from the replacement")
    check(fams["celeriac_worker_child_restarts_total"].value(reason="crashed") == 1, "the kill is a crash restart")
    check(fams["celeriac_tasks_total"].value(task="celeriac.add", outcome="success") >= 5,
          "counts made by the dead child are still there")
    # The sleep is redelivered and runs its 30 s again; revoke it so the test ends sooner.
    subprocess.run([celeriac_bin(), "revoke", sleep_id, "--terminate", "-b", srv.url], capture_output=True,
                   timeout=30)
    wait_until(lambda: all(get_metas(r, [t for t, _ in later]).values()), 40, what="the later adds")
    fams = scrape(port)
    check(fams["celeriac_tasks_total"].value(task="celeriac.add", outcome="success") == 11,
          f"11 adds in all: {nonzero_task_series(fams)}")
    check(fams["celeriac_worker_children"].value() == 1, "one child again")


def start_beat(env, schedule, srv, port, name):
    logf = open(os.path.join(env.dir, f"beat-{name}.log"), "ab")
    try:
        p = subprocess.Popen([celeriac_bin(), "beat", "--schedule", schedule, "-b", srv.url, "--metrics-port",
                              str(port), "--lease-ms", "1500"], stdin=subprocess.DEVNULL, stdout=logf,
                             stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        logf.close()
    return p


def test_beat(env):
    srv = env.redis()
    r = srv.client()
    schedule = os.path.join(env.dir, "schedule.toml")
    with open(schedule, "w") as f:
        f.write('[[entry]]\nname = "every.2s"\ntask = "celeriac.add"\nevery = "2s"\nargs = [1, 2]\n'
                'queue = "beatq"\n')
    pa, pb = free_port(), free_port()
    procs = []
    try:
        a = start_beat(env, schedule, srv, pa, "a")
        procs.append(a)
        wait_until(lambda: wait_scrape(pa)["celeriac_beat_leader"].value() == 1, 20, what="beat a to lead")
        b = start_beat(env, schedule, srv, pb, "b")
        procs.append(b)
        fb = wait_scrape(pb)
        check(fb["celeriac_beat_leader"].value() == 0, "the second instance stands by")
        wait_until(lambda: queue_waiting(r, "beatq") >= 2, 20, what="two ticks")
        # Scrape right after a tick, so the count and the list agree for ~1.5 s.
        n = queue_waiting(r, "beatq")
        wait_until(lambda: queue_waiting(r, "beatq") > n, 10, interval=0.01, what="the next tick")
        time.sleep(0.2)
        fa, pushed = scrape(pa), queue_waiting(r, "beatq")
        sent = fa["celeriac_beat_ticks_sent_total"].value(entry="every.2s", task="celeriac.add")
        check(sent == pushed, f"ticks sent {sent}, messages in beatq {pushed}")
        lag = fa["celeriac_beat_tick_lag_seconds"].histogram(entry="every.2s")
        check(lag["count"] == sent and 0 <= lag["sum"] < sent, f"one lag per tick: {lag}")
        last = fa["celeriac_beat_last_tick_seconds"].value(entry="every.2s")
        check(last == int(last) and int(last) % 2 == 0 and abs(last - time.time()) < 5, f"last tick {last}")
        check(fa["celeriac_beat_redis_errors_total"].value() == 0, "no Redis errors")
        check(fa["celeriac_beat_info"].value(schedule="default") == 1, "info")
        fb = scrape(pb)
        check(not fb["celeriac_beat_ticks_sent_total"].series(), "the standby sent nothing")

        a.send_signal(signal.SIGTERM)
        check(a.wait(15) == 0, "beat a stops cleanly")
        wait_until(lambda: scrape(pb)["celeriac_beat_leader"].value() == 1, 15, what="beat b to take over")
        wait_until(lambda: scrape(pb)["celeriac_beat_ticks_sent_total"].series(), 10, what="beat b to send a tick")
        n = queue_waiting(r, "beatq")
        wait_until(lambda: queue_waiting(r, "beatq") > n, 10, interval=0.01, what="b's next tick")
        time.sleep(0.2)
        fb, pushed = scrape(pb), queue_waiting(r, "beatq")
        sent_b = fb["celeriac_beat_ticks_sent_total"].value(entry="every.2s", task="celeriac.add")
        check(sent + sent_b == pushed,
              f"every message pushed was counted by exactly one instance: a {sent} + b {sent_b} vs {pushed} "
              f"(a sent nothing after its last scrape: it was stopped right after a tick)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


def test_job_store_backlog(env):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "jobs"))
    from pg_support import migrate, wait_state, with_postgres
    pg = with_postgres(env)
    migrate(pg)
    srv = env.redis()
    r = srv.client()
    port = free_port()
    env.worker(srv.url, concurrency=2, extra=["--database", pg.url, "--metrics-port", str(port)])
    first = [make_message("celeriac.add", args=(i, 1)) for i in range(5)]
    enqueue(r, [m for _, m in first])
    for tid, _ in first:
        wait_state(pg, tid, ("SUCCESS",), 20)
    wait_until(lambda: wait_scrape(port).get("celeriac_job_store_backlog") and
               wait_scrape(port)["celeriac_job_store_backlog"].value() == 0, 10, what="an empty backlog")
    log("stopping PostgreSQL")
    pg.stop()
    later = [make_message("celeriac.add", args=(i, 2)) for i in range(20)]
    enqueue(r, [m for _, m in later])
    wait_until(lambda: all(get_metas(r, [t for t, _ in later]).values()), 20, what="the tasks to run meanwhile")
    backlog = wait_until(lambda: wait_scrape(port)["celeriac_job_store_backlog"].value() or None, 10,
                         what="the backlog to show the unwritten states")
    check(0 < backlog <= 20, f"backlog {backlog} while PostgreSQL is away (20 jobs unwritten)")
    log(f"backlog {backlog:.0f}; starting PostgreSQL again")
    pg.start()
    wait_until(lambda: wait_scrape(port)["celeriac_job_store_backlog"].value() == 0, 60,
               what="the backlog to drain once PostgreSQL is back")
    for tid, _ in later:
        wait_state(pg, tid, ("SUCCESS",), 20)


def test_endpoint_problems(env):
    srv = env.redis()
    port = free_port()
    env.worker(srv.url, extra=["--metrics-port", str(port)])
    wait_scrape(port)
    status, _, body = get(port, "/")
    check(status == 404 and "/metrics" in body, f"/ is 404 pointing at /metrics: {status} {body!r}")
    p = subprocess.run([celeriac_bin(), "worker", "-b", srv.url, "-c", "1", "--metrics-port", str(port)],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == EXIT_UNAVAILABLE, f"taken port: exit {p.returncode}, expected {EXIT_UNAVAILABLE}")
    check(f"127.0.0.1:{port}" in p.stderr and "in use" in p.stderr, f"the reason is given: {p.stderr!r}")
    schedule = os.path.join(env.dir, "s.toml")
    with open(schedule, "w") as f:
        f.write('[[entry]]\nname = "x"\ntask = "celeriac.add"\nevery = "1h"\n')
    p = subprocess.run([celeriac_bin(), "beat", "--schedule", schedule, "-b", srv.url, "--metrics-port", str(port)],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == EXIT_UNAVAILABLE and "in use" in p.stderr, f"beat, taken port: {p.returncode} {p.stderr!r}")
    for args in (["--metrics-port", "0"], ["--metrics-port", "70000"], ["--log-format", "xml"],
                 ["--metrics-port", str(free_port()), "--metrics-bind", "localhost"]):
        p = subprocess.run([celeriac_bin(), "worker", "-b", srv.url, "-c", "1", *args], capture_output=True, text=True,
                           timeout=30)
        expected = EXIT_UNAVAILABLE if "--metrics-bind" in args else EXIT_USAGE
        check(p.returncode == expected, f"{args}: exit {p.returncode}, expected {expected}: {p.stderr!r}")


if __name__ == "__main__":
    run_suite("metrics", [
        ("parser_is_strict", test_parser_is_strict),
        ("worker_counts", test_worker_counts),
        ("backlog_and_restart", test_backlog_and_restart),
        ("beat", test_beat),
        ("job_store_backlog", test_job_store_backlog),
        ("endpoint_problems", test_endpoint_problems),
    ])
