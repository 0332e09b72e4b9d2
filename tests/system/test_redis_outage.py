#!/usr/bin/python3
"""System test: the worker rides out a Redis outage by itself.

* restart_during_processing: Redis (with an append-only file, which a
  SIGTERMed Redis flushes before it exits, so its data survives) is stopped
  with SIGTERM while 2,000 tasks are being processed, and started again on the same port ~3 s later. The same worker
  (never restarted by the test) reconnects, every task ends SUCCESS with the
  right result, and nothing is left in `unacked`, `unacked_index` or the
  queue.
* worker_started_before_redis: a worker started while nothing listens on the
  broker port keeps retrying (it neither exits nor spins) and starts working
  once Redis appears.
"""

import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (check, enqueue, free_port, get_metas, log, make_message, run_suite,  # noqa: E402
                     wait_until)

N_TASKS = 2000


def missing(r, ids):
    return [t for t, m in get_metas(r, ids).items() if m is None or m["status"] != "SUCCESS"]


def test_restart_during_processing(env):
    srv = env.redis(persistent=True)
    r = srv.client()
    expected = {}
    msgs = []
    for i in range(N_TASKS):
        if i % 2:
            tid, m = make_message("celeriac.sleep", [0.005])
            expected[tid] = None
        else:
            tid, m = make_message("celeriac.add", [i, 1])
            expected[tid] = i + 1
        msgs.append(m)
    enqueue(r, msgs)
    w = env.worker(srv.url, concurrency=2, prefetch=16, visibility_timeout=30)
    children_before = w.children()

    # Stop Redis once processing is well under way but far from done.
    wait_until(lambda: r.llen("celery") <= N_TASKS - 300, 60, interval=0.02, what="300 tasks to be fetched")
    left = r.llen("celery")
    check(left > 0, "all tasks were fetched before Redis could be stopped; make the tasks slower")
    r.close()
    srv.stop()
    log(f"Redis stopped with SIGTERM ({left} messages still queued at the last look)")
    time.sleep(3)
    check(w.proc.poll() is None, f"the worker exited while Redis was down ({w.proc.returncode})")
    srv.start()
    r = srv.client()
    log(f"Redis started again on port {srv.port}: queue {r.llen('celery')}, unacked {r.hlen('unacked')}")
    check(r.llen("celery") + r.hlen("unacked") > 0, "Redis came back empty: the data did not survive the restart")

    try:
        wait_until(lambda: not missing(r, expected), 120, interval=0.5, what="every task to succeed")
    except AssertionError:
        m = missing(r, expected)
        raise AssertionError(f"{len(m)} tasks without SUCCESS, e.g. {m[:5]}; queue {r.llen('celery')}, "
                             f"unacked {r.hlen('unacked')}")
    metas = get_metas(r, expected)
    wrong = [t for t, want in expected.items() if metas[t]["result"] != want]
    check(not wrong, f"{len(wrong)} wrong results, e.g. {wrong[:3]}")
    wait_until(lambda: r.llen("celery") == 0 and r.hlen("unacked") == 0 and r.zcard("unacked_index") == 0, 60,
               interval=0.2, what="the queue and unacked to be empty")
    check(w.proc.poll() is None, "the worker parent is gone")
    text = w.log()
    children_after = w.children()
    replaced = [p for p in children_before if p not in children_after]
    counts = w.success_counts()
    twice = sum(1 for t in expected if counts.get(t, 0) > 1)
    log(f"children before {children_before}, after {children_after} (replaced: {replaced or 'none'}); "
        f"tasks completed twice: {twice}; reconnect attempts logged: {text.count('reconnect attempt')}")
    deaths = re.findall(r".*starting a replacement.*", text)
    check(not deaths, f"worker children died during the outage (they should reconnect in place): {deaths[:3]}")
    w.signal(signal.SIGTERM)
    rc = w.wait(60)
    check(rc == 0, f"exit code {rc} after SIGTERM, expected 0")


def test_worker_started_before_redis(env):
    port = free_port()
    srv = env.redis(port=port, start=False)
    w = env.worker(srv.url, concurrency=1, prefetch=4, visibility_timeout=30)
    time.sleep(3)
    check(w.proc.poll() is None, f"the worker exited while Redis was absent ({w.proc.returncode})")
    check(len(w.children()) == 1, f"expected one child retrying, found {w.children()}")
    text = w.log()
    attempts = text.count("reconnect attempt")
    log(f"{attempts} reconnect attempts logged in 3 s")
    check(attempts >= 1, "no reconnect attempt was logged while Redis was absent")
    check(attempts < 200, f"{attempts} reconnect attempts in 3 s: the worker spins instead of backing off")
    srv.start()
    r = srv.client()
    adds = [make_message("celeriac.add", [i, 2]) for i in range(20)]
    enqueue(r, [m for _, m in adds])
    ids = [i for i, _ in adds]
    wait_until(lambda: not missing(r, ids), 60, interval=0.2, what="the worker to run tasks once Redis is up")
    wait_until(lambda: r.hlen("unacked") == 0, 10, what="unacked to empty")
    w.signal(signal.SIGTERM)
    rc = w.wait(60)
    check(rc == 0, f"exit code {rc} after SIGTERM, expected 0")


if __name__ == "__main__":
    run_suite("system_redis_outage", [
        ("restart_during_processing", test_restart_during_processing),
        ("worker_started_before_redis", test_worker_started_before_redis),
    ])
