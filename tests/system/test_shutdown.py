#!/usr/bin/python3
"""System test: warm and cold shutdown of `celeriac worker` (signals sent to
the PARENT process).

* warm (SIGTERM): the running task finishes and stores SUCCESS; the
  prefetched messages go back to the FRONT of their queue flagged
  redelivered, so they are popped again in their original order; `unacked`
  is left empty; exit code 0; the warm shutdown line is logged.
* cold (SIGQUIT): every held message goes back, the running one too, and the
  parent exits promptly; nothing is stored for the interrupted task.
* SIGINT twice: the first is warm, the second turns it cold.
* cold with thousands of prefetched messages: the running task, interrupted,
  is still put back rather than stored as SUCCESS.
* a held eta task (countdown 60) is put back by a warm shutdown too.
* in each case a second worker started afterwards runs everything that was
  put back, each task exactly once.
"""

import datetime
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from support import (check, decode, enqueue, get_meta, get_metas, log, make_message, run_suite,  # noqa: E402
                     utc_now, wait_until)

QUEUE = "celery"
# These tests are about what a shutdown does with messages a child holds:
# keep them held (no fair-dispatch hand-back while a task runs, eta tasks
# held in memory rather than in Redis's delayed set).
HOLD_EVERYTHING = ["--hand-back-after", "0", "--eta-horizon", "300"]


def queued_in_pop_order(r):
    """The queue's messages in the order BRPOP/RPOP would serve them."""
    return list(reversed([m.decode() for m in r.lrange(QUEUE, 0, -1)]))


def setup_running_and_prefetched(env):
    """Redis + one sleep(3) then three adds, and a worker -c 1 with prefetch
    4 that holds all four: the sleep running, the adds prefetched."""
    srv = env.redis()
    r = srv.client()
    sleep_id, sleep_msg = make_message("celeriac.sleep", [3])
    adds = [make_message("celeriac.add", [i, 100]) for i in range(3)]
    enqueue(r, [sleep_msg] + [m for _, m in adds])
    originals = {sleep_id: sleep_msg, **{i: m for i, m in adds}}
    w = env.worker(srv.url, name="first", concurrency=1, prefetch=4, extra=HOLD_EVERYTHING)
    wait_until(lambda: r.hlen("unacked") == 4, 20, what="the worker to hold all 4 messages in unacked")
    check(r.llen(QUEUE) == 0, "the queue should be empty once the worker holds everything")
    time.sleep(0.5)  # the sleep task is running by now (it was fetched first)
    check(get_meta(r, sleep_id) is None, "the sleep(3) finished before the shutdown signal; the test needs it running")
    return srv, r, w, sleep_id, [i for i, _ in adds], originals


def check_put_back(r, expected_ids, originals):
    """The queue holds exactly expected_ids in pop order, each flagged
    redelivered and otherwise the message that was sent (same delivery tag,
    headers, body)."""
    msgs = queued_in_pop_order(r)
    got_ids = [decode(m)[0]["headers"]["id"] for m in msgs]
    check(got_ids == expected_ids, f"queue in pop order is {got_ids}, expected {expected_ids}")
    for m in msgs:
        env, _ = decode(m)
        tid = env["headers"]["id"]
        orig, _ = decode(originals[tid])
        check(env["headers"].get("redelivered") is True, f"message {tid} put back without headers.redelivered == true")
        check(env["properties"]["delivery_info"].get("redelivered") is True,
              f"message {tid} put back without properties.delivery_info.redelivered == true")
        check(env["properties"]["delivery_tag"] == orig["properties"]["delivery_tag"],
              f"message {tid} put back with a different delivery tag")
        check(env["body"] == orig["body"], f"message {tid} put back with a different body")
        h = dict(env["headers"])
        h.pop("redelivered")
        check(h == orig["headers"], f"message {tid} put back with different headers: {h} vs {orig['headers']}")
    check(r.hlen("unacked") == 0, f"unacked still has {r.hlen('unacked')} entries")
    check(r.zcard("unacked_index") == 0, f"unacked_index still has {r.zcard('unacked_index')} entries")


def run_put_back_in_second_worker(env, srv, r, first, ids, expected_results):
    """A second worker runs everything that was put back, each exactly once."""
    second = env.worker(srv.url, name="second", concurrency=1, prefetch=4, extra=HOLD_EVERYTHING)
    wait_until(lambda: all(m and m["status"] == "SUCCESS" for m in get_metas(r, ids).values()), 60,
               what="the second worker to run every put-back task")
    metas = get_metas(r, ids)
    for tid, want in expected_results.items():
        check(metas[tid]["result"] == want, f"task {tid} result {metas[tid]['result']!r}, expected {want!r}")
    wait_until(lambda: r.hlen("unacked") == 0, 10, what="unacked to empty after the second worker's acks")
    counts = second.success_counts()
    for tid in ids:
        check(counts.get(tid, 0) == 1, f"task {tid} ran {counts.get(tid, 0)} times in the second worker, expected once")
    first_counts = first.success_counts()
    for tid in ids:
        check(first_counts.get(tid, 0) == 0, f"put-back task {tid} had also completed in the first worker")
    second.signal(signal.SIGTERM)
    rc = second.wait(30)
    check(rc == 0, f"second worker exited with {rc} after SIGTERM, expected 0")
    check(r.llen(QUEUE) == 0 and r.hlen("unacked") == 0, "messages left behind after the second worker")


def test_warm_sigterm(env):
    srv, r, w, sleep_id, add_ids, originals = setup_running_and_prefetched(env)
    w.signal(signal.SIGTERM)
    rc = w.wait(30)
    log(f"first worker exited with {rc}")
    check(rc == 0, f"warm shutdown exit code {rc}, expected 0")
    check("warm shutdown (SIGTERM)" in w.log(), "no 'warm shutdown (SIGTERM)' line in the log")
    meta = get_meta(r, sleep_id)
    check(meta is not None and meta["status"] == "SUCCESS", f"the running sleep(3) did not finish with SUCCESS: {meta}")
    check(w.success_counts().get(sleep_id) == 1, "the sleep's success was not logged once")
    check_put_back(r, add_ids, originals)
    for tid in add_ids:
        check(get_meta(r, tid) is None, f"prefetched add {tid} has a result although it was put back")
    run_put_back_in_second_worker(env, srv, r, w, add_ids, {tid: i + 100 for i, tid in enumerate(add_ids)})


def check_cold(env, srv, r, w, sleep_id, add_ids, originals, sent_at):
    rc = w.wait(30)
    elapsed = time.monotonic() - sent_at
    log(f"first worker exited with {rc} {elapsed:.2f}s after the cold shutdown signal")
    check(elapsed < 5, f"cold shutdown took {elapsed:.1f}s; the parent should exit promptly")
    check(get_meta(r, sleep_id) is None,
          f"the interrupted sleep(3) has a result stored although its message was put back: {get_meta(r, sleep_id)}")
    check_put_back(r, [sleep_id] + add_ids, originals)
    for tid in add_ids:
        check(get_meta(r, tid) is None, f"prefetched add {tid} has a result although it was put back")
    expected = {sleep_id: None, **{tid: i + 100 for i, tid in enumerate(add_ids)}}
    run_put_back_in_second_worker(env, srv, r, w, [sleep_id] + add_ids, expected)
    return rc


def test_cold_sigquit(env):
    srv, r, w, sleep_id, add_ids, originals = setup_running_and_prefetched(env)
    w.signal(signal.SIGQUIT)
    sent_at = time.monotonic()
    check_cold(env, srv, r, w, sleep_id, add_ids, originals, sent_at)
    check("cold shutdown (SIGQUIT)" in w.log(), "no 'cold shutdown (SIGQUIT)' line in the log")


def test_sigint_twice_is_cold(env):
    srv, r, w, sleep_id, add_ids, originals = setup_running_and_prefetched(env)
    w.signal(signal.SIGINT)
    w.wait_log("warm shutdown (SIGINT)", 10)
    # The warm phase puts the prefetched adds back while the sleep runs on.
    wait_until(lambda: r.llen(QUEUE) == 3, 10, what="the warm phase to put the 3 prefetched adds back")
    check(w.proc.poll() is None, "the worker exited before the second SIGINT (the sleep should still run)")
    w.signal(signal.SIGINT)
    sent_at = time.monotonic()
    check_cold(env, srv, r, w, sleep_id, add_ids, originals, sent_at)
    check("cold shutdown (SIGINT)" in w.log(), "no 'cold shutdown (SIGINT)' line in the log")


def test_cold_with_many_prefetched(env):
    """Cold shutdown while the child holds thousands of prefetched messages:
    putting them back takes a few hundred ms, far longer than the running
    sleep needs to notice the stop request. The interrupted task must still
    be put back (not reported SUCCESS after running only part of its time)."""
    srv = env.redis()
    r = srv.client()
    n_adds = 2999
    sleep_id, sleep_msg = make_message("celeriac.sleep", [3])
    enqueue(r, [sleep_msg] + [make_message("celeriac.add", [i, 1])[1] for i in range(n_adds)])
    w = env.worker(srv.url, name="first", concurrency=1, prefetch=n_adds + 1, extra=HOLD_EVERYTHING)
    wait_until(lambda: r.hlen("unacked") == n_adds + 1, 30, what="the worker to hold every message")
    time.sleep(0.5)
    check(get_meta(r, sleep_id) is None, "the sleep(3) finished before the shutdown signal")
    w.signal(signal.SIGQUIT)
    w.wait(30)
    meta = get_meta(r, sleep_id)
    ids = [decode(m)[0]["headers"]["id"] for m in queued_in_pop_order(r)]
    log(f"after the cold shutdown: queue {len(ids)}, unacked {r.hlen('unacked')}, sleep meta {meta}")
    ran = [ln for ln in w.log().splitlines() if f"[{sleep_id}]" in ln]
    check(meta is None,
          f"the sleep(3) interrupted ~0.5 s in by the cold shutdown was stored as {meta and meta['status']} "
          f"(result {meta and meta['result']!r}) instead of being put back: {meta}; log: {ran}")
    check(ids and ids[0] == sleep_id, "the interrupted sleep is not at the front of the queue")
    check(len(ids) == n_adds + 1 and r.hlen("unacked") == 0, "not every held message was put back")


def test_warm_puts_back_held_eta(env):
    srv = env.redis()
    r = srv.client()
    eta = utc_now() + datetime.timedelta(seconds=60)
    tid, msg = make_message("celeriac.add", [20, 22], eta=eta)
    enqueue(r, [msg])
    w = env.worker(srv.url, name="first", concurrency=1, prefetch=4, extra=HOLD_EVERYTHING)
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen(QUEUE) == 0, 20, what="the worker to hold the eta task")
    time.sleep(1.0)
    check(get_meta(r, tid) is None, "the eta task ran 59 s early")
    w.signal(signal.SIGTERM)
    rc = w.wait(30)
    check(rc == 0, f"warm shutdown exit code {rc}, expected 0")
    check_put_back(r, [tid], {tid: msg})
    check(decode(r.lindex(QUEUE, 0))[0]["headers"]["eta"] == eta.isoformat(), "the eta changed when put back")
    check(get_meta(r, tid) is None, "the eta task has a result")
    # Another worker takes it and holds it for its eta in turn; a cold
    # shutdown of that one puts it back again.
    second = env.worker(srv.url, name="second", concurrency=1, prefetch=4, extra=HOLD_EVERYTHING)
    wait_until(lambda: r.hlen("unacked") == 1 and r.llen(QUEUE) == 0, 20,
               what="the second worker to hold the put-back eta task")
    time.sleep(0.5)
    check(get_meta(r, tid) is None, "the eta task ran early in the second worker")
    second.signal(signal.SIGQUIT)
    second.wait(30)
    check(r.llen(QUEUE) == 1 and r.hlen("unacked") == 0, "the eta task is not back in its queue after a cold shutdown")
    check(decode(r.lindex(QUEUE, 0))[0]["headers"]["id"] == tid, "wrong message in the queue")


if __name__ == "__main__":
    run_suite("system_shutdown", [
        ("warm_sigterm", test_warm_sigterm),
        ("cold_sigquit", test_cold_sigquit),
        ("sigint_twice_is_cold", test_sigint_twice_is_cold),
        ("cold_with_many_prefetched", test_cold_with_many_prefetched),
        ("warm_puts_back_held_eta", test_warm_puts_back_held_eta),
    ])
