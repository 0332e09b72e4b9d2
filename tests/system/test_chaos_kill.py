#!/usr/bin/python3
"""Chaos: 20,000 tasks (sleeps of 0.5 ms) while a worker child is SIGKILLed every 200 ms.
Zero lost, every result present, duplicates only for tasks a killed child
had in flight (running, or finished with the result not yet written), and
the run takes no more than a few seconds longer than the same run without
kills: a dead child's messages come back
through the supervisor at once, never through the (one hour) visibility
timeout."""

import os
import random
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import check, enqueue, get_metas, log, make_message, rng, run_suite, wait_until  # noqa: E402

N = int(os.environ.get("CELERIAC_CHAOS_TASKS", "20000"))
PREFETCH = 100
REDELIVERED = re.compile(r"Task \S+\[([0-9a-f-]+)\] was running when its child \(pid \d+\) died")


def drain(env, name, kill_every=None, random_=None):
    srv = env.redis()
    r = srv.client()
    # Half a millisecond each: long enough that every kill finds work in
    # hand (a running task and prefetched ones), short enough to stay fast.
    msgs = [make_message("celeriac.sleep", [0.0005]) for i in range(N)]
    enqueue(r, [m for _, m in msgs])
    ids = [i for i, _ in msgs]
    start = time.monotonic()
    w = env.worker(srv.url, name=name, concurrency=2, prefetch=PREFETCH, visibility_timeout=3600)
    kills = 0

    def done():
        return r.llen("celery") == 0 and r.hlen("unacked") == 0
    while not done():
        if time.monotonic() - start > 120:
            raise AssertionError(f"not drained after 120 s: queue {r.llen('celery')}, unacked {r.hlen('unacked')}")
        if kill_every:
            time.sleep(kill_every)
            kids = w.children()
            if kids:
                os.kill(random_.choice(kids), signal.SIGKILL)
                kills += 1
        else:
            time.sleep(0.02)
    elapsed = time.monotonic() - start
    metas = get_metas(r, ids)
    missing = [i for i in ids if metas.get(i) is None]
    check(not missing, f"{len(missing)} results missing, e.g. {missing[:3]}")
    wrong = [n for n, i in enumerate(ids) if metas[i]["status"] != "SUCCESS" or metas[i]["result"] is not None]
    check(not wrong, f"{len(wrong)} wrong results, e.g. task #{wrong[:3]}")
    counts = w.success_counts()
    dups = {i for i in ids if counts.get(i, 0) > 1}
    redelivered = set(REDELIVERED.findall(w.log()))
    # A second run is allowed only for what a killed child had in flight:
    # the task it was running (redelivered), and tasks it had finished whose
    # result and ack were not yet written (at-least-once: they go back with
    # the unstarted ones). That is at most the prefetch per kill.
    unexplained = dups - redelivered
    check(len(unexplained) <= kills * PREFETCH,
          f"{len(unexplained)} tasks ran twice with {kills} kills of children holding at most {PREFETCH} each")
    check(all(counts.get(i, 0) >= 1 for i in ids), "every task ran")
    check("left unacknowledged longer than the visibility timeout" not in w.log(), "no visibility-timeout restore")
    w.signal(signal.SIGTERM)
    w.wait(30)
    log(f"{name}: {N} tasks in {elapsed:.2f} s with {kills} kills; {len(dups)} ran twice, "
        f"{len(redelivered)} redelivered")
    return elapsed, kills


def test_kill_every_200ms(env):
    base, _ = drain(env, "calm")
    chaos, kills = drain(env, "chaos", kill_every=0.2, random_=rng())
    log(f"without kills {base:.2f} s, with {kills} kills {chaos:.2f} s (+{chaos - base:.2f} s)")
    check(kills >= 3 or chaos < 1.0, f"only {kills} kills happened")
    # Generous on a shared 2-core machine; a visibility-timeout wait would
    # be an hour.
    check(chaos - base < 15, f"with kills the run took {chaos - base:.1f} s longer than without")


if __name__ == "__main__":
    run_suite("system_chaos_kill", [("kill_every_200ms", test_kill_every_200ms)])
