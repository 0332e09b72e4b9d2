#!/usr/bin/python3
"""System test: the worker parent supervises its children.

* kill_child_is_replaced: SIGKILL one child while it runs a long sleep. The
  parent logs "worker child N (pid X) killed by signal 9 (SIGKILL); starting
  a replacement", a new child appears, new tasks are still processed, and
  the sleep the dead child held is restored once it is older than the
  visibility timeout (2 s) and then completes. The sleep held by the
  surviving child (also longer than the visibility timeout) is NOT restored:
  its holder keeps its unacked_index score fresh.
* crash_loop_backoff: a child killed again and again right after it starts
  gets a delayed replacement (logged), and the worker recovers and works.
* restorer_killed_mid_restore: child 1 is SIGKILLed while it holds
  `unacked_mutex` restoring a dead child's messages; those messages must
  still come back soon (the lock's PX 300000 must not stall recovery for
  5 minutes when the visibility timeout is 2 s).
"""

import datetime
import json
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (check, enqueue, get_metas, log, make_message, rng, run_suite, utc_now,  # noqa: E402
                     wait_until)

REDELIVERED = re.compile(r"was running when its child \(pid \d+\) died \(signal 9 \(SIGKILL\)\); redelivering it")
RESTORED = re.compile(r"restored (\d+) message\(s\) left unacknowledged longer than the visibility timeout")


def death_line(pid):
    return re.compile(r"worker child (\d+) \(pid " + str(pid) +
                      r"\) killed by signal 9 \(SIGKILL\); starting a replacement")


def all_success(r, ids):
    metas = get_metas(r, ids)
    return all(m is not None and m["status"] == "SUCCESS" for m in metas.values())


def test_kill_child_is_replaced(env):
    random = rng()
    srv = env.redis()
    r = srv.client()
    sleeps = [make_message("celeriac.sleep", [5]) for _ in range(2)]
    enqueue(r, [m for _, m in sleeps])
    sleep_ids = [i for i, _ in sleeps]
    # An hour of visibility timeout: the dead child's message must come
    # back through the supervisor, at once, not through restore_visible.
    w = env.worker(srv.url, concurrency=2, prefetch=1, visibility_timeout=3600)
    wait_until(lambda: r.hlen("unacked") == 2 and r.llen("celery") == 0, 20,
               what="each child to hold one sleep(5)")
    before = w.children()
    check(len(before) == 2, f"expected 2 children, found {before}")
    time.sleep(0.3)
    victim = random.choice(before)
    log(f"children {before}; SIGKILL {victim}")
    check(w.kill_child(victim), "victim is not a child of the worker")
    killed_at = time.monotonic()

    line = wait_until(lambda: death_line(victim).search(w.log()), 10, what="the parent's log line for the dead child")
    log(f"parent logged: {line.group(0)}")
    after = wait_until(lambda: (lambda c: c if len(c) == 2 and victim not in c else None)(w.children()), 15,
                       what="a replacement child")
    new = [p for p in after if p not in before]
    check(len(new) == 1, f"children before {before}, after {after}: expected exactly one new child")
    log(f"replacement child {new[0]}")

    # Tasks still get processed (by the replacement: the other child sleeps).
    adds = [make_message("celeriac.add", [i, 1]) for i in range(20)]
    enqueue(r, [m for _, m in adds])
    add_ids = [i for i, _ in adds]
    wait_until(lambda: all_success(r, add_ids), 30, what="20 adds sent after the kill to succeed")
    metas = get_metas(r, add_ids)
    for n, tid in enumerate(add_ids):
        check(metas[tid]["result"] == n + 1, f"add {tid} result {metas[tid]['result']}")

    # The dead child's sleep is redelivered by the supervisor at once.
    wait_until(lambda: REDELIVERED.search(w.log()), 30, what="the dead child's message to be redelivered")
    restored_after = time.monotonic() - killed_at
    log(f"redelivery logged {restored_after:.1f}s after the kill")
    wait_until(lambda: all_success(r, sleep_ids), 40, what="both sleeps to succeed")
    wait_until(lambda: r.hlen("unacked") == 0 and r.llen("celery") == 0, 10, what="unacked and the queue to empty")

    text = w.log()
    redelivered_total = len(REDELIVERED.findall(text))
    check(redelivered_total == 1,
          f"{redelivered_total} messages redelivered; expected exactly 1 (the dead child's), not the live child's")
    check(not RESTORED.search(text), "nothing should wait for the visibility timeout")
    metas = get_metas(r, sleep_ids)
    counts = w.success_counts()
    for tid in sleep_ids + add_ids:
        check(counts.get(tid, 0) == 1, f"task {tid} completed {counts.get(tid, 0)} times, expected once")

    w.signal(signal.SIGTERM)
    rc = w.wait(30)
    check(rc == 0, f"exit code {rc} after SIGTERM, expected 0")


def test_crash_loop_backoff(env):
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, prefetch=4, visibility_timeout=2)
    killed = []
    for _ in range(3):
        # Kill the current child as soon as it appears (well before the 2 s a
        # child must live to count as healthy).
        kids = wait_until(lambda: [p for p in w.children() if p not in killed], 30, interval=0.01,
                          what="a (replacement) child")
        check(w.kill_child(kids[0]), "not a child")
        killed.append(kids[0])
        wait_until(lambda: death_line(kids[0]).search(w.log()), 10, what="the death line")
    log(f"killed {killed}")
    check("keeps dying right after start; next start in" in w.log(), "no crash-loop back-off line in the log")
    kid = wait_until(lambda: [p for p in w.children() if p not in killed], 30, what="a child after the back-off")
    log(f"child {kid} runs after the back-off")
    adds = [make_message("celeriac.add", [i, i]) for i in range(10)]
    enqueue(r, [m for _, m in adds])
    wait_until(lambda: all_success(r, [i for i, _ in adds]), 30, what="adds to succeed after the crash loop")
    w.signal(signal.SIGTERM)
    rc = w.wait(30)
    check(rc == 0, f"exit code {rc} after SIGTERM, expected 0")


def test_restorer_killed_mid_restore(env):
    """Child 1 restores stale messages under `unacked_mutex` (SET NX PX
    300000, kombu's lock). If it is SIGKILLed while it holds the lock, the
    stale messages must still come back within a time related to the
    visibility timeout, not after the lock's 300 s expiry."""
    srv = env.redis()
    r = srv.client()
    n = 1000
    eta = utc_now() + datetime.timedelta(seconds=3600)
    # The stale entries of a worker whose whole host died (its supervisor
    # gone too, so only restore_visible can bring them back): unacked
    # entries in kombu's layout, scored an hour ago.
    stale_at = time.time() - 3600
    pipe = r.pipeline()
    for i in range(n):
        tid, body = make_message("celeriac.add", [i, 0], eta=eta)
        tag = json.loads(body)["properties"]["delivery_tag"]
        pipe.hset("unacked", tag, json.dumps([json.loads(body), "", "celery"]))
        pipe.zadd("unacked_index", {tag: stale_at + i * 1e-6})
    pipe.execute()
    w = env.worker(srv.url, concurrency=1, prefetch=4, visibility_timeout=2)
    log(f"{n} stale entries of a dead host; the worker's restorer takes unacked_mutex to restore them")
    # Catch the replacement (child 1, the restorer) while it holds the lock
    # restoring the stale entries, and kill it there.
    restorer = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if r.pttl("unacked_mutex") > 0:
            kids = w.children()
            if kids and w.kill_child(kids[0]):
                killed_at = time.time()
                restorer = kids[0]
                break
        time.sleep(0.001)
    check(restorer is not None, "could not catch the restorer holding unacked_mutex")
    log(f"killed the restorer {restorer} holding unacked_mutex (PTTL {r.pttl('unacked_mutex')} ms); "
        f"queue {r.llen('celery')}, unacked {r.hlen('unacked')}")

    # Every entry scored before that kill belongs to a dead child (the
    # holder or the restorer itself): each must be restored (and is then
    # fetched again by the next replacement, with a fresh score).
    def dead_entries():
        return r.zcount("unacked_index", 0, killed_at)
    try:
        wait_until(lambda: dead_entries() == 0, 60, interval=0.5,
                   what="the dead children's messages to be restored")
    except AssertionError:
        raise AssertionError(f"{dead_entries()} messages of dead children still unrestored 60 s after the restorer "
                             f"was killed, with a 2 s visibility timeout: the unacked_mutex it left still has PTTL "
                             f"{r.pttl('unacked_mutex')} ms and blocks every restore until it expires")
    log(f"restored within {time.time() - killed_at:.1f}s of the restorer's death")
    # Restored ones are fetched again; due in an hour, they then wait in the
    # delayed set.
    check(r.llen("celery") + r.hlen("unacked") + r.zcard("celeriac.delayed.celery") == n, "messages were lost")


if __name__ == "__main__":
    run_suite("system_supervisor", [
        ("kill_child_is_replaced", test_kill_child_is_replaced),
        ("crash_loop_backoff", test_crash_loop_backoff),
        ("restorer_killed_mid_restore", test_restorer_killed_mid_restore),
    ])
