"""What `--database` costs: the no-op drain (-c 2, results on) without and
with --database, alternating in one run on one private Redis and one
private PostgreSQL (its default durability), with CPU per task of every
party.

Run through scripts/bench-database. Per drain:
  - tasks/s: from the first message taken to queue and unacked both empty;
  - rows/s (with --database): tasks over the time until every task's
    SUCCESS row is in celeriac_jobs;
  - CPU per task, from the moment the queue is released until the drain
    ends, or, with --database, until the last SUCCESS row landed (so the
    job store's lagging writes are counted): the worker's process tree
    (/proc/<pid>/stat), Redis (INFO cpu), and the PostgreSQL server (the
    postmaster and all its children, the backends of the worker's
    connections included, less the backend this script polls through).
The worker is started with the queue held back (renamed away), so start-up
and connection set-up are not in the figures. --baseline BIN drains an
earlier celeriac binary with --database in the same rounds (before/after).
Prints markdown on stdout.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import throughput  # noqa: E402
from alternating import drain_worker_argv  # noqa: E402
from cpu_bench import fmt_range, proc_cpu, redis_cpu, tree_cpu  # noqa: E402


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Postgres:
    """A private server (scripts/start-postgres --durable) with the engine's
    tables, and one connection to poll it."""

    def __init__(self, tmp, celeriac):
        self.dir = os.path.join(tmp, "pg")
        out = subprocess.run([os.path.join(ROOT, "scripts", "start-postgres"), "--durable", self.dir], check=True,
                             capture_output=True, text=True)
        self.dsn = out.stdout.strip().splitlines()[-1]
        subprocess.run([celeriac, "migrate", "--database", self.dsn], check=True, capture_output=True)
        self.conn = psycopg2.connect(self.dsn)
        self.conn.autocommit = True
        self.own_pid = self.one("SELECT pg_backend_pid()")
        self.version = self.one("SHOW server_version")

    def one(self, sql):
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]

    def run(self, sql):
        with self.conn.cursor() as cur:
            cur.execute(sql)

    def server_cpu(self):
        """CPU seconds of the postmaster and its live children, this script's backend excepted."""
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        total = 0.0
        for pid in [postmaster] + throughput.child_pids(postmaster):
            if pid == self.own_pid:
                continue
            try:
                total += proc_cpu(pid)
            except FileNotFoundError:
                pass
        return total

    def final_rows(self):
        return self.one("SELECT count(*) FROM celeriac_jobs WHERE state = 'SUCCESS'")

    def row_writes(self):
        """Rows inserted and updated in celeriac_jobs so far (the server's statistics)."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = 'celeriac_jobs'")
            return cur.fetchone()[0]

    def close(self):
        self.conn.close()
        subprocess.run([os.path.join(ROOT, "scripts", "stop-postgres"), self.dir], capture_output=True)


def drain(r, pg, argv, n, log_path, database):
    """{tasks_s, rows_s, worker_us, redis_us, pg_us} for one drain."""
    r.flushdb()
    pg.run("TRUNCATE celeriac_jobs")
    pg.run("CHECKPOINT")  # so writing out the previous drain's pages does not land in this one
    throughput.enqueue(r, n, ignore_result=False)
    writes_before = pg.row_writes()
    r.rename("celery", "celery.hold")
    w = throughput.Proc(argv, log_path)
    try:
        time.sleep(1.5)
        before = (tree_cpu(w.p.pid), redis_cpu(r), pg.server_cpu())
        start = time.monotonic()
        r.rename("celery.hold", "celery")
        seconds = throughput.wait_drained(r, n, 900)
        rows_seconds = None
        if database:
            deadline = time.monotonic() + 300
            while pg.final_rows() < n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {pg.final_rows()} of {n} SUCCESS rows after 300 s")
                time.sleep(0.02)
            rows_seconds = time.monotonic() - start
        after = (tree_cpu(w.p.pid), redis_cpu(r), pg.server_cpu())
    finally:
        w.stop()
    time.sleep(0.5)  # the worker's backends report their statistics as they exit
    writes = (pg.row_writes() - writes_before) / n
    us = [(a - b) / n * 1e6 for a, b in zip(after, before)]
    return {"tasks_s": n / seconds, "rows_s": n / rows_seconds if rows_seconds else None, "worker_us": us[0],
            "redis_us": us[1], "pg_us": us[2], "writes": writes}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--baseline", help="an earlier celeriac binary, drained with --database in the same rounds")
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--prefetch", type=int, default=1000)
    args = ap.parse_args()

    variants = [("without --database", args.celeriac, False), ("with --database", args.celeriac, True)]
    if args.baseline:
        variants.append(("with --database, before", args.baseline, True))
    tmp = tempfile.mkdtemp(prefix="celeriac-dbbench-")
    os.chmod(tmp, 0o711)  # the server's unprivileged user must reach its folder
    redis_proc, r, url = throughput.start_private_redis(tmp)
    pg = Postgres(tmp, args.celeriac)
    runs = {label: [] for label, _, _ in variants}
    load_before = loadavg()
    try:
        for i in range(args.rounds):
            # Rotate the order so that a slow patch of the machine does not always hit the same variant.
            for label, binary, database in variants[i % len(variants):] + variants[:i % len(variants)]:
                argv = drain_worker_argv(binary, url, args.prefetch, True, ["--database", pg.dsn] if database else [])
                result = drain(r, pg, argv, args.n, os.path.join(tmp, "worker.log"), database)
                log(f"round {i + 1} {label}: {result}")
                runs[label].append(result)
        redis_version = r.info()["redis_version"]
    finally:
        pg.close()
        redis_proc.stop()

    reference = statistics.median(x["tasks_s"] for x in runs[variants[0][0]])
    print("| worker | tasks/s | vs without | SUCCESS rows landed/s | worker µs/task | Redis µs/task | "
          "PostgreSQL µs/task | all three µs/task | row writes/task |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, _, database in variants:
        xs = runs[label]
        rate = [x["tasks_s"] for x in xs]
        rows = fmt_range([x["rows_s"] for x in xs], 0) if database else "–"
        total = [x["worker_us"] + x["redis_us"] + x["pg_us"] for x in xs]
        print(f"| {label} | {fmt_range(rate, 0)} | {statistics.median(rate) / reference:.0%} | {rows} | "
              f"{fmt_range([x['worker_us'] for x in xs])} | {fmt_range([x['redis_us'] for x in xs])} | "
              f"{fmt_range([x['pg_us'] for x in xs])} | {fmt_range(total)} | {fmt_range([x['writes'] for x in xs], 2)} |")
    print()
    print(f"Median (min–max) of {args.rounds} rounds, the variants alternating; {args.n:,} `celeriac.noop` "
          f"messages per drain, `-c 2 --prefetch-multiplier {args.prefetch}`, results on; Redis {redis_version}, "
          f"PostgreSQL {pg.version} (default durability); {os.cpu_count()} cores ({platform.machine()}), "
          f"load average {load_before} before, {loadavg()} after.")


if __name__ == "__main__":
    main()
