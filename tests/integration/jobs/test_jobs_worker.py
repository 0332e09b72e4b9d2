#!/usr/bin/python3
"""Job lifecycle in PostgreSQL through the real celeriac binary.

* lifecycle: a worker run with --database records every task's states in
  celeriac_jobs (SUCCESS with its result, FAILURE with its error, REVOKED
  for an expired message); `celeriac status` shows one (exit 0/1/3),
  `status --watch` follows one to its end, `celeriac jobs` lists them.
* outage: PostgreSQL stopped while tasks run: the broker loop goes on (every
  result reaches Redis), and once PostgreSQL is back every job's final
  state lands in celeriac_jobs: none lost.
* drain: 20,000 quick tasks drained by two children: exactly one row per
  task, every one SUCCESS with its result, and a listener told about every
  task's SUCCESS in payloads that each carry many rows.
* migrate: applies once, again nothing; --with-app-tables --schema puts the
  app tables in that schema; a bad schema name is a usage error.
"""

import datetime
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pg_support import Listener, celeriac, job, migrate, wait_state, with_postgres  # noqa: E402
from support import check, enqueue, get_metas, log, make_message, run_suite, utc_now, wait_until  # noqa: E402


def test_lifecycle(env):
    pg = with_postgres(env)
    migrate(pg)
    r = env.redis()
    env.worker(r.url, extra=["--database", pg.url])
    past = utc_now() - datetime.timedelta(seconds=30)
    msgs = [make_message("celeriac.add", args=[1, 2], task_id="t-add"),
            make_message("celeriac.fail", args=["boom"], task_id="t-fail"),
            make_message("celeriac.noop", task_id="t-expired", expires=past),
            make_message("celeriac.sleep", args=[1.5], task_id="t-sleep")]
    enqueue(r.client(), [m[1] for m in msgs])

    watch = celeriac("status", "t-sleep", "--watch", "--database", pg.url, "--timeout", "30")
    check(watch.returncode == 0, f"status --watch: {watch.returncode} {watch.stdout} {watch.stderr}")
    check("SUCCESS after" in watch.stdout, watch.stdout)

    add = wait_state(pg, "t-add", {"SUCCESS"}, 20)
    check(add["result"] == 3 and add["name"] == "celeriac.add" and add["attempts"] == 1, add)
    check(add["worker"].startswith("w1@"), add)
    fail = wait_state(pg, "t-fail", {"FAILURE"}, 20)
    check("boom" in fail["error"], fail)
    wait_state(pg, "t-expired", {"REVOKED"}, 20)

    listing = celeriac("jobs", "--database", pg.url)
    check(listing.returncode == 0, listing.stderr)
    for t in ("t-add", "t-fail", "t-expired", "t-sleep"):
        check(t in listing.stdout, f"{t} not in:\n{listing.stdout}")
    failures = celeriac("jobs", "--database", pg.url, "--state", "failure")
    check("t-fail" in failures.stdout and "t-add" not in failures.stdout, failures.stdout)
    check(celeriac("status", "t-add", "--database", pg.url).returncode == 0, "status t-add")
    st = celeriac("status", "t-fail", "--database", pg.url)
    check(st.returncode == 1 and "RuntimeError: boom" in st.stdout, st.stdout)
    check(celeriac("status", "nope", "--database", pg.url).returncode == 3, "status of an unknown id")
    check(celeriac("status", "t-add").returncode == 64, "status without a database is a usage error")


def test_outage(env):
    pg = with_postgres(env)
    migrate(pg)
    r = env.redis()
    w = env.worker(r.url, concurrency=2, extra=["--database", pg.url])
    pg.stop()
    log("PostgreSQL stopped; sending 2000 tasks")
    msgs = [make_message("celeriac.add", args=[i, 1]) for i in range(2000)]
    ids = [m[0] for m in msgs]
    enqueue(r.client(), [m[1] for m in msgs])
    # The broker side never waits for PostgreSQL: every result arrives.
    wait_until(lambda: all(v is not None for v in get_metas(r.client(), ids).values()), 60,
               what="2000 results in Redis while PostgreSQL is down")
    w.wait_log("job store: cannot write job states", 30, what="the outage logged")
    pg.start()
    log("PostgreSQL back")

    def landed():
        return pg.scalar("SELECT count(*) FROM celeriac_jobs WHERE state = 'SUCCESS'") == len(ids)
    wait_until(landed, 60, interval=0.5, what="2000 SUCCESS rows after the outage")
    check(job(pg, ids[1234])["result"] == 1235, "the result is stored")
    w.wait_log("accepts writes again", 30, what="the end of the outage logged")


def test_drain(env):
    pg = with_postgres(env)
    migrate(pg)
    listener = Listener(pg)
    r = env.redis()
    n = 20_000
    msgs = [make_message("celeriac.add", args=[i, 1]) for i in range(n)]
    ids = {m[0]: i for i, m in enumerate(msgs)}
    enqueue(r.client(), [m[1] for m in msgs])
    env.worker(r.url, concurrency=2, prefetch=500, extra=["--database", pg.url])

    def landed():
        listener.collect()
        return pg.scalar("SELECT count(*) FROM celeriac_jobs WHERE state = 'SUCCESS'") == n
    wait_until(landed, 120, interval=0.2, what=f"{n} SUCCESS rows")
    check(pg.scalar("SELECT count(*) FROM celeriac_jobs") == n, "one row per task, no other")
    with pg.connect().cursor() as cur:
        cur.execute("SELECT task_id, result, attempts, started_at IS NOT NULL, finished_at >= started_at, "
                    "started_at >= created_at, name, queue FROM celeriac_jobs")
        for task_id, result, attempts, started, ordered, created_first, name, queue in cur.fetchall():
            check(task_id in ids and result == ids[task_id] + 1 and attempts == 1, (task_id, result, attempts))
            check(started and ordered and created_first, f"times of {task_id}")
            check(name == "celeriac.add" and queue == "celery", (name, queue))

    # Notifications trail the commits they come from: read until every
    # task's SUCCESS has been announced.
    def announced():
        return {p["task_id"] for p in listener.collect(wait=0.2) if p["state"] == "SUCCESS"}
    wait_until(lambda: announced() == set(ids), 60, interval=0.1, what=f"{n} SUCCESS rows announced")
    payloads, rows = len(listener.raw), len(listener.payloads)
    check(payloads < n / 20, f"{payloads} NOTIFY payloads for {rows} rows: one per batch chunk, not per row")
    listener.close()


def test_migrate(env):
    pg = with_postgres(env)
    first = migrate(pg)
    check("applied engine migration 0001_jobs" in first.stdout, first.stdout)
    again = migrate(pg)
    check("0 migrations applied now" in again.stdout, again.stdout)
    apps = migrate(pg, "--with-app-tables", "--schema", "app")
    check("applied app migration 0001_llm_mappings (schema app)" in apps.stdout, apps.stdout)
    check(pg.scalar("SELECT to_regclass('app.llm_mappings') IS NOT NULL") is True, "app.llm_mappings exists")
    bad = celeriac("migrate", "--database", pg.url, "--schema", "no;pe")
    check(bad.returncode == 64, bad.stderr)
    # The database URL may come from the environment.
    env_run = celeriac("migrate", env={"CELERIAC_DATABASE_URL": pg.url})
    check(env_run.returncode == 0, env_run.stderr)


if __name__ == "__main__":
    run_suite("jobs", [("lifecycle", test_lifecycle), ("outage", test_outage), ("drain", test_drain),
                       ("migrate", test_migrate)])
