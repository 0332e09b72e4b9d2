#!/usr/bin/python3
"""System test: eta/countdown and expires.

* countdown_not_run_early: a countdown=2 task sent by Celery's own client
  (send_task) is held and runs no earlier than its eta: its date_done is
  after send time + 2 s.
* expired_is_revoked: a message whose `expires` is already past gets a
  REVOKED meta (TaskRevokedError) and is not run; one whose eta comes after
  its expiry is held, then revoked at its eta, not run.
* eta_longer_than_visibility_timeout_runs_once: two workers, both with a 2 s
  visibility timeout (both restore stale unacked messages every second), and
  a countdown=6 task. Whichever worker holds it keeps its unacked_index
  score fresh, so the other never restores it: it never reappears in the
  queue and runs exactly once, after its eta.

  With Celery/kombu the same set-up runs the task more than once: kombu
  scores the unacked_index entry with the delivery time and never refreshes
  it, so once the eta task has been held longer than visibility_timeout the
  next restore_visible of any worker (at its start, then every ~100 s)
  pushes it back to the queue while its holder still waits for the eta; it
  is delivered again and both copies run (Celery's docs warn that an
  eta/countdown longer than the visibility timeout makes the task run
  multiple times). celeriac's holder refreshes the score every
  clamp(vt/4, 250 ms, 30 s), which is what this test proves.
"""

import datetime
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (check, enqueue, get_meta, log, make_message, parse_date_done, run_suite,  # noqa: E402
                     utc_now, wait_until)


def celery_client(url):
    import celery
    app = celery.Celery("systemtest", broker=url, backend=url)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"], timezone="UTC",
                    enable_utc=True, broker_connection_retry=False)
    return app


def wait_meta(r, tid, status, timeout):
    return wait_until(lambda: (lambda m: m if m and m["status"] == status else None)(get_meta(r, tid)), timeout,
                      what=f"task {tid} to reach {status}")


def stop(w):
    w.signal(signal.SIGTERM)
    rc = w.wait(30)
    check(rc == 0, f"worker {w.name} exit code {rc} after SIGTERM, expected 0")


def test_countdown_not_run_early(env):
    srv = env.redis()
    r = srv.client()
    w = env.worker(srv.url, concurrency=1, prefetch=4)
    app = celery_client(srv.url)
    try:
        sent_at = utc_now()
        res = app.send_task("celeriac.add", args=[2, 3], countdown=2)
        tid = res.id
    finally:
        app.close()
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen("celery") == 0, 10, what="the worker to hold the eta task")
    check(get_meta(r, tid) is None, "the countdown task already has a result")
    meta = wait_meta(r, tid, "SUCCESS", 30)
    check(meta["result"] == 5, f"result {meta['result']!r}, expected 5")
    done = parse_date_done(meta)
    earliest = sent_at + datetime.timedelta(seconds=2)
    log(f"sent {sent_at.time()}, eta >= {earliest.time()}, date_done {done.time()}")
    check(done >= earliest, f"date_done {done} is before send time + 2 s ({earliest}): the task ran before its eta")
    check(w.success_counts().get(tid) == 1, "the task did not complete exactly once")
    wait_until(lambda: r.hlen("unacked") == 0, 10, what="unacked to empty")
    stop(w)


def test_expired_is_revoked(env):
    srv = env.redis()
    r = srv.client()
    now = utc_now()
    past_id, past = make_message("celeriac.add", [1, 1], expires=now - datetime.timedelta(seconds=10))
    # Held for its eta, but it expires before then: revoked at its eta.
    late_id, late = make_message("celeriac.add", [2, 2], eta=now + datetime.timedelta(seconds=3),
                                 expires=now + datetime.timedelta(seconds=1))
    ok_id, ok = make_message("celeriac.add", [3, 3], expires=now + datetime.timedelta(seconds=300))
    enqueue(r, [past, late, ok])
    w = env.worker(srv.url, concurrency=1, prefetch=4)
    meta = wait_meta(r, past_id, "REVOKED", 20)
    check(meta["result"].get("exc_type") == "TaskRevokedError", f"REVOKED meta result {meta['result']}")
    check(wait_meta(r, ok_id, "SUCCESS", 20)["result"] == 6, "the unexpired task did not run")
    meta = wait_meta(r, late_id, "REVOKED", 20)
    check(meta["result"].get("exc_type") == "TaskRevokedError", f"REVOKED meta result {meta['result']}")
    check(parse_date_done(meta) >= now + datetime.timedelta(seconds=3), "the held task was revoked before its eta")
    counts = w.success_counts()
    check(counts.get(past_id, 0) == 0 and counts.get(late_id, 0) == 0, "an expired task was run")
    text = w.log()
    check(f"[{past_id}] expired" in text and f"[{late_id}] expired" in text, "the expiries were not logged")
    wait_until(lambda: r.hlen("unacked") == 0 and r.llen("celery") == 0, 10, what="unacked and queue to empty")
    stop(w)


def test_eta_longer_than_visibility_timeout_runs_once(env):
    srv = env.redis()
    r = srv.client()
    a = env.worker(srv.url, name="a", concurrency=1, prefetch=4, visibility_timeout=2)
    b = env.worker(srv.url, name="b", concurrency=1, prefetch=4, visibility_timeout=2)
    sent_at = utc_now()
    eta = sent_at + datetime.timedelta(seconds=6)
    tid, msg = make_message("celeriac.add", [40, 2], eta=eta)
    tag = json.loads(msg)["properties"]["delivery_tag"]
    enqueue(r, [msg])
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen("celery") == 0, 10, what="a worker to hold the eta task")
    first_score = r.zscore("unacked_index", tag)
    check(first_score is not None, "the held message has no unacked_index entry")
    # Until the task is done, the message must never be back in the queue
    # (a restore) and the held entry's score must keep moving forward.
    scores = [first_score]
    reappeared = 0
    deadline = time.monotonic() + 30
    while get_meta(r, tid) is None and time.monotonic() < deadline:
        if r.llen("celery") > 0:
            reappeared += 1
        s = r.zscore("unacked_index", tag)
        if s is not None:
            scores.append(s)
        time.sleep(0.1)
    meta = wait_meta(r, tid, "SUCCESS", 5)
    log(f"unacked_index score went from {scores[0]:.3f} to {max(scores):.3f} "
        f"({max(scores) - scores[0]:.1f}s of refreshes) while the task waited for its eta")
    check(reappeared == 0, f"the held eta message reappeared in the queue {reappeared} times (restored while held)")
    check(max(scores) - scores[0] >= 3, "the holder did not keep the unacked_index score fresh")
    check(meta["result"] == 42, f"result {meta['result']!r}")
    check(parse_date_done(meta) >= eta, f"ran before its eta: date_done {meta['date_done']}, eta {eta}")
    time.sleep(3)  # give a (wrong) duplicate time to show up
    runs = a.success_counts().get(tid, 0) + b.success_counts().get(tid, 0)
    check(runs == 1, f"the task ran {runs} times across the two workers, expected exactly once")
    for w in (a, b):
        check("left unacknowledged longer than the visibility timeout" not in w.log(),
              f"worker {w.name} restored a message that a live worker held")
    check(r.hlen("unacked") == 0 and r.llen("celery") == 0, "unacked or the queue not empty at the end")
    stop(a)
    stop(b)


if __name__ == "__main__":
    run_suite("system_eta_expires", [
        ("countdown_not_run_early", test_countdown_not_run_early),
        ("expired_is_revoked", test_expired_is_revoked),
        ("eta_longer_than_visibility_timeout_runs_once", test_eta_longer_than_visibility_timeout_runs_once),
    ])
