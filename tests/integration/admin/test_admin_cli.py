#!/usr/bin/python3
"""`celeriac queues`, `purge` and `dead list|requeue|purge` through the real
binary on a private Redis (tests/system/support.py starts it on a free port).

* queues: depth per queue summed over the priority lists, unacked per
  routing key, delayed count and next due time, the dead-letter count;
  --json; -Q.
* dead list: every entry's reason, queue, task and message; the counts;
  --reason (and the decode_error group), --limit, --json.
* dead requeue: refused without --id/--all; --id puts the message at the
  back of its priority list exactly as it was, removes its entry and its
  crash count; --all leaves the unreadable entries (no_delivery_tag,
  raw_base64) and says so; a message a worker dead-lettered as an unknown
  task runs once requeued to a worker that knows it.
* purge and dead purge: refused without a terminal unless --force; on a
  terminal only a typed "yes" deletes; purge deletes waiting and delayed
  messages of the named queues only, never unacked ones or bindings.
* errors: Redis unreachable exits 69, usage errors 64.
"""

import base64
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "..", "system"))
from support import (celeriac_bin, check, enqueue, free_port, get_meta, make_message,  # noqa: E402
                     run_suite, wait_until)

SEP = "\x06\x16"
DEAD = "celeriac.dead"


def celeriac(r, *args, stdin=subprocess.DEVNULL, env=None, timeout=60):
    """Runs `celeriac ARGS --broker <r's URL>` (r None: no --broker)."""
    cmd = [celeriac_bin(), *args] + (["--broker", r.url] if r is not None else [])
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, timeout=timeout, env=full_env)


def celeriac_on_terminal(r, answer, *args):
    """Runs the command with a pseudo-terminal as stdin and types answer."""
    master, slave = os.openpty()
    try:
        p = subprocess.Popen([celeriac_bin(), *args, "--broker", r.url], stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        os.close(slave)
        slave = None
        os.write(master, (answer + "\n").encode())
        out, err = p.communicate(timeout=60)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)


def with_priority(text, priority):
    env = json.loads(text)
    env["properties"]["priority"] = priority
    return json.dumps(env)


def dead_entry(reason, queue, raw, message="refused for the test", raw_base64=None, task=None, task_id=None):
    """An entry as celery::dead_letter_entry writes it."""
    entry = {"reason": reason, "message": message}
    if task_id:
        entry["task_id"] = task_id
    if task:
        entry["task"] = task
    entry.update({"queue": queue, "time": "2026-11-22T02:12:47.800589+00:00", "raw": raw})
    if raw_base64:
        entry["raw_base64"] = raw_base64
    return json.dumps(entry)


def build_dead_list(c):
    """Five entries, oldest first: unknown_task (priority 5), worker_lost
    (queue csv), no_delivery_tag, not_json with raw_base64, bad_arguments.
    Returns {name: (task id, delivery tag, message text, entry text)}."""
    made = {}
    specs = [("unknown", "unknown_task", "celery", 5), ("lost", "worker_lost", "csv", 0),
             ("notag", "no_delivery_tag", "celery", None), ("binary", "not_json", "celery", None),
             ("badargs", "bad_arguments", "celery", 0)]
    for name, reason, queue, priority in specs:
        if priority is None:
            raw = "\ufffd garbage" if name == "binary" else "garbage"
            b64 = base64.b64encode(b"\xff garbage").decode() if name == "binary" else None
            text = dead_entry(reason, queue, raw, raw_base64=b64)
            made[name] = (None, None, raw, text)
        else:
            tag = f"tag-{name}"
            task_id, msg = make_message("celeriac.add", args=[1, 2], task_id=f"id-{name}", queue=queue,
                                        delivery_tag=tag)
            msg = with_priority(msg, priority)
            text = dead_entry(reason, queue, msg)
            made[name] = (task_id, tag, msg, text)
        c.lpush(DEAD, text)
    return made


# ---------------------------------------------------------------------------


def test_queues(env):
    r = env.redis()
    c = r.client()
    enqueue(c, [make_message("celeriac.add")[1], make_message("celeriac.add")[1]])
    c.lpush("celery" + SEP + "6", with_priority(make_message("celeriac.add")[1], 7))
    enqueue(c, [make_message("celeriac.add", queue="csv")[1]], queue="csv")
    for i, queue in enumerate(["celery", "celery", "llm"]):
        _, m = make_message("celeriac.add", queue=queue, delivery_tag=f"u{i}")
        c.hset("unacked", f"u{i}", json.dumps([json.loads(m), "", queue]))
    due = time.time() + 300
    c.zadd("celeriac.delayed.celery", {"0\n" + make_message("celeriac.add")[1]: due,
                                       "0\n" + make_message("celeriac.add")[1]: due + 100})
    c.zadd("celeriac.delayed.retry", {"0\n" + make_message("celeriac.add")[1]: due})
    c.sadd("_kombu.binding.celery.pidbox", SEP + SEP + "w1@host.celery.pidbox")
    c.lpush(DEAD, dead_entry("worker_lost", "celery", "x"), dead_entry("bad_body", "celery", "y"))

    out = celeriac(r, "queues")
    check(out.returncode == 0, out.stderr)
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:] if not line.startswith("dead")}
    check(sorted(rows) == ["celery", "csv", "llm", "retry"], out.stdout)
    check(rows["celery"][1:4] == ["3", "2", "2"], out.stdout)  # waiting, unacked, delayed
    check("(in 4m" in out.stdout or "(in 5m" in out.stdout, out.stdout)
    check(rows["csv"][1:5] == ["1", "0", "0", "-"], out.stdout)
    check(rows["llm"][1:4] == ["0", "1", "0"], out.stdout)
    check(rows["retry"][1:4] == ["0", "0", "1"], out.stdout)
    check("dead letters: 2 in celeriac.dead" in out.stdout, out.stdout)

    js = celeriac(r, "queues", "--json")
    check(js.returncode == 0, js.stderr)
    lines = [json.loads(line) for line in js.stdout.splitlines()]
    celery = next(q for q in lines if q.get("queue") == "celery")
    check(celery["waiting"] == 3 and celery["waiting_by_priority"] == {"0": 2, "3": 0, "6": 1, "9": 0}, celery)
    check(celery["unacked"] == 2 and celery["delayed"] == 2 and abs(celery["next_due"] - due) < 0.01, celery)
    check(lines[-1] == {"dead_letters": 2}, lines[-1])

    only = celeriac(r, "queues", "-Q", "csv,nothing")
    check(only.returncode == 0, only.stderr)
    check([line.split()[0] for line in only.stdout.splitlines()[1:3]] == ["csv", "nothing"], only.stdout)


def test_dead_list(env):
    r = env.redis()
    made = build_dead_list(r.client())
    out = celeriac(r, "dead", "list")
    check(out.returncode == 0, out.stderr)
    for reason in ("unknown_task", "worker_lost", "no_delivery_tag", "not_json", "bad_arguments"):
        check(reason in out.stdout, f"{reason} not in\n{out.stdout}")
    check(out.stdout.startswith("#0  bad_arguments"), out.stdout)  # newest first
    check("celeriac.add[id-unknown]" in out.stdout and "queue csv" in out.stdout, out.stdout)
    check("refused for the test" in out.stdout, out.stdout)
    check("5 entries in celeriac.dead; showing all" in out.stdout, out.stdout)

    lost = celeriac(r, "dead", "list", "--reason", "worker_lost")
    check("5 entries in celeriac.dead, 1 with reason worker_lost" in lost.stdout, lost.stdout)
    check(lost.stdout.count("\n#") + lost.stdout.startswith("#") == 1, lost.stdout)
    decode = celeriac(r, "dead", "list", "--reason", "decode_error")
    check("1 with reason decode_error" in decode.stdout and "not_json" in decode.stdout, decode.stdout)
    limited = celeriac(r, "dead", "list", "--limit", "2")
    check("showing the newest 2" in limited.stdout and "#2" not in limited.stdout, limited.stdout)
    bogus = celeriac(r, "dead", "list", "--reason", "bogus")
    check(bogus.returncode == 0 and "writes no reason 'bogus'" in bogus.stderr, bogus.stderr)

    js = celeriac(r, "dead", "list", "--json")
    check(js.returncode == 0, js.stderr)
    lines = [json.loads(line) for line in js.stdout.splitlines()]
    check([e["index"] for e in lines] == [0, 1, 2, 3, 4], lines)
    check("5 entries" in js.stderr, js.stderr)
    by_reason = {e["reason"]: e for e in lines}
    check(by_reason["unknown_task"]["task_id"] == "id-unknown", by_reason["unknown_task"])
    check(by_reason["unknown_task"]["raw"] == made["unknown"][2], "raw kept exactly")
    check(by_reason["unknown_task"]["requeueable"] is True, by_reason["unknown_task"])
    check(by_reason["not_json"]["requeueable"] is False and "raw_base64" in by_reason["not_json"], lines)

    empty_r = env.redis()
    empty = celeriac(empty_r, "dead", "list")
    check(empty.returncode == 0 and "celeriac.dead is empty" in empty.stdout, empty.stdout)


def test_dead_requeue(env):
    r = env.redis()
    c = r.client()
    made = build_dead_list(c)
    c.lpush("celery", "already-waiting")
    c.hset("celeriac.deliveries", mapping={"tag-unknown": 1, "tag-lost": 3, "tag-other": 2})

    bare = celeriac(r, "dead", "requeue")
    check(bare.returncode == 64 and "--id TASK_ID or --all" in bare.stderr, bare.stderr)
    both = celeriac(r, "dead", "requeue", "--id", "x", "--all")
    check(both.returncode == 64, both.stderr)
    missing = celeriac(r, "dead", "requeue", "--id", "no-such-id")
    check(missing.returncode == 1 and "nothing to requeue" in missing.stdout, missing.stdout)

    one = celeriac(r, "dead", "requeue", "--id", "id-unknown")
    check(one.returncode == 0, one.stdout + one.stderr)
    check("requeued #4 celeriac.add[id-unknown] (unknown_task) to celery (priority step 3)" in one.stdout, one.stdout)
    check(c.lrange("celery" + SEP + "3", 0, -1) == [made["unknown"][2].encode()], "exactly as it was, priority 3")
    check(c.llen(DEAD) == 4 and made["unknown"][3].encode() not in c.lrange(DEAD, 0, -1), "its entry is gone")
    check(not c.hexists("celeriac.deliveries", "tag-unknown"), "its crash count is gone")

    rest = celeriac(r, "dead", "requeue", "--all")
    check(rest.returncode == 0, rest.stdout + rest.stderr)
    check("2 of 4 matching entries requeued; 2 left in celeriac.dead" in rest.stdout, rest.stdout)
    check("(no_delivery_tag): cannot be requeued" in rest.stdout, rest.stdout)
    check("(not_json): cannot be requeued" in rest.stdout and "raw_base64" in rest.stdout, rest.stdout)
    check(c.lrange("csv", 0, -1) == [made["lost"][2].encode()], "worker_lost went to csv")
    # LPUSH: the back of the queue (workers pop from the right).
    check(c.lrange("celery", 0, -1) == [made["badargs"][2].encode(), b"already-waiting"], c.lrange("celery", 0, -1))
    check(sorted(c.lrange(DEAD, 0, -1)) == sorted([made["notag"][3].encode(), made["binary"][3].encode()]),
          "the unreadable entries stay")
    check(c.hkeys("celeriac.deliveries") == [b"tag-other"], c.hkeys("celeriac.deliveries"))

    filtered = celeriac(r, "dead", "requeue", "--all", "--reason", "worker_lost")
    check(filtered.returncode == 0 and "nothing to requeue" in filtered.stdout, filtered.stdout)


def test_requeue_runs_on_a_worker(env):
    """A worker without the test tasks dead-letters celeriac.spin as an
    unknown task; requeued, a worker that has them runs it."""
    r = env.redis()
    c = r.client()
    w1 = env.worker(r.url, name="plain")
    task_id, msg = make_message("celeriac.spin", args=[0])
    enqueue(c, [msg])
    wait_until(lambda: c.llen(DEAD) == 1 and (get_meta(c, task_id) or {}).get("status") == "FAILURE", 20,
               what="the unknown task dead-lettered with a FAILURE result")
    w1.stop()
    listing = celeriac(r, "dead", "list")
    check("unknown_task" in listing.stdout and f"celeriac.spin[{task_id}]" in listing.stdout, listing.stdout)
    back = celeriac(r, "dead", "requeue", "--id", task_id)
    check(back.returncode == 0, back.stdout + back.stderr)
    env.worker(r.url, name="testing", extra=["--enable-test-tasks"])
    wait_until(lambda: (get_meta(c, task_id) or {}).get("status") == "SUCCESS", 20, what="the requeued task run")
    check(c.llen(DEAD) == 0, "nothing dead-lettered again")


def test_purge(env):
    r = env.redis()
    c = r.client()
    enqueue(c, [make_message("celeriac.add")[1] for _ in range(3)])
    c.lpush("celery" + SEP + "9", "p9")
    enqueue(c, [make_message("celeriac.add", queue="csv")[1]], queue="csv")
    enqueue(c, [make_message("celeriac.add", queue="keep")[1]], queue="keep")
    c.zadd("celeriac.delayed.celery", {"0\na": time.time() + 600})
    c.hset("unacked", "held", json.dumps([{}, "", "celery"]))
    c.zadd("unacked_index", {"held": time.time()})

    def untouched():
        return c.llen("celery") == 3 and c.llen("csv") == 1 and c.zcard("celeriac.delayed.celery") == 1

    no_tty = celeriac(r, "purge", "-Q", "celery,csv")
    check(no_tty.returncode == 64 and "stdin is not a terminal" in no_tty.stderr, no_tty.stderr)
    check(untouched(), "nothing purged without a confirmation")
    declined = celeriac_on_terminal(r, "no", "purge", "-Q", "celery,csv")
    check(declined.returncode == 1 and "not confirmed" in declined.stderr, declined.stderr)
    check("5 waiting, 1 delayed" in declined.stderr, declined.stderr)
    check(untouched(), "nothing purged after 'no'")
    bad = celeriac(r, "purge", "-Q", "celery,,csv", "--force")
    check(bad.returncode == 64, bad.stderr)

    done = celeriac_on_terminal(r, "yes", "purge", "-Q", "celery,csv")
    check(done.returncode == 0, done.stdout + done.stderr)
    check("celery: purged 4 waiting, 1 delayed" in done.stdout, done.stdout)
    check("csv: purged 1 waiting, 0 delayed" in done.stdout, done.stdout)
    check("Purged 6 messages from 2 queues." in done.stdout, done.stdout)
    check(c.llen("celery") == 0 and c.llen("celery" + SEP + "9") == 0 and c.llen("csv") == 0, "purged")
    check(c.zcard("celeriac.delayed.celery") == 0, "the delayed set purged")
    check(c.llen("keep") == 1, "another queue untouched")
    check(c.hlen("unacked") == 1 and c.zcard("unacked_index") == 1, "unacked untouched")
    check(c.sismember("_kombu.binding.celery", "celery" + SEP + SEP + "celery"), "bindings untouched")

    enqueue(c, [make_message("celeriac.add")[1]])
    default = celeriac(r, "purge", "--force")
    check(default.returncode == 0 and "celery: purged 1 waiting" in default.stdout, default.stdout)


def test_dead_purge(env):
    r = env.redis()
    c = r.client()
    build_dead_list(c)
    no_tty = celeriac(r, "dead", "purge")
    check(no_tty.returncode == 64 and c.llen(DEAD) == 5, no_tty.stderr)
    declined = celeriac_on_terminal(r, "y", "dead", "purge", "--reason", "worker_lost")
    check(declined.returncode == 1 and c.llen(DEAD) == 5, declined.stderr)
    check("deletes 1 of the 5 entries of celeriac.dead with reason worker_lost" in declined.stderr, declined.stderr)
    one = celeriac_on_terminal(r, "yes", "dead", "purge", "--reason", "worker_lost")
    check(one.returncode == 0 and "deleted 1 entry" in one.stdout, one.stdout + one.stderr)
    check(c.llen(DEAD) == 4 and b"worker_lost" not in b"".join(c.lrange(DEAD, 0, -1)), "only worker_lost went")
    rest = celeriac(r, "dead", "purge", "--force")
    check(rest.returncode == 0 and "deleted 4 entries" in rest.stdout and c.llen(DEAD) == 0, rest.stdout)
    nothing = celeriac(r, "dead", "purge", "--force")
    check(nothing.returncode == 0 and "nothing to delete" in nothing.stdout, nothing.stdout)


def test_errors(env):
    class Nowhere:
        url = f"redis://127.0.0.1:{free_port()}/0"
    for args in (["queues"], ["dead", "list"], ["dead", "requeue", "--all"], ["dead", "purge", "--force"],
                 ["purge", "--force"]):
        out = celeriac(Nowhere, *args)
        check(out.returncode == 69, f"{args}: {out.returncode} {out.stderr}")
        check("cannot reach Redis at redis://127.0.0.1:" in out.stderr, out.stderr)
    check(celeriac(None, "queues", "--broker", "http://x").returncode == 64, "bad URL")
    check(celeriac(None, "dead").returncode == 64, "no subcommand")
    check(celeriac(None, "dead", "frobnicate").returncode == 64, "unknown subcommand")
    check(celeriac(None, "queues", "--nope").returncode == 64, "unknown option")
    check(celeriac(None, "dead", "list", "--help").returncode == 0, "help")
    # The broker comes from the environment too.
    r = env.redis()
    via_env = celeriac(None, "queues", env={"CELERIAC_BROKER_URL": r.url})
    check(via_env.returncode == 0 and "dead letters: 0" in via_env.stdout, via_env.stdout + via_env.stderr)


if __name__ == "__main__":
    run_suite("admin_cli", [("queues", test_queues), ("dead_list", test_dead_list),
                            ("dead_requeue", test_dead_requeue), ("requeue_runs_on_a_worker", test_requeue_runs_on_a_worker),
                            ("purge", test_purge), ("dead_purge", test_dead_purge), ("errors", test_errors)])
