"""CSV import benchmark: celeriac.csv_import with parallel=1, 2 and 4 vs
psql's \\copy vs a Python Celery-style task using psycopg2's execute_values
(csv_psycopg2_task.py), loading the same deterministic llm_mappings CSV
(lib/csv/bench/csv_bench writes it) into an empty table with only its
primary key, and with all of its indexes (as the migrations create them:
read from the catalog at the start). The methods alternate
within each round (the order rotating between rounds), so a noisy machine
hits them alike; medians and ranges are reported.
Also: the worker child's peak RSS for a small and a large file. What
--database costs the worker's throughput is scripts/bench-database's.

Run through scripts/bench-csv. Everything runs on private servers on free
loopback ports in a temporary folder (PostgreSQL with its default
durability, --durable). Prints a markdown section on stdout.
"""
import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2
import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A process in its own session, stopped by its process group id."""

    def __init__(self, argv, log_path, env=None):
        self.log = open(log_path, "w")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()


def child_pids(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def cpu_seconds(pids):
    """User + system CPU seconds of the given processes (those still alive)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class BackendCpu:
    """CPU seconds used by the PostgreSQL backends of one application_name
    while a load runs (polled from pg_stat_activity and /proc, so the last
    ~20 ms before a backend exits are missed). Unlike wall time, hardly
    affected by other load on the machine."""

    def __init__(self, dsn, application):
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True
        self.application = application
        self.seen = {}
        self.stopping = False
        self.thread = threading.Thread(target=self._poll)
        self.thread.start()

    def _poll(self):
        with self.conn.cursor() as cur:
            while not self.stopping:
                cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.application,))
                for (pid,) in cur.fetchall():
                    used = cpu_seconds([pid])
                    if used:
                        self.seen[pid] = used
                time.sleep(0.02)

    def stop(self):
        self.stopping = True
        self.thread.join()
        self.conn.close()
        return sum(self.seen.values())


class Bench:
    def __init__(self, args, tmp):
        self.args = args
        self.tmp = tmp
        self.uploads = os.path.join(tmp, "uploads")
        os.makedirs(self.uploads)
        os.chmod(tmp, 0o711)  # the server's unprivileged user must reach its folder
        out = subprocess.run([os.path.join(ROOT, "scripts", "start-postgres"), "--durable", os.path.join(tmp, "pg")],
                             check=True, capture_output=True, text=True)
        self.dsn = out.stdout.strip().splitlines()[-1]
        self.rport = free_port()
        self.redis_proc = Proc(["redis-server", "--port", str(self.rport), "--bind", "127.0.0.1", "--dir", tmp,
                                "--save", "", "--appendonly", "no"], os.path.join(tmp, "redis.log"))
        self.redis_url = f"redis://127.0.0.1:{self.rport}/0"
        self.r = redis.Redis(port=self.rport)
        for _ in range(200):
            try:
                self.r.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        subprocess.run([args.celeriac, "migrate", "--database", self.dsn, "--with-app-tables"], check=True,
                       capture_output=True)
        self.pg = psycopg2.connect(self.dsn)
        self.pg.autocommit = True
        self.worker = None

    def close(self):
        if self.worker:
            self.worker.stop()
        self.redis_proc.stop()
        subprocess.run([os.path.join(ROOT, "scripts", "stop-postgres"), os.path.join(self.tmp, "pg")],
                       capture_output=True)

    def postgres_pids(self):
        """The server's postmaster and its children (backends, writers)."""
        with open(os.path.join(self.tmp, "pg", "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        return [postmaster] + child_pids(postmaster)

    def sql(self, text):
        with self.pg.cursor() as cur:
            cur.execute(text)
            return cur.fetchall() if cur.description else None

    def generate(self, rows, name):
        path = os.path.join(self.uploads, name)
        subprocess.run([self.args.csv_bench, str(rows), "1", "parse", path], check=True, capture_output=True)
        return path

    def start_worker(self, extra=()):
        if self.worker:
            self.worker.stop()
        self.r.flushdb()
        self.worker = Proc([self.args.celeriac, "worker", "-b", self.redis_url, "-c", "1", "-l", "warning",
                            "--database", self.dsn, "--upload-dir", self.uploads, *extra],
                           os.path.join(self.tmp, "worker.log"))
        for _ in range(200):
            if child_pids(self.worker.p.pid):
                break
            time.sleep(0.05)
        time.sleep(0.5)

    def table_indexes(self):
        """llm_mappings' indexes other than its primary key, as the migrations made them: {name: definition}."""
        rows = self.sql("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                        "AND tablename = 'llm_mappings' AND indexname <> 'llm_mappings_pkey' ORDER BY indexname")
        return dict(rows)

    def set_indexes(self, all_indexes):
        """The primary key and no other index, or every index the table was made with."""
        if not hasattr(self, "indexes"):
            self.indexes = self.table_indexes()
        for name in self.indexes:
            self.sql(f"DROP INDEX IF EXISTS {name}")
        self.sql("ALTER TABLE llm_mappings DROP CONSTRAINT IF EXISTS llm_mappings_pkey")
        self.sql("ALTER TABLE llm_mappings ADD PRIMARY KEY (id)")
        if all_indexes:
            for definition in self.indexes.values():
                self.sql(definition)
        left = set(self.table_indexes())
        assert left == (set(self.indexes) if all_indexes else set()), left

    def empty(self):
        self.sql("TRUNCATE llm_mappings RESTART IDENTITY")
        self.sql("TRUNCATE celeriac_import_errors, celeriac_import_checkpoints, celeriac_import_parts")
        self.sql("CHECKPOINT")

    def count(self):
        return self.sql("SELECT count(*) FROM llm_mappings")[0][0]

    def run_celeriac(self, name, chunk_rows, parallel=None):
        kw = {"path": name, "profile": "llm_mappings", "chunk_rows": chunk_rows}
        if parallel:
            kw["parallel"] = parallel
        kwargs = json.dumps(kw)
        cpu = BackendCpu(self.dsn, "celeriac-csv-import")
        t0 = time.monotonic()
        out = subprocess.run([self.args.celeriac, "call", "celeriac.csv_import", "-b", self.redis_url, "--kwargs",
                              kwargs, "--wait", "--timeout", "900"], capture_output=True, text=True)
        seconds = time.monotonic() - t0
        backend = cpu.stop()
        if out.returncode != 0:
            raise RuntimeError(f"celeriac.csv_import failed: {out.stderr}")
        return seconds, json.loads(out.stdout.strip().splitlines()[-1]), backend

    def run_psql(self, *paths):
        """psql \\copy of each path, all at once (one session each)."""
        cols = "merchant_name,category,ticker,confidence,user_id,created_at"
        cpu = BackendCpu(self.dsn, "psql")
        t0 = time.monotonic()
        procs = [subprocess.Popen(["psql", self.dsn, "-qc",
                                   f"\\copy llm_mappings ({cols}) FROM '{path}' WITH (FORMAT csv, HEADER true)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for path in paths]
        for p in procs:
            if p.wait() != 0:
                raise RuntimeError(f"psql \\copy failed: {p.stderr.read().decode()}")
        seconds = time.monotonic() - t0
        return seconds, cpu.stop()

    def halves(self, path):
        """The file cut in two at a record boundary, each with the header.
        In csv_bench's files the only line break inside a quoted field is
        followed by 'line two', so any other line break ends a record."""
        with open(path, "rb") as f:
            data = f.read()
        header = data[:data.index(b"\n") + 1]
        cut = data.index(b"\n", len(data) // 2)
        while data[cut + 1:cut + 9] == b"line two":
            cut = data.index(b"\n", cut + 1)
        out = []
        for i, part in enumerate((data[:cut + 1], header + data[cut + 1:])):
            out.append(os.path.join(self.uploads, f"half{i}.csv"))
            with open(out[-1], "wb") as f:
                f.write(part)
        return out

    def run_psycopg2(self, path):
        cpu = BackendCpu(self.dsn, "bench-psycopg2")
        t0 = time.monotonic()
        out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "csv_psycopg2_task.py"), path,
                              self.dsn + "?application_name=bench-psycopg2"],
                             check=True, capture_output=True, text=True)
        seconds = time.monotonic() - t0
        return seconds, json.loads(out.stdout), cpu.stop()

    def child_peak_rss_kib(self):
        kids = child_pids(self.worker.p.pid)
        return status_kib(kids[0], "VmHWM") if kids else 0


def median(xs):
    return statistics.median(xs)


CELERIAC_PARTS = (1, 2, 4)
METHODS = [f"celeriac p{n}" for n in CELERIAC_PARTS] + ["psql", "psql x2"]


def run_method(b, args, method, path, halves):
    """One load into the emptied table: (rows/s end to end, backend CPU s)."""
    b.empty()
    if method.startswith("psql"):
        seconds, backend = b.run_psql(*(halves if method == "psql x2" else [path]))
        assert b.count() == args.rows
        return args.rows / seconds, backend, ""
    if method == "psycopg2":
        seconds, summary, backend = b.run_psycopg2(path)
        assert summary["rows_loaded"] == args.rows and b.count() == args.rows, summary
        return args.rows / seconds, backend, ""
    parts = int(method.split("p")[-1])
    seconds, summary, backend = b.run_celeriac("big.csv", args.chunk_rows, parts)
    assert summary["rows_loaded"] == args.rows and b.count() == args.rows, summary
    assert summary["parts"] == parts, summary
    return args.rows / seconds, backend, f" (task's own {summary['rows_per_second']:,.0f})"


def cell(xs, fmt="{:,.0f}"):
    if not xs:
        return "–"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--csv-bench", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5, help="rounds per index setting (median and range reported)")
    ap.add_argument("--psycopg2-runs", type=int, default=1)
    ap.add_argument("--chunk-rows", type=int, default=10_000)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="celeriac-bench-csv-")
    b = Bench(args, tmp)
    load_before = os.getloadavg()
    rates = {}
    backend_cpu = {}
    try:
        log(f"generating {args.rows} rows")
        big = b.generate(args.rows, "big.csv")
        halves = b.halves(big)
        size_mb = os.path.getsize(big) / 1e6
        b.start_worker()
        for all_indexes in (False, True):
            b.set_indexes(all_indexes)
            rate = {m: [] for m in METHODS + ["psycopg2"]}
            cpu = {m: [] for m in METHODS + ["psycopg2"]}
            for run in range(args.runs):
                order = METHODS[run % len(METHODS):] + METHODS[:run % len(METHODS)]
                if run < args.psycopg2_runs:
                    order.append("psycopg2")
                for method in order:
                    r, backend, note = run_method(b, args, method, big, halves)
                    rate[method].append(r)
                    cpu[method].append(backend)
                    log(f"all_indexes={all_indexes} round {run}: {method} {r:,.0f} rows/s{note}, "
                        f"backend CPU {backend:.2f} s")
            rates[all_indexes] = rate
            backend_cpu[all_indexes] = cpu

        # Peak RSS of a fresh worker child: a tenth of the file, then all of
        # it, in 4 parts (the most memory: a chunk and a read buffer each).
        b.set_indexes(False)
        b.start_worker()
        b.generate(args.rows // 10, "small.csv")
        b.empty()
        b.run_celeriac("small.csv", args.chunk_rows, 4)
        rss_small = b.child_peak_rss_kib()
        b.empty()
        b.run_celeriac("big.csv", args.chunk_rows, 4)
        rss_big = b.child_peak_rss_kib()
        b.worker.stop()
        b.worker = None

    finally:
        b.close()
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    report(args, size_mb, rates, backend_cpu, load_before, load_after, rss_small, rss_big, b.indexes)


def report(args, size_mb, rates, backend_cpu, load_before, load_after, rss_small, rss_big, indexes):
    pk, every = rates[False], rates[True]
    all_n = f"all {len(indexes) + 1} indexes"
    index_list = ", ".join(f"`{d[d.index(' USING btree ') + 13:]}`" for d in indexes.values())
    med = {k: {m: median(v) for m, v in r.items() if v} for k, r in rates.items()}
    best = {k: max(CELERIAC_PARTS, key=lambda n: med[k][f"celeriac p{n}"]) for k in (False, True)}
    print("## CSV import")
    print()
    print(f"`scripts/bench-csv` on {platform.node()} ({os.cpu_count()} cores), "
          f"{time.strftime('%Y-%m-%d')}. Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after: "
          "the machine is shared with other agents' builds and tests, so single runs swing widely; every "
          "figure is the median of the rounds with the range beside it, and the methods alternate within "
          "each round (the order rotating) so that the noise hits them alike.")
    print()
    print(f"Loading the same deterministic {args.rows:,}-row llm_mappings CSV ({size_mb:.1f} MB, generated by "
          "`lib/csv/bench/csv_bench`: quoted names with commas and doubled quotes, non-ASCII names, empty "
          "tickers, timestamps with offsets) into an empty `llm_mappings` on a private PostgreSQL 15 with its "
          "default durability (fsync on, synchronous_commit on), one worker child, chunk_rows "
          f"{args.chunk_rows:,}, with the table's primary key and no other index, and with all "
          f"{len(indexes) + 1} of the indexes its migrations create (the primary key, {index_list}); its "
          "`BEFORE INSERT` row trigger (rows that arrive with a category are stored as mapped) fires in both. "
          "celeriac's time is end to "
          "end: from `celeriac call --wait` sending the message to the SUCCESS result. "
          f"{args.runs} rounds per setting ({args.psycopg2_runs} for psycopg2). rows/s, median (min–max):")
    print()
    print(f"| method | primary key only | {all_n} |")
    print("|---|---:|---:|")
    for n in CELERIAC_PARTS:
        m = f"celeriac p{n}"
        print(f"| `celeriac.csv_import` parallel={n} | {cell(pk[m])} | {cell(every[m])} |")
    print(f"| `psql \\copy` (CSV, one transaction, no validation) | {cell(pk['psql'])} | {cell(every['psql'])} |")
    print(f"| two `psql \\copy` at once, one half each (the server's own scaling) | {cell(pk['psql x2'])} | "
          f"{cell(every['psql x2'])} |")
    if pk["psycopg2"]:
        print(f"| Python task, psycopg2 `execute_values`, 10k batches | {cell(pk['psycopg2'])} | "
              f"{cell(every['psycopg2'])} |")
    for n in CELERIAC_PARTS:
        m = f"celeriac p{n}"
        print(f"| **parallel={n} / psql \\copy** | **{med[False][m] / med[False]['psql']:.2f}×** | "
              f"**{med[True][m] / med[True]['psql']:.2f}×** |")
    if pk["psycopg2"]:
        print(f"| **best celeriac / psycopg2** | **{med[False][f'celeriac p{best[False]}'] / med[False]['psycopg2']:.1f}×** | "
              f"**{med[True][f'celeriac p{best[True]}'] / med[True]['psycopg2']:.1f}×** |")
    print()
    print("Per round, celeriac's rate over psql's in the same round (median, min–max), which cancels "
          "slow patches of the machine that hit a whole round:")
    print()
    print(f"| | primary key only | {all_n} |")
    print("|---|---:|---:|")
    for n in CELERIAC_PARTS:
        m = f"celeriac p{n}"
        ratios = {k: [c / p for c, p in zip(rates[k][m], rates[k]["psql"])] for k in (False, True)}
        print(f"| parallel={n} / psql | {cell(ratios[False], '{:.2f}×')} | {cell(ratios[True], '{:.2f}×')} |")
    print()
    print("PostgreSQL backend CPU seconds for the whole load (median; all of an import's connections "
          "together), which other load on the machine hardly affects:")
    print()
    print(f"| method | primary key only | {all_n} |")
    print("|---|---:|---:|")
    for m in METHODS + (["psycopg2"] if pk["psycopg2"] else []):
        name = {"psql": "`psql \\copy`", "psql x2": "two `psql \\copy` at once",
                "psycopg2": "psycopg2 `execute_values`"}.get(m, f"celeriac parallel={m[-1]}")
        print(f"| {name} | {median(backend_cpu[False][m]):.2f} s | {median(backend_cpu[True][m]):.2f} s |")
    print()
    p1, p2, p4 = (f"celeriac p{n}" for n in CELERIAC_PARTS)
    x2 = {k: med[k]["psql x2"] / med[k]["psql"] for k in (False, True)}
    cpu_x2 = {k: median(backend_cpu[k]["psql x2"]) / median(backend_cpu[k]["psql"]) for k in (False, True)}
    cpu_p2 = {k: median(backend_cpu[k][p2]) / median(backend_cpu[k][p1]) for k in (False, True)}
    print(f"How it scales with parts. With only the primary key, parallel=2 loads {med[False][p2] / med[False][p1]:.2f}× "
          f"as fast as parallel=1 and parallel=4 {med[False][p4] / med[False][p1]:.2f}×; with {all_n} "
          f"{med[True][p2] / med[True][p1]:.2f}× and {med[True][p4] / med[True][p1]:.2f}×. One part is one "
          "PostgreSQL backend and one worker thread, and with one part the backend is the bottleneck (its CPU "
          "time is about the load's wall time), so more parts help as far as the server can insert "
          "into one table from several sessions at once: two `psql "
          f"\\copy` sessions on halves of the file run {x2[False]:.2f}× as fast as one with only the primary key "
          f"({x2[True]:.2f}× with all indexes) while using {cpu_x2[False]:.2f}× the backend CPU "
          f"({cpu_x2[True]:.2f}×); celeriac's two parts use {cpu_p2[False]:.2f}× ({cpu_p2[True]:.2f}×) the "
          "backend CPU of one. Four parts on two cores add "
          "connections and contention, not cores. The worker's own share, parsing, checking and encoding (about "
          "0.45 µs a row, `csv_bench`), runs on the parts' threads; cutting the file costs one scan of 3/4 "
          "of it before loading starts (about 20 ms for this file, `csv_bench ... split`).")
    print()
    print(f"Peak RSS of the worker child (VmHWM) with parallel=4: {rss_small / 1024:.1f} MiB after a "
          f"{args.rows // 10:,}-row file, {rss_big / 1024:.1f} MiB after the {args.rows:,}-row one: memory is "
          "bounded by a chunk per part, not the file.")


if __name__ == "__main__":
    main()
