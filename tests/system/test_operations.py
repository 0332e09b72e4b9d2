#!/usr/bin/python3
"""Issue 8's worker operations against a real redis-server and the real
`celeriac worker`: fair dispatch, a dead child's messages dealt with at
once, poison messages dead-lettered after --max-crashes, WorkerLostError,
recycling children, hard time limits, delayed messages in Redis."""

import datetime
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (check, enqueue, get_meta, get_metas, log, make_message, parse_date_done, run_suite,  # noqa: E402
                     utc_now, wait_until)


def all_done(r, ids, states=("SUCCESS",)):
    metas = get_metas(r, ids)
    return all(metas.get(i) and metas[i]["status"] in states for i in ids)


def dead_entries(r):
    return [json.loads(e) for e in r.lrange("celeriac.dead", 0, -1)]


def test_fair_dispatch(env):
    """A short task never waits behind a long one while a child is idle."""
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=2, prefetch=4)
    long_id, long_msg = make_message("celeriac.sleep", [4])
    enqueue(r, [long_msg])
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen("celery") == 0, 10, what="a child to take the sleep")
    time.sleep(0.2)
    for rnd in range(3):
        sent = utc_now()
        shorts = [make_message("celeriac.add", [i, rnd]) for i in range(5)]
        enqueue(r, [m for _, m in shorts])
        ids = [i for i, _ in shorts]
        wait_until(lambda: all_done(r, ids), 3, what="the 5 short tasks, while the long one still runs")
        metas = get_metas(r, ids)
        waits = [(parse_date_done(metas[i]) - sent).total_seconds() * 1000 for i in ids]
        log(f"round {rnd}: short tasks finished {min(waits):.0f}..{max(waits):.0f} ms after being sent")
        time.sleep(0.3)
    check(get_meta(r, long_id) is None, "the long task should still be running")
    wait_until(lambda: all_done(r, [long_id]), 10, what="the long task")
    check(r.hlen("unacked") == 0 and r.llen("celery") == 0, "everything acknowledged")


def test_idle_wake_holds_no_more_than_the_prefetch(env):
    """An idle child blocks on its main list with the fetch pipelined behind
    the BLMOVE, and on its other lists with plain watchers. Messages that
    come on both kinds of list while a task runs never make it hold more
    than its prefetch, the running task included (two fetches never run at
    once: a plain watcher's wake first makes the pipelined fetch run); each
    runs exactly once; a warm stop while idle leaves nothing behind."""
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, prefetch=2, queues="celery,other", extra=["--hand-back-after", "0"])
    wait_until(lambda: r.client_list() and sum(1 for c in r.client_list() if c["cmd"] == "blmove") >= 2, 10,
               what="the idle child to block on its lists")
    time.sleep(0.3)
    long_id, long_msg = make_message("celeriac.sleep", [2], queue="other")
    enqueue(r, [long_msg], queue="other")  # a plain watcher's list wakes the child
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen("other") == 0, 5, what="the child to take the sleep")
    shorts = [make_message("celeriac.add", [i, 1], queue=q) for i, q in
              zip(range(12), ["other", "celery"] * 6)]
    most = 0
    for (_, m), q in zip(shorts, ["other", "celery"] * 6):
        r.lpush(q, m)
        most = max(most, r.hlen("unacked"))
        time.sleep(0.02)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        most = max(most, r.hlen("unacked"))
        time.sleep(0.005)
    check(get_meta(r, long_id) is None, "the sleep should still be running while the messages came")
    check(most <= 2, f"the child held {most} messages at once: more than its prefetch of 2")
    ids = [i for i, _ in shorts] + [long_id]
    wait_until(lambda: all_done(r, ids), 20, what="every task")
    wait_until(lambda: r.hlen("unacked") == 0, 5, what="every ack")
    time.sleep(1.5)  # idle again: a pipelined fetch is waiting in Redis
    w.signal(signal.SIGTERM)
    check(w.wait(30) == 0, "the worker should exit 0 on SIGTERM")
    check(r.hlen("unacked") == 0 and r.llen("celery") == 0 and r.llen("other") == 0,
          "nothing left behind by the warm stop")
    counts = w.success_counts()
    for tid in ids:
        check(counts.get(tid, 0) == 1, f"task {tid} ran {counts.get(tid, 0)} times, expected once")


def command_calls(r, names):
    stats = r.info("commandstats")
    return sum(stats.get(f"cmdstat_{n}", {}).get("calls", 0) for n in names)


def test_busy_node_fetches_nothing_while_paused(env):
    """Every child busy with a long task: a message that comes goes back to
    its queue once (fair dispatch) and stays there until a child is free.
    The wake-up path used to fetch it again at once, hand it back 10 ms
    later, and so on for the whole task: 35,000 fetch scripts in 2 s."""
    srv = env.redis()
    r = srv.client()
    env.worker(srv.url, concurrency=1, prefetch=4)
    long_id, long_msg = make_message("celeriac.sleep", [3])
    enqueue(r, [long_msg])
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen("celery") == 0, 10, what="the child to take the sleep")
    time.sleep(0.2)
    before = command_calls(r, ["evalsha", "rpush", "blmove"])
    short_id, short_msg = make_message("celeriac.add", [1, 2])
    enqueue(r, [short_msg])
    time.sleep(2.0)
    calls = command_calls(r, ["evalsha", "rpush", "blmove"]) - before
    log(f"fetch scripts, hand-backs and wake-ups in 2 s while the child was busy: {calls}")
    check(get_meta(r, long_id) is None, "the sleep should still be running")
    check(calls < 40, f"{calls} fetches, hand-backs and wake-ups in 2 s while the only child was busy")
    wait_until(lambda: all_done(r, [long_id, short_id]), 10, what="both tasks")
    check(parse_date_done(get_meta(r, short_id)) >= parse_date_done(get_meta(r, long_id)),
          "the short task ran after the long one (the only child was busy)")


def test_idle_node_wakes_one_child_per_message(env):
    """Of a node's idle children only the one with the turn waits on the
    main list, so a message wakes one child (before: every idle child,
    each BLMOVE served and each fetch run, all but one for nothing). A
    child whose task runs long gives the turn to an idle sibling, which
    then takes what comes straight from the queue: no message goes to the
    busy child to be handed back."""
    srv = env.redis()
    r = srv.client()
    env.worker(srv.url, concurrency=2, prefetch=4)
    wait_until(lambda: sum(1 for c in r.client_list() if c["cmd"] == "blmove") >= 7, 10,
               what="the idle children to block on their lists")
    time.sleep(0.5)
    n = 60
    before = {c: command_calls(r, [c]) for c in ("blmove", "evalsha")}
    ids = []
    for i in range(n):
        tid, m = make_message("celeriac.add", [i, 1])
        r.lpush("celery", m)
        ids.append(tid)
        time.sleep(0.01)
    wait_until(lambda: all_done(r, ids), 10, what=f"the {n} tasks")
    per = {c: (command_calls(r, [c]) - before[c]) / n for c in before}
    log(f"per message at a trickle: {per['blmove']:.2f} BLMOVE, {per['evalsha']:.2f} EVALSHA "
        "(before the turn: 2.1 and 3.0)")
    # Every idle child's BLMOVE was served for each message: at least 2 per
    # message with -c 2, and 3 scripts. Here about 1.1 and 2.1; the turn
    # moves (a few more of each) when a task is held up for 1 ms, which a
    # loaded machine does now and then: hence the margins.
    check(per["blmove"] < 1.8, f"{per['blmove']:.2f} BLMOVE per message: more than one child woke for each")
    check(per["evalsha"] < 2.8, f"{per['evalsha']:.2f} scripts per message (a fetch and a write expected)")

    long_id, long_msg = make_message("celeriac.sleep", [2])
    enqueue(r, [long_msg])
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen("celery") == 0, 5, what="a child to take the sleep")
    time.sleep(0.3)
    handed_back = command_calls(r, ["rpush"])
    unblocks = command_calls(r, ["client|unblock"])
    check(unblocks >= 1, "the busy child should have ended its wait on the main list (CLIENT UNBLOCK)")
    short_id, short_msg = make_message("celeriac.add", [2, 2])
    enqueue(r, [short_msg])
    wait_until(lambda: all_done(r, [short_id]), 5, what="the short task")
    check(get_meta(r, long_id) is None, "the sleep should still be running")
    check(command_calls(r, ["rpush"]) == handed_back,
          "the short task went to the busy child and was handed back: the turn did not move to the idle one")
    wait_until(lambda: all_done(r, [long_id]), 10, what="the sleep")


def test_poison_message_dead_lettered(env):
    """A task that segfaults every time ends dead-lettered after 3 crashes
    while 1,000 other tasks complete."""
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=2, prefetch=4, extra=["--enable-test-tasks"])
    crash_id, crash_msg = make_message("celeriac.crash", ["SIGSEGV"])
    adds = [make_message("celeriac.add", [i, 1]) for i in range(1000)]
    enqueue(r, [crash_msg] + [m for _, m in adds[:500]])
    enqueue(r, [m for _, m in adds[500:]])
    ids = [i for i, _ in adds]
    wait_until(lambda: all_done(r, ids), 60, what="1000 adds")
    wait_until(lambda: get_meta(r, crash_id) is not None, 30, what="the crash task's result")
    meta = get_meta(r, crash_id)
    check(meta["status"] == "FAILURE", f"crash task status {meta['status']}")
    check(meta["result"]["exc_type"] == "WorkerLostError", f"exc_type {meta['result']}")
    check("signal 11 (SIGSEGV)" in meta["result"]["exc_message"][0], f"message {meta['result']}")
    dead = [e for e in dead_entries(r) if e["reason"] == "worker_lost"]
    check(len(dead) == 1, f"expected one worker_lost dead letter, got {dead}")
    check(json.loads(dead[0]["raw"])["headers"]["id"] == crash_id, "the dead letter is the crash task")
    deaths = w.log().count("killed by signal 11 (SIGSEGV)")
    check(deaths == 3, f"children died {deaths} times, expected 3 (--max-crashes default)")
    check(r.hlen("unacked") == 0, f"unacked left: {r.hlen('unacked')}")
    check(not r.exists("celeriac.deliveries") or not r.hexists("celeriac.deliveries",
                                                               json.loads(dead[0]["raw"])["properties"]["delivery_tag"]),
          "the crash count is dropped once the message is dealt with")
    counts = w.success_counts()
    check(all(counts.get(i, 0) >= 1 for i in ids), "every add ran")


def test_no_requeue_on_crash(env):
    srv = env.redis()
    r = srv.client()
    env.worker(srv.url, concurrency=1, extra=["--enable-test-tasks", "--no-requeue-on-crash"])
    crash_id, crash_msg = make_message("celeriac.crash", ["SIGKILL"])
    after_id, after_msg = make_message("celeriac.add", [1, 2])
    enqueue(r, [crash_msg, after_msg])
    wait_until(lambda: get_meta(r, crash_id) is not None and get_meta(r, after_id) is not None, 20,
               what="both results")
    meta = get_meta(r, crash_id)
    check(meta["status"] == "FAILURE", f"status {meta['status']}")
    check(meta["result"] == {"exc_type": "WorkerLostError",
                             "exc_message": ["Worker exited prematurely: signal 9 (SIGKILL)"],
                             "exc_module": "billiard.exceptions"}, f"result {meta['result']}")
    check(get_meta(r, after_id)["result"] == 3, "the next task ran")
    check(r.llen("celeriac.dead") == 0, "not dead-lettered: failed once")


def test_test_tasks_refused_by_default(env):
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1)
    crash_id, crash_msg = make_message("celeriac.crash", ["SIGKILL"])
    enqueue(r, [crash_msg])
    wait_until(lambda: get_meta(r, crash_id) is not None, 10, what="the refusal")
    check(get_meta(r, crash_id)["result"]["exc_type"] == "NotRegistered", "unknown without --enable-test-tasks")
    check(dead_entries(r)[0]["reason"] == "unknown_task", "dead-lettered as unknown")
    check(len(w.children()) == 1, "no child died")


def test_recycling(env):
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, prefetch=2, extra=["--max-tasks-per-child", "10"])
    first = w.children()
    adds = [make_message("celeriac.add", [i, 0]) for i in range(35)]
    enqueue(r, [m for _, m in adds])
    ids = [i for i, _ in adds]
    wait_until(lambda: all_done(r, ids), 30, what="35 adds")
    retired = w.log().count("retired itself")
    check(retired >= 3, f"children retired {retired} times for 35 tasks at 10 per child")
    counts = w.success_counts()
    check(all(counts.get(i) == 1 for i in ids), "each add ran exactly once")
    check("keeps dying" not in w.log(), "recycling is not a crash loop")
    log(f"first child {first}, children seen {sorted(w.seen_children)}")


def test_memory_recycling(env):
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, extra=["--enable-test-tasks", "--max-memory-per-child", "60000"])
    first = w.children()
    grow_id, grow_msg = make_message("celeriac.grow", [80000])
    after_id, after_msg = make_message("celeriac.add", [2, 2])
    enqueue(r, [grow_msg, after_msg])
    wait_until(lambda: all_done(r, [grow_id, after_id]), 20, what="grow and the add after it")
    wait_until(lambda: "over --max-memory-per-child" in w.log(), 10, what="the memory log line")
    wait_until(lambda: w.children() and w.children() != first, 10, what="a fresh child")


def test_hard_time_limit(env):
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, prefetch=4, extra=["--enable-test-tasks", "--time-limit", "1"])
    spin_id, spin_msg = make_message("celeriac.spin", [30])
    adds = [make_message("celeriac.add", [i, 1]) for i in range(3)]
    enqueue(r, [spin_msg] + [m for _, m in adds])
    wait_until(lambda: get_meta(r, spin_id) is not None, 15, what="the runaway task's result")
    meta = get_meta(r, spin_id)
    check(meta["status"] == "FAILURE" and meta["result"]["exc_type"] == "TimeLimitExceeded",
          f"spin result {meta}")
    ids = [i for i, _ in adds]
    wait_until(lambda: all_done(r, ids), 15, what="the tasks held behind it")
    check("passed its hard time limit" in w.log(), "the kill is logged")
    check(r.hlen("unacked") == 0, "nothing left unacked")


def test_delayed_in_redis(env):
    """Messages due later than --eta-horizon wait in celeriac.delayed.<queue>,
    not in the worker, survive the worker's death, and run when due."""
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, extra=["--eta-horizon", "1"])
    eta = utc_now() + datetime.timedelta(seconds=6)
    delayed = [make_message("celeriac.add", [i, 0], eta=eta) for i in range(300)]
    enqueue(r, [m for _, m in delayed])
    wait_until(lambda: r.zcard("celeriac.delayed.celery") == 300, 10, what="300 messages in the delayed set")
    check(r.hlen("unacked") == 0 and r.llen("celery") == 0, "held nowhere else")
    # The whole worker dies; a new one finds them.
    kids = w.children()
    w.signal(signal.SIGKILL)
    for c in kids:
        os.kill(c, signal.SIGKILL)
    w.wait(10)
    w2 = env.worker(srv.url, name="w2", concurrency=1, extra=["--eta-horizon", "1"])
    ids = [i for i, _ in delayed]
    wait_until(lambda: all_done(r, ids), 30, what="the delayed tasks")
    metas = get_metas(r, ids)
    early = [i for i in ids if parse_date_done(metas[i]) < eta]
    check(not early, f"{len(early)} ran before their eta")
    check(r.zcard("celeriac.delayed.celery") == 0, "the delayed set is empty")
    counts = w2.success_counts()
    wrong = {i: counts.get(i) for i in ids if counts.get(i) != 1}
    check(not wrong, f"{len(wrong)} did not run exactly once: {list(wrong.items())[:5]}")


def test_autoscale(env):
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, start=False,
                   extra=["--autoscale", "4,1", "--autoscale-keepalive", "2"])
    w.start(wait_children=True)
    check(len(w.children()) == 1, f"starts with MIN children: {w.children()}")
    sleeps = [make_message("celeriac.sleep", [1]) for _ in range(12)]
    enqueue(r, [m for _, m in sleeps])
    wait_until(lambda: len(w.children()) == 4, 10, what="the pool to grow to MAX")
    ids = [i for i, _ in sleeps]
    wait_until(lambda: all_done(r, ids), 30, what="the sleeps")
    wait_until(lambda: len(w.children()) == 1, 30, what="the pool to shrink back to MIN")
    check("growing the pool" in w.log() and "shrinking the pool" in w.log(), "both logged")
    check("keeps dying" not in w.log() and "killed by signal" not in w.log(), "shrinking is not a crash")


def test_rate_limit_cluster_wide(env):
    """5/s for celeriac.add across two workers: never more than 5 runs in
    any second, other tasks not held up, nothing lost."""
    srv = env.redis()
    r = srv.client()
    flags = ["--rate-limit", "celeriac.add=5/s"]
    env.worker(srv.url, name="a", concurrency=2, extra=flags)
    env.worker(srv.url, name="b", concurrency=2, extra=flags)
    adds = [make_message("celeriac.add", [i, 0]) for i in range(20)]
    others = [make_message("celeriac.echo", [i]) for i in range(20)]
    enqueue(r, [m for pair in zip(adds, others) for _, m in pair])
    other_ids = [i for i, _ in others]
    wait_until(lambda: all_done(r, other_ids), 5, what="the unlimited tasks, not held up by the limited ones")
    ids = [i for i, _ in adds]
    wait_until(lambda: all_done(r, ids), 30, what="the rate-limited adds")
    metas = get_metas(r, ids)
    times = sorted(parse_date_done(metas[i]).timestamp() for i in ids)
    worst = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    span = times[-1] - times[0]
    log(f"20 adds at 5/s over two workers: {span:.2f} s from first to last, at most {worst} in any second")
    # A run is admitted by Redis before it starts; its result is stored
    # microseconds later, so a one-second window of results holds at most
    # the limit plus one for clock granularity.
    check(worst <= 6, f"{worst} runs finished within one second, limit 5/s")
    check(span >= 3.0, f"20 runs at 5/s took only {span:.2f} s")


def test_rate_limit_at_run_time(env):
    """`celeriac rate-limit NAME RATE` reaches running workers."""
    import subprocess
    from support import celeriac_bin
    srv = env.redis()
    r = srv.client()
    env.worker(srv.url, concurrency=2)
    subprocess.run([celeriac_bin(), "rate-limit", "celeriac.add", "2/s", "-b", srv.url], check=True,
                   capture_output=True)
    time.sleep(2.5)  # workers read run-time limits every 2 s
    adds = [make_message("celeriac.add", [i, 0]) for i in range(6)]
    enqueue(r, [m for _, m in adds])
    ids = [i for i, _ in adds]
    wait_until(lambda: all_done(r, ids), 20, what="the adds")
    metas = get_metas(r, ids)
    times = sorted(parse_date_done(metas[i]).timestamp() for i in ids)
    check(times[-1] - times[0] >= 2.0, f"6 runs at 2/s took {times[-1] - times[0]:.2f} s")


def test_supervisor_outcomes_reach_the_job_store(env):
    """A FAILURE the supervisor decides (the child died) is written to
    celeriac_jobs too, by a child with a database connection."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration", "jobs"))
    from pg_support import migrate, wait_state, with_postgres
    pg = with_postgres(env)
    migrate(pg)
    srv = env.redis()
    r = srv.client()
    env.worker(srv.url, concurrency=1,
               extra=["--enable-test-tasks", "--no-requeue-on-crash", "--database", pg.url])
    crash_id, crash_msg = make_message("celeriac.crash", ["SIGKILL"])
    enqueue(r, [crash_msg])
    row = wait_state(pg, crash_id, ("FAILURE",), 20)
    check("WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL)" in (row["error"] or ""),
          f"celeriac_jobs error: {row['error']}")
    check(r.llen("celeriac.job_outcomes") == 0, "the hand-over list is drained")


if __name__ == "__main__":
    run_suite("system_operations", [
        ("fair_dispatch", test_fair_dispatch),
        ("idle_wake_holds_no_more_than_the_prefetch", test_idle_wake_holds_no_more_than_the_prefetch),
        ("busy_node_fetches_nothing_while_paused", test_busy_node_fetches_nothing_while_paused),
        ("idle_node_wakes_one_child_per_message", test_idle_node_wakes_one_child_per_message),
        ("poison_message_dead_lettered", test_poison_message_dead_lettered),
        ("no_requeue_on_crash", test_no_requeue_on_crash),
        ("test_tasks_refused_by_default", test_test_tasks_refused_by_default),
        ("recycling", test_recycling),
        ("memory_recycling", test_memory_recycling),
        ("hard_time_limit", test_hard_time_limit),
        ("delayed_in_redis", test_delayed_in_redis),
        ("autoscale", test_autoscale),
        ("rate_limit_cluster_wide", test_rate_limit_cluster_wide),
        ("rate_limit_at_run_time", test_rate_limit_at_run_time),
        ("supervisor_outcomes_reach_the_job_store", test_supervisor_outcomes_reach_the_job_store),
    ])
