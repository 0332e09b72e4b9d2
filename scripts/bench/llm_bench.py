#!/usr/bin/python3
"""Driver of scripts/bench-llm: prints a markdown report on stdout.

Everything runs on private servers: a PostgreSQL (scripts/start-postgres),
a redis-server, the local OpenAI-compatible server
(tests/support/fake_llm_server.py) and `celeriac worker` processes, all on
free loopback ports, all stopped at the end.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "system"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration", "jobs"))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration", "llm"))
sys.dont_write_bytecode = True

import support  # noqa: E402
from pg_support import Postgres  # noqa: E402
from test_llm_worker import FakeLLM, celery_app, distinct_names  # noqa: E402


def note(msg):
    print(f"[bench-llm {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, celeriac):
        os.environ["CELERIAC_BIN"] = celeriac
        self.celeriac = celeriac
        self.env = support.Env("bench-llm")
        os.chmod(self.env.dir, 0o711)
        self.pg = Postgres(self.env.dir).start()
        subprocess.run([celeriac, "migrate", "--database", self.pg.url, "--with-app-tables"], check=True,
                       capture_output=True)
        self.redis = self.env.redis()
        self.fakes = []
        self.app = celery_app(self.redis.url)

    def close(self):
        for f in self.fakes:
            f.stop()
        for w in self.env.workers:
            w.stop()
        self.pg.stop()
        self.env.close()

    def fake(self, latency_ms):
        f = FakeLLM(self.env.dir, latency_ms)
        self.fakes.append(f)
        return f

    def worker(self, fake, children, queue):
        # prefetch 1: each sweep goes to a free child, so the children work side by side.
        return self.env.worker(self.redis.url, concurrency=children, queues=queue, loglevel="warning", prefetch=1,
                               extra=["--database", self.pg.url, "--llm-base-url", fake.url, "--llm-model", "bench"])

    def sql(self, statement, params=()):
        return self.pg.query(statement, params)

    def reset_tables(self):
        self.sql("TRUNCATE llm_mappings, merchant_mappings, merchant_mapping_requests, ai_interactions")

    def load_names(self, names):
        with self.pg.connect() as c, c.cursor() as cur:
            for i in range(0, len(names), 50000):
                cur.execute("INSERT INTO llm_mappings (merchant_name) SELECT unnest(%s::text[])",
                            (names[i:i + 50000],))


def sweep_rate(b, queue, latency_s, runs, rows, tag):
    """Two children, each running one map_pending with concurrency 8 and
    batch_size 25 against a server that answers every request after
    latency_s; returns (ideal, median rate by the tasks' own time, median
    rate send_task -> both results)."""
    ideal = 2 * 8 * 25 / latency_s
    results = []
    for run in range(runs):
        b.reset_tables()
        b.load_names(distinct_names(rows, f"{tag}{run}"))
        start = time.monotonic()
        # max_rows = all rows: the two sweeps share the backlog and neither
        # sends a continuation.
        sent = [b.app.send_task("celeriac.llm.map_pending", queue=queue,
                                kwargs={"max_rows": rows, "batch_size": 25, "concurrency": 8}) for _ in range(2)]
        outs = [s.get(timeout=600) for s in sent]
        wall = time.monotonic() - start
        mapped = sum(o["rows_mapped"] for o in outs)
        task_secs = max(o["seconds"] for o in outs)
        results.append((mapped / task_secs, mapped / wall))
        note(f"throughput at {latency_s * 1000:.0f} ms, run {run + 1}: {mapped} rows in {task_secs:.2f}s (task) / "
             f"{wall:.2f}s (wall)")
    return ideal, statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def throughput(b, runs, rows):
    fake = b.fake(100)
    b.worker(fake, 2, "llm-bench")
    ideal, rate, wall_rate = sweep_rate(b, "llm-bench", 0.100, runs, rows, "tp")
    slow = b.fake(300)
    b.worker(slow, 2, "llm-slow")
    ideal_300, rate_300, _ = sweep_rate(b, "llm-slow", 0.300, 1, rows, "ts")

    # One batch of 100 merchants, end to end from send_task to the result.
    b.reset_tables()
    b.load_names(distinct_names(100, "hundred"))
    start = time.monotonic()
    out = b.app.send_task("celeriac.llm.map_pending", queue="llm-bench",
                          kwargs={"batch_size": 100, "concurrency": 1}).get(timeout=120)
    hundred = time.monotonic() - start
    check_all_mapped(b)

    # map_merchant with a warm cache: send_task -> result, median of 20.
    b.app.send_task("celeriac.llm.map_merchant", queue="llm-bench", args=["STARBUCKS #1 SEATTLE WA"]).get(timeout=60)
    warm = []
    for i in range(20):
        start = time.monotonic()
        r = b.app.send_task("celeriac.llm.map_merchant", queue="llm-bench",
                            args=[f"Starbucks Store {i:04d}"]).get(timeout=60)
        warm.append(time.monotonic() - start)
        if r["source"] != "cache":
            raise SystemExit(f"bench-llm: a warm lookup was answered by {r['source']}")
    return ideal, rate, wall_rate, hundred, statistics.median(warm), (ideal_300, rate_300)


def check_all_mapped(b):
    left = b.sql("SELECT count(*) FROM llm_mappings WHERE status <> 'mapped'")[0][0]
    if left:
        raise SystemExit(f"bench-llm: {left} rows were not mapped")


def cache_rate(b, rows, distinct):
    """rows rows, of which distinct are new merchants and the rest repeat
    earlier ones as variants (store numbers, processor prefixes, city)."""
    fake = b.fake(20)
    b.worker(fake, 2, "llm-cache")
    b.reset_tables()
    base = distinct_names(distinct, "cache")
    names = []
    i = 0
    while len(names) < rows:
        k = base[(i * 7919) % distinct] if i >= distinct else base[i]
        variant = i % 4
        names.append(k if variant == 0 else f"SQ *{k} #{i}" if variant == 1 else f"{k} STORE {i % 9999:04d}"
                     if variant == 2 else f"{k} SEATTLE WA")
        i += 1
    b.load_names(names)
    note(f"cache: {rows} rows loaded, {distinct} distinct merchants")
    start = time.monotonic()
    sent = [b.app.send_task("celeriac.llm.map_pending", queue="llm-cache",
                            kwargs={"max_rows": rows, "batch_size": 25, "concurrency": 8}) for _ in range(2)]
    outs = [s.get(timeout=3600) for s in sent]
    wall = time.monotonic() - start
    check_all_mapped(b)
    st = fake.stats()
    asked = sum(st["merchants"].values())
    hits = sum(o["cache_hits"] + o["near_hits"] for o in outs)
    skipped = sum(o["near_skipped"] for o in outs)
    calls = sum(o["llm_calls"] for o in outs)
    return {"rows": rows, "distinct": distinct, "asked": asked, "hits": hits, "calls": calls, "wall": wall,
            "skipped": skipped,
            "calls_without_cache": -(-rows // 25)}


def view_refresh(b, runs):
    """celeriac.views.refresh of merchant_stats on the rows left by the
    cache benchmark, beside psql's REFRESH ... CONCURRENTLY of the same
    view, alternating, medians."""
    fake = b.fake(0)
    b.worker(fake, 1, "views-bench")
    rows = b.sql("SELECT count(*) FROM llm_mappings")[0][0]
    ours, theirs = [], []
    for run in range(runs):
        out = b.app.send_task("celeriac.views.refresh", queue="views-bench",
                              kwargs={"view": "merchant_stats"}).get(timeout=600)
        ours.append(out["seconds"])
        r = subprocess.run(["psql", b.pg.url, "-X", "-q", "-c", "\\timing on", "-c",
                            "REFRESH MATERIALIZED VIEW CONCURRENTLY merchant_stats"],
                           capture_output=True, text=True, check=True)
        ms = float(r.stdout.strip().splitlines()[-1].split()[1])
        theirs.append(ms / 1000)
        note(f"refresh run {run + 1}: celeriac {out['seconds']:.3f}s ({out['mode']}), psql {ms / 1000:.3f}s")
    return rows, statistics.median(ours), statistics.median(theirs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--rows", type=int, default=40000, help="rows per throughput run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeat-rows", type=int, default=1_000_000, help="rows of the cache benchmark")
    args = ap.parse_args()
    b = Bench(args.celeriac)
    try:
        ideal, rate, wall_rate, hundred, warm, (ideal_300, rate_300) = throughput(b, args.runs, args.rows)
        cache = cache_rate(b, args.repeat_rows, int(args.repeat_rows * 0.3))
        view_rows, ours, theirs = view_refresh(b, args.runs)
    finally:
        b.close()
    load = os.getloadavg()[0]
    print("## LLM mapping and views\n")
    print(f"Measured {time.strftime('%Y-%m-%d')} by `scripts/bench-llm` on this 2-core machine (load average "
          f"{load:.1f} at the end), against `tests/support/fake_llm_server.py`, a local OpenAI-compatible server "
          "that answers after a fixed latency. Redis, PostgreSQL, the server and the workers share the two cores.\n")
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| map_pending throughput, 2 children × concurrency 8 × batch 25 at 100 ms | {rate:,.0f} merchants/s "
          f"({rate / ideal:.0%} of the ideal {ideal:,.0f}/s; {wall_rate:,.0f}/s from send_task to both results) "
          f"| ≥ 90% of ideal |")
    print(f"| the same at 300 ms per request | {rate_300:,.0f} merchants/s ({rate_300 / ideal_300:.0%} of the ideal "
          f"{ideal_300:,.0f}/s) | ≥ 90% of ideal |")
    print(f"| one batch of 100 merchants, send_task → result | {hundred:.2f} s | well under 10 s |")
    print(f"| map_merchant with a warm cache, send_task → result (median of 20) | {warm * 1000:.1f} ms | under 1 s |")
    print(f"| cache: {cache['rows']:,} rows, {cache['distinct']:,} distinct merchants (70% of rows repeat earlier "
          f"ones as variants) | {cache['hits']:,} exact/near cache hits ({cache['hits'] / cache['rows']:.0%} of rows); "
          f"{cache['asked']:,} names sent to the model in {cache['calls']:,} calls instead of "
          f"{cache['calls_without_cache']:,} without the cache ({1 - cache['calls'] / cache['calls_without_cache']:.0%} "
          f"saved); {cache['wall']:.0f} s for the whole backlog; {cache['skipped']} chunks' near lookups abandoned at "
          f"near_timeout | hit rate ≥ 70% |")
    print(f"| views.refresh of merchant_stats ({view_rows:,} rows in llm_mappings), median of {args.runs} | "
          f"{ours:.3f} s vs psql's REFRESH CONCURRENTLY {theirs:.3f} s ({ours / theirs - 1:+.1%}) | within 5% |")
    print()
    print("Rows that share a name with one already being asked ride on that one request, so the names sent to "
          "the model equal the distinct merchants and every other row is answered without a call of its own; "
          "the \"cache hits\" figure counts only rows answered from `merchant_mappings` by a later claim.")


if __name__ == "__main__":
    main()
