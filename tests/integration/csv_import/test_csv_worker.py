#!/usr/bin/python3
"""celeriac.csv_import end to end: a Celery client, a celeriac worker, Redis
and PostgreSQL, all real.

* celery_client: Python Celery's send_task('celeriac.csv_import', kwargs=...)
  starts the import; the client follows it in celeriac_jobs (PROGRESS rows
  in bytes with rows_loaded in meta) and through LISTEN celeriac_jobs
  (NOTIFY payloads), and AsyncResult.get() returns the summary.
* kill_child: the worker child is killed with SIGKILL mid-import; the
  message comes back after the visibility timeout, the new child resumes
  from the checkpoint, and the table ends with every row exactly once.
* kill_child_parallel: the same with parallel=4 and bad rows: the child
  is killed while all four parts load; the redelivery resumes every part,
  and the table holds every good row once and celeriac_import_errors every
  bad row once, at its line in the file.
* postgres_restart: PostgreSQL is restarted mid-import; the job still
  finishes with every row exactly once.
* soft_time_limit: Celery's send_task(soft_time_limit=1) stops the import
  at a chunk boundary with SoftTimeLimitExceeded; the committed rows stay
  (counted in celeriac_jobs), and the same task id sent again without a
  limit resumes and ends with every row exactly once.
* refused: a path outside the upload folder (.., absolute, symlink) and an
  explicit column spec for a table not on --import-tables fail with
  PermissionError, seen by the Celery client and in celeriac_jobs.
"""

import gc
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "jobs"))
from pg_support import Listener, job, migrate, wait_state, with_postgres  # noqa: E402
from support import check, log, run_suite, wait_until  # noqa: E402

HEADER = "merchant_name,category,ticker,confidence,user_id,created_at\n"


def write_csv(path, rows, bad_every=0):
    """rows records; every bad_every-th one has a non-numeric confidence.
    Returns the number of good rows."""
    good = 0
    with open(path, "w") as f:
        f.write(HEADER)
        for i in range(rows):
            if bad_every and i % bad_every == 3:
                f.write(f"Shop {i},Food,,lots,{i},2024-01-01T00:00:00Z\n")
                continue
            name = f'"Caf\u00e9 {i}, ""Best"""' if i % 7 == 0 else f"Merchant {i}"
            f.write(f"{name},Groceries,{'SBUX' if i % 3 else ''},0.{i % 10},{i},2024-05-01T10:00:00+02:00\n")
            good += 1
    return good


def upload_env(env, pg, r, extra=(), **kw):
    uploads = os.path.join(env.dir, "uploads")
    os.makedirs(uploads, exist_ok=True)
    w = env.worker(r.url, extra=["--database", pg.url, "--upload-dir", uploads, *extra], **kw)
    return uploads, w


def celery_app(url):
    from celery import Celery
    app = Celery("client", broker=url, backend=url)
    app.conf.broker_connection_retry_on_startup = False
    return app


def check_exactly_once(pg, rows, bad_every):
    got = pg.query("SELECT count(*), count(DISTINCT user_id) FROM llm_mappings")[0]
    expected = {i for i in range(rows) if not (bad_every and i % bad_every == 3)}
    check(got == (len(expected), len(expected)), f"rows/distinct user ids {got}, expected {len(expected)} each")
    ids = {r[0] for r in pg.query("SELECT user_id FROM llm_mappings")}
    check(ids == expected, "the table holds exactly the good rows")


def test_celery_client(env):
    pg = with_postgres(env)
    migrate(pg, "--with-app-tables")
    r = env.redis()
    uploads, _ = upload_env(env, pg, r)
    rows, bad_every = 300_000, 1000
    good = write_csv(os.path.join(uploads, "mappings.csv"), rows, bad_every)
    size = os.path.getsize(os.path.join(uploads, "mappings.csv"))
    listener = Listener(pg)
    app = celery_app(r.url)
    res = app.send_task("celeriac.csv_import",
                        kwargs={"path": "mappings.csv", "profile": "llm_mappings", "chunk_rows": 5000,
                                "max_errors": 1000})
    seen = []
    while not res.ready():
        j = job(pg, res.id)
        if j and j["state"] == "PROGRESS":
            seen.append((j["progress_done"], j["progress_total"], j["progress_unit"], j["meta"]))
        listener.collect(wait=0.05)
    summary = res.get(timeout=60)
    log(f"summary: {summary}; {len(seen)} PROGRESS rows observed")
    check(summary["rows_loaded"] == good and summary["rows_rejected"] == rows // bad_every, summary)
    check(summary["rows_per_second"] > 0 and summary["seconds"] > 0, summary)
    check(seen, "PROGRESS rows observed while the import ran")
    check(all(unit == "bytes" and total == size for _, total, unit, _ in seen), seen[:3])
    check(all("rows_loaded" in meta and "rows_rejected" in meta for *_, meta in seen), seen[:3])
    check([d for d, *_ in seen] == sorted(d for d, *_ in seen), "progress only moves forward")
    final = wait_state(pg, res.id, {"SUCCESS"}, 20)
    check(final["progress_done"] == size and final["meta"]["rows_loaded"] == good, final)
    check(final["result"]["rows_loaded"] == good, final)
    ours = [p for p in listener.collect(wait=0.5) if p["task_id"] == res.id]
    states = {p["state"] for p in ours}
    check("PROGRESS" in states and "SUCCESS" in states, f"NOTIFY payloads seen: {states}")
    check(any(p.get("progress_unit") == "bytes" and 0 < p.get("progress_done", 0) < size for p in ours),
          "a NOTIFY payload carried intermediate progress")
    listener.close()
    check_exactly_once(pg, rows, bad_every)
    check(pg.scalar("SELECT count(*) FROM celeriac_import_errors WHERE task_id = %s", (res.id,)) == rows // bad_every,
          "one error row per bad record")
    first = pg.query("SELECT line_number, column_name FROM celeriac_import_errors WHERE task_id = %s "
                     "ORDER BY line_number LIMIT 1", (res.id,))[0]
    check(first == (5, "confidence"), f"first error row {first}")


def test_kill_child(env):
    pg = with_postgres(env)
    migrate(pg, "--with-app-tables")
    r = env.redis()
    uploads, w = upload_env(env, pg, r, visibility_timeout=3)
    rows = 400_000
    write_csv(os.path.join(uploads, "big.csv"), rows)
    app = celery_app(r.url)
    res = app.send_task("celeriac.csv_import", kwargs={"path": "big.csv", "profile": "llm_mappings",
                                                       "chunk_rows": 2000})

    def mid_import():
        done = pg.scalar("SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = %s", (res.id,))
        return done if done and 20_000 <= done < rows // 2 else None
    done = wait_until(mid_import, 60, interval=0.01, what="the import under way")
    child = w.children()[0]
    check(w.kill_child(child), "killed the child")
    log(f"killed child {child} with {done} rows committed")
    summary = res.get(timeout=120)
    log(f"summary after the redelivery: {summary}")
    check(summary["resumed"] is True and summary["rows_loaded"] == rows, summary)
    final = wait_state(pg, res.id, {"SUCCESS"}, 20)
    check(final["attempts"] >= 2, f"attempts {final['attempts']}")
    check_exactly_once(pg, rows, 0)
    check("resuming at line" in w.log(), "the resume is logged")


def test_kill_child_parallel(env):
    pg = with_postgres(env)
    migrate(pg, "--with-app-tables")
    r = env.redis()
    uploads, w = upload_env(env, pg, r, visibility_timeout=3)
    rows, bad_every = 400_000, 1000
    good = write_csv(os.path.join(uploads, "big.csv"), rows, bad_every)
    app = celery_app(r.url)
    res = app.send_task("celeriac.csv_import", kwargs={"path": "big.csv", "profile": "llm_mappings",
                                                       "chunk_rows": 2000, "parallel": 4})

    def all_parts_loading():
        started = pg.scalar("SELECT count(*) FROM celeriac_import_parts WHERE task_id = %s "
                            "AND byte_offset > start_offset AND byte_offset < end_offset", (res.id,))
        done = pg.scalar("SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = %s", (res.id,))
        return done if started == 4 and done < rows * 0.6 else None
    done = wait_until(all_parts_loading, 60, interval=0.01, what="all four parts under way")
    child = w.children()[0]
    check(w.kill_child(child), "killed the child")
    log(f"killed child {child} with {done} rows committed in 4 parts")
    summary = res.get(timeout=120)
    log(f"summary after the redelivery: {summary}")
    check(summary["resumed"] is True and summary["parts"] == 4, summary)
    check(summary["rows_loaded"] == good and summary["rows_rejected"] == rows // bad_every, summary)
    check_exactly_once(pg, rows, bad_every)
    lines = [row[0] for row in pg.query("SELECT line_number FROM celeriac_import_errors WHERE task_id = %s "
                                        "ORDER BY line_number", (res.id,))]
    check(lines == [i + 2 for i in range(rows) if i % bad_every == 3], "every bad row once, at its line")
    check(pg.scalar("SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = %s", (res.id,)) == good,
          "the job row sums its parts")
    check("part 1/4: resuming at line" in w.log() or "part 2/4: resuming at line" in w.log(),
          "the parts' resumes are logged")


def test_postgres_restart(env):
    pg = with_postgres(env)
    migrate(pg, "--with-app-tables")
    r = env.redis()
    uploads, w = upload_env(env, pg, r)
    rows = 400_000
    write_csv(os.path.join(uploads, "big.csv"), rows, 5000)
    app = celery_app(r.url)
    res = app.send_task("celeriac.csv_import", kwargs={"path": "big.csv", "profile": "llm_mappings",
                                                       "chunk_rows": 2000})
    wait_until(lambda: (pg.scalar("SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = %s",
                                  (res.id,)) or 0) >= 20_000, 60, interval=0.01, what="the import under way")
    pg.restart()
    log("PostgreSQL restarted")
    summary = res.get(timeout=120)
    log(f"summary: {summary}")
    check(summary["rows_rejected"] == rows // 5000, summary)
    check_exactly_once(pg, rows, 5000)
    check("lost the database connection" in w.log(), "the reconnect is logged")
    wait_state(pg, res.id, {"SUCCESS"}, 30)


def test_refused(env):
    pg = with_postgres(env)
    migrate(pg, "--with-app-tables")
    r = env.redis()
    uploads, _ = upload_env(env, pg, r, extra=["--import-tables", "allowed_t"])
    secret = os.path.join(env.dir, "secret.csv")
    write_csv(secret, 10)
    os.symlink(secret, os.path.join(uploads, "link.csv"))
    app = celery_app(r.url)
    for path in ("../secret.csv", secret, "link.csv"):
        res = app.send_task("celeriac.csv_import", kwargs={"path": path, "profile": "llm_mappings"})
        try:
            res.get(timeout=30)
            check(False, f"{path} was imported")
        except Exception as e:  # noqa: BLE001 - Celery rebuilds the worker's exception
            check(type(e).__name__ == "PermissionError" and "refused" in str(e), f"{path}: {type(e)} {e}")
        j = wait_state(pg, res.id, {"FAILURE"}, 20)
        check("PermissionError" in j["error"], j)
    res = app.send_task("celeriac.csv_import",
                        kwargs={"path": "x.csv", "columns": "a:text", "table": "celeriac_jobs"})
    try:
        res.get(timeout=30)
        check(False, "a table off the allow-list was accepted")
    except Exception as e:  # noqa: BLE001
        check(type(e).__name__ == "PermissionError" and "--import-tables" in str(e), f"{type(e)} {e}")
    check(pg.scalar("SELECT count(*) FROM llm_mappings") == 0, "nothing loaded")


def test_soft_time_limit(env):
    pg = with_postgres(env)
    migrate(pg, "--with-app-tables")
    r = env.redis()
    uploads, w = upload_env(env, pg, r)
    rows = 600_000
    write_csv(os.path.join(uploads, "big.csv"), rows)
    kwargs = {"path": "big.csv", "profile": "llm_mappings", "chunk_rows": 2000}
    app = celery_app(r.url)
    res = app.send_task("celeriac.csv_import", kwargs=kwargs, soft_time_limit=1)
    try:
        res.get(timeout=120)
        check(False, "the import finished within its 1 s soft limit: the file is too small for this machine")
    except Exception as e:  # noqa: BLE001 - Celery rebuilds the worker's exception
        check(type(e).__name__ == "SoftTimeLimitExceeded" and type(e).__module__ == "billiard.exceptions",
              f"{type(e).__module__}.{type(e).__name__}: {e}")
    done = pg.scalar("SELECT rows_done FROM celeriac_import_checkpoints WHERE task_id = %s", (res.id,))
    loaded = pg.scalar("SELECT count(*) FROM llm_mappings")
    log(f"stopped by the soft limit with {done} rows committed")
    check(done and 0 < done < rows and loaded == done, f"checkpoint {done}, table {loaded}")
    j = wait_state(pg, res.id, {"FAILURE"}, 20)
    check("SoftTimeLimitExceeded" in j["error"] and "all committed" in j["error"], j["error"])
    check(j["meta"]["rows_loaded"] == done, f"celeriac_jobs meta {j['meta']}, checkpoint {done}")
    check("stopped at line" in w.log() and "Soft time limit (1.0s) exceeded" in w.log(), "the stop is logged")

    # The same id again, without a limit; forget() drops the FAILURE, or
    # get() would return it at once.
    res.forget()
    again = app.send_task("celeriac.csv_import", kwargs=kwargs, task_id=res.id)
    summary = again.get(timeout=120)
    log(f"summary of the second delivery: {summary}")
    check(summary["resumed"] is True and summary["rows_loaded"] == rows, summary)
    check_exactly_once(pg, rows, 0)
    wait_state(pg, res.id, {"SUCCESS"}, 20)


def collected(test):
    """Runs test, then frees Celery's result objects while Redis is still
    up (their finalizers talk to it)."""
    def run(env):
        try:
            test(env)
        finally:
            gc.collect()
    return run


if __name__ == "__main__":
    run_suite("csv_import", [("celery_client", collected(test_celery_client)),
                             ("kill_child", collected(test_kill_child)),
                             ("kill_child_parallel", collected(test_kill_child_parallel)),
                             ("postgres_restart", collected(test_postgres_restart)),
                             ("refused", collected(test_refused)),
                             ("soft_time_limit", collected(test_soft_time_limit))])
