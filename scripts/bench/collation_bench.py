"""What the database's default collation costs the job store: the no-op
drain with --database (-c 2, results on, as scripts/bench-database runs it)
into databases of one private PostgreSQL that differ only in collation.

Variants, alternating in one run:
  - "C": the database's default collation is C (what the other benchmarks
    and the tests use: their clusters are made with initdb --no-locale);
  - ICU en-US, with celeriac's task id and state columns in the database's
    collation (as before migration 0005) and bytewise (after it);
  - glibc's en_US.UTF-8, the same two ways, when this machine has that
    locale (`locale -a`; make it with `localedef -i en_US -f UTF-8
    en_US.UTF-8`), which is what most hosts' initdb picks.
"Before 0005" is made by migrating and then putting the columns back in the
database's collation, so one binary serves every variant. Prints markdown.
"""
import os
import subprocess
import sys
import tempfile

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import database_bench  # noqa: E402
import throughput  # noqa: E402
from alternating import drain_arguments, drain_worker_argv  # noqa: E402
from cpu_bench import fmt_range  # noqa: E402

# The columns migration 0005 makes bytewise.
BYTEWISE = [("celeriac_jobs", "task_id"), ("celeriac_jobs", "state"), ("celeriac_import_errors", "task_id"),
            ("celeriac_import_checkpoints", "task_id"), ("celeriac_import_parts", "task_id")]


class Database(database_bench.Postgres):
    """One database of the shared private server, migrated; `before_0005`
    puts the columns back in the database's own collation."""

    def __init__(self, pg_dir, server_dsn, celeriac, name, locale_sql, before_0005):
        self.dir = pg_dir
        admin = psycopg2.connect(server_dsn)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name} TEMPLATE template0 {locale_sql}")
        admin.close()
        self.dsn = server_dsn.rsplit("/", 1)[0] + "/" + name
        subprocess.run([celeriac, "migrate", "--database", self.dsn], check=True, capture_output=True)
        self.conn = psycopg2.connect(self.dsn)
        self.conn.autocommit = True
        if before_0005:
            for table, column in BYTEWISE:
                self.run(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "default"')
        self.own_pid = self.one("SELECT pg_backend_pid()")
        self.version = self.one("SHOW server_version")

    def close(self):
        self.conn.close()


def has_libc_en_us():
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower().split()
    return "en_us.utf8" in out


def main():
    args = drain_arguments()

    locales = [("ICU en-US", "icu", "LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")]
    if has_libc_en_us():
        locales.append(("glibc en_US.UTF-8", "libc", "LOCALE 'en_US.UTF-8'"))
    else:
        database_bench.log("no en_US.UTF-8 locale here (locale -a): measuring C and ICU only")
    variants = [("C", "bench_c", "LOCALE 'C'", False)]
    for title, key, sql in locales:
        variants.append((f"{title}, task ids in its collation (before 0005)", f"bench_{key}_before", sql, True))
        variants.append((f"{title}, task ids bytewise (0005)", f"bench_{key}_after", sql, False))

    tmp = tempfile.mkdtemp(prefix="celeriac-collbench-")
    os.chmod(tmp, 0o711)  # the server's unprivileged user must reach its folder
    redis_proc, r, url = throughput.start_private_redis(tmp)
    pg_dir = os.path.join(tmp, "pg")
    out = subprocess.run([os.path.join(ROOT, "scripts", "start-postgres"), "--durable", pg_dir], check=True,
                         capture_output=True, text=True)
    server_dsn = out.stdout.strip().splitlines()[-1]
    dbs = {}
    runs = {label: [] for label, *_ in variants}
    load_before = database_bench.loadavg()
    try:
        for label, name, sql, before in variants:
            dbs[label] = Database(pg_dir, server_dsn, args.celeriac, name, sql, before)
        for i in range(args.rounds):
            k = i % len(variants)
            for label, *_ in variants[k:] + variants[:k]:
                db = dbs[label]
                argv = drain_worker_argv(args.celeriac, url, args.prefetch, True, ["--database", db.dsn])
                result = database_bench.drain(r, db, argv, args.n, os.path.join(tmp, "worker.log"), True)
                database_bench.log(f"round {i + 1} {label}: {result}")
                runs[label].append(result)
        redis_version = r.info()["redis_version"]
        pg_version = dbs["C"].version
    finally:
        for db in dbs.values():
            db.close()
        subprocess.run([os.path.join(ROOT, "scripts", "stop-postgres"), pg_dir], capture_output=True)
        redis_proc.stop()

    print("| database's collation | tasks/s | SUCCESS rows landed/s | worker µs/task | Redis µs/task | "
          "PostgreSQL µs/task | row writes/task |")
    print("|---|---|---|---|---|---|---|")
    for label, *_ in variants:
        xs = runs[label]
        print(f"| {label} | {fmt_range([x['tasks_s'] for x in xs], 0)} | {fmt_range([x['rows_s'] for x in xs], 0)} | "
              f"{fmt_range([x['worker_us'] for x in xs])} | {fmt_range([x['redis_us'] for x in xs])} | "
              f"{fmt_range([x['pg_us'] for x in xs])} | {fmt_range([x['writes'] for x in xs], 2)} |")
    print()
    print(f"Median (min–max) of {args.rounds} rounds, the variants alternating; {args.n:,} `celeriac.noop` messages "
          f"per drain with --database, `-c 2 --prefetch-multiplier {args.prefetch}`, results on; Redis "
          f"{redis_version}, PostgreSQL {pg_version} (default durability); {os.cpu_count()} cores, load average "
          f"{load_before} before, {database_bench.loadavg()} after.")


if __name__ == "__main__":
    main()
