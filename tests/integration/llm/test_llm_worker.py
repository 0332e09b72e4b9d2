#!/usr/bin/python3
"""The LLM mapping family end to end: Celery's client, celeriac workers,
Redis, PostgreSQL and a local OpenAI-compatible server
(tests/support/fake_llm_server.py), all real processes on loopback.

* heuristic_default: no provider configured -> the offline heuristic
  provider maps every pending row; rows that arrived with a category are
  left alone; a second sweep answers from the cache.
* failure_kinds: 429 + Retry-After, 500, a timeout, a malformed answer, a
  partial answer and invalid rows, each against its own rows; a provider
  that keeps failing is marked down and the heuristic provider answers.
* two_workers: two workers drain one backlog concurrently; no name is sent
  to the model twice, no row is left pending.
* kill_child: a child is killed with SIGKILL mid-batch; its rows are mapped
  once the claim lease has run out.
* cluster_limit: requests_per_minute holds across two workers, counted at
  the server.
* map_merchant: the real-time path: model, then cache, then near match.
* continuation: max_rows below the backlog -> the task enqueues its own
  continuation and the backlog drains.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "jobs"))
from pg_support import job, migrate, with_postgres  # noqa: E402
from support import check, log, run_suite, wait_until  # noqa: E402

FAKE = os.path.join(SOURCE, "tests", "support", "fake_llm_server.py")


class FakeLLM:
    """tests/support/fake_llm_server.py on a free loopback port."""

    def __init__(self, workdir, latency_ms=0):
        self.log_path = os.path.join(workdir, f"fake-llm-{time.monotonic_ns()}.log")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--latency-ms", str(latency_ms)],
                                     stdout=subprocess.PIPE, stderr=self.logf, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode().strip()
        check(line.startswith("LISTENING "), f"fake LLM server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def control(self, **kw):
        return self._call("POST", "/_control", kw)

    def stats(self):
        return self._call("GET", "/_stats")

    def reset(self):
        return self._call("POST", "/_reset", {})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.logf.close()


def fake_llm(env, latency_ms=0):
    srv = FakeLLM(env.dir, latency_ms)
    close = env.close

    def close_all():
        try:
            srv.stop()
        finally:
            close()
    env.close = close_all
    return srv


def celery_app(url):
    from celery import Celery
    app = Celery("client", broker=url, backend=url)
    app.conf.broker_connection_retry_on_startup = False
    return app


def setup(env, workers=1, concurrency=1, extra=(), visibility=3600):
    pg = with_postgres(env)
    migrate(pg, "--with-app-tables")
    r = env.redis()
    # prefetch 1: each sweep task goes to a child that is free, so two
    # workers really run two sweeps side by side.
    ws = [env.worker(r.url, concurrency=concurrency, queues="celery,llm", visibility_timeout=visibility, prefetch=1,
                     extra=["--database", pg.url, *extra]) for _ in range(workers)]
    return pg, r, ws


def insert_names(pg, names):
    with pg.connect() as c, c.cursor() as cur:
        cur.execute("INSERT INTO llm_mappings (merchant_name) SELECT unnest(%s::text[])", (list(names),))


def status_counts(pg):
    return dict(pg.query("SELECT status, count(*) FROM llm_mappings GROUP BY status"))


def run_task(app, name, timeout=120, **kwargs):
    res = app.send_task(name, kwargs=kwargs)
    return res.get(timeout=timeout)


def write_config(env, text):
    path = os.path.join(env.dir, f"llm-{time.monotonic_ns()}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def pseudo_word(seed, length=9):
    """A deterministic letters-only word: names built from them share few
    trigrams, so they are neither equal after normalization nor near
    matches of each other."""
    import hashlib
    h = hashlib.sha256(seed.encode()).digest()
    return "".join(chr(ord("a") + b % 26) for b in h[:length])


def distinct_names(n, prefix="shop"):
    """n names that normalize to n different keys, none a near match of
    another (no digits: store numbers are stripped by normalization)."""
    return [f"{prefix} {pseudo_word(f'{prefix}-{i}')} {pseudo_word(f'{prefix}+{i}', 6)}".upper() for i in range(n)]


def test_heuristic_default(env):
    pg, r, _ = setup(env)
    names = ["STARBUCKS #1234 SEATTLE WA", "Starbucks Store 0042", "SQ *BLUE BOTTLE COFFEE", "UBER   *TRIP",
             "SHELL OIL 57444 HOUSTON TX", "Corner Pizza Grill"] * 10
    insert_names(pg, names)
    with pg.connect() as c, c.cursor() as cur:
        cur.execute("INSERT INTO llm_mappings (merchant_name, category, confidence) VALUES ('Reviewed Shop', "
                    "'Shopping', 1.0)")
    app = celery_app(r.url)
    out = run_task(app, "celeriac.llm.map_pending")
    log(f"first sweep: {out}")
    check(out["rows_mapped"] == 60 and out["rows_failed"] == 0, f"every row mapped: {out}")
    check(out["llm_calls"] == 0, "the heuristic provider makes no HTTP call")
    check(status_counts(pg) == {"mapped": 61}, f"statuses {status_counts(pg)}")
    rows = pg.query("SELECT merchant_key, category, ticker, source FROM llm_mappings WHERE merchant_name = "
                    "'STARBUCKS #1234 SEATTLE WA' LIMIT 1")
    check(rows[0][0] == "starbucks" and rows[0][2] == "SBUX", f"starbucks row {rows}")
    check(pg.scalar("SELECT source FROM llm_mappings WHERE merchant_name = 'Reviewed Shop'") == "upload",
          "a row that arrived with a category is not sent anywhere")
    check(out["keys_filled"] == 1 and pg.scalar("SELECT merchant_key FROM llm_mappings WHERE merchant_name = "
                                                "'Reviewed Shop'") == "reviewed shop",
          f"but it gets its merchant_key, for per-merchant statistics: {out}")
    check(pg.scalar("SELECT count(*) FROM merchant_mappings") == 5, "one cache row per normalized name")

    insert_names(pg, ["STARBUCKS #99 PORTLAND OR", "Corner Pizza Grill"])
    out = run_task(app, "celeriac.llm.map_pending")
    check(out["cache_hits"] == 2 and out["rows_mapped"] == 2, f"second sweep answers from the cache: {out}")
    hits = pg.scalar("SELECT hit_count FROM merchant_mappings WHERE merchant_key = 'starbucks'")
    check(hits >= 1, f"hit_count counted ({hits})")


def failure_config(env, fake, extra=""):
    return write_config(env, f"""
[[provider]]
name = "fake"
base_url = "{fake.url}"
model = "fake-model"
max_retries = 2
backoff_base = "50ms"
backoff_max = "200ms"
request_timeout = "1s"
down_after = 100
price_in_per_mtok = 1.0
price_out_per_mtok = 2.0
{extra}
""")


def test_failure_kinds(env):
    fake = fake_llm(env)
    pg, r, _ = setup(env, extra=["--llm-config", failure_config(env, fake)])
    app = celery_app(r.url)

    def sweep(prefix, n=10, **mode):
        fake.reset()
        if mode:
            fake.control(**mode)
        names = distinct_names(n, prefix)
        insert_names(pg, names)
        out = run_task(app, "celeriac.llm.map_pending", batch_size=n, concurrency=1)
        rows = pg.query("SELECT merchant_name, status, error, source FROM llm_mappings WHERE merchant_name = "
                        "ANY(%s) ORDER BY id", (names,))
        return out, rows, fake.stats()

    out, rows, st = sweep("ratelimited", mode="status429", retry_after="1", count=2)
    check(all(s == "mapped" for _, s, _, _ in rows), f"429 twice, then mapped: {rows}")
    check(st["by_status"].get("429") == 2 and st["by_status"].get("200") == 1, f"server saw {st['by_status']}")
    t = st["request_times"]
    check(t[1] - t[0] >= 0.9, f"Retry-After honoured ({t[1] - t[0]:.2f}s between tries)")
    statuses = [x[0] for x in pg.query("SELECT http_status FROM ai_interactions WHERE provider = 'fake' ORDER BY id")]
    check(statuses[-3:] == [429, 429, 200], f"every HTTP request is an ai_interactions row: {statuses}")
    check(out["cost_usd"] > 0 and out["tokens_in"] > 0, f"tokens and cost counted: {out}")

    out, rows, st = sweep("servererror", mode="status500", count=1)
    check(all(s == "mapped" for _, s, _, _ in rows), f"500 once, then mapped: {rows}")

    out, rows, st = sweep("slowserver", mode="slow", latency_ms=2500, count=1)
    check(all(s == "mapped" for _, s, _, _ in rows), f"a timeout, then mapped: {rows}")
    err = pg.scalar("SELECT error FROM ai_interactions WHERE http_status IS NULL ORDER BY id DESC LIMIT 1")
    check(err and "time" in err.lower(), f"the timeout is recorded: {err}")

    out, rows, st = sweep("malformed", mode="malformed", count=1)
    check(all(s == "failed" for _, s, _, _ in rows), f"a malformed answer fails the batch's rows: {rows}")
    check(all(e and "json" in e.lower() for _, _, e, _ in rows), f"with the reason: {rows[0][2]}")

    out, rows, st = sweep("partial", mode="partial", count=1)
    ok = [x for x in rows if x[1] == "mapped"]
    bad = [x for x in rows if x[1] == "failed"]
    check(len(ok) == 5 and len(bad) == 5, f"half answered, half failed: {rows}")
    check(all("no answer" in e for _, _, e, _ in bad), f"missing rows say so: {bad}")

    out, rows, st = sweep("badrows", mode="bad_rows", count=1)
    bad = [x for x in rows if x[1] == "failed"]
    check(bad and len(bad) < len(rows), f"only the invalid rows fail: {rows}")
    reasons = " | ".join(e for _, _, e, _ in bad)
    check("1.7" in reasons or "outside" in reasons, f"the reasons name the problem: {reasons}")

    # A provider that keeps failing: retries, then the heuristic provider
    # answers (the configured fallback), marked as such.
    out, rows, st = sweep("alwaysdown", mode="status500")
    check(all(s == "mapped" and src == "heuristic" for _, s, _, src in rows), f"heuristic fallback: {rows}")
    check(out["heuristic_rows"] == 10, f"counted: {out}")


def test_two_workers(env):
    fake = fake_llm(env, latency_ms=30)
    pg, r, ws = setup(env, workers=2, concurrency=2, extra=["--llm-base-url", fake.url, "--llm-model", "fake"])
    keys = distinct_names(400, "twin")
    variants = []
    for i, k in enumerate(keys):
        variants += [k, f"SQ *{k} #{i}", f"{k} STORE {i:04d}"]
    insert_names(pg, variants)
    app = celery_app(r.url)
    results = [app.send_task("celeriac.llm.map_pending", kwargs={"batch_size": 10, "concurrency": 4})
               for _ in range(4)]
    outs = [res.get(timeout=180) for res in results]
    log(f"sweeps: {[(o['rows_mapped'], o['cache_hits'], o['llm_calls']) for o in outs]}")
    check(status_counts(pg) == {"mapped": len(variants)}, f"no row left behind: {status_counts(pg)}")
    st = fake.stats()
    sent = st["merchants"]
    check(sum(sent.values()) == len(keys), f"{sum(sent.values())} names sent for {len(keys)} distinct merchants")
    check(max(sent.values()) == 1, "no name sent twice")
    busy = sum(1 for o in outs if o["llm_calls"] > 0)
    check(busy >= 2, f"the backlog was shared ({busy} sweeps made calls)")


def test_kill_child(env):
    fake = fake_llm(env, latency_ms=1500)
    pg, r, ws = setup(env, extra=["--llm-base-url", fake.url, "--llm-model", "fake"], visibility=3600)
    names = distinct_names(40, "killed")
    insert_names(pg, names)
    app = celery_app(r.url)
    app.send_task("celeriac.llm.map_pending", kwargs={"batch_size": 10, "concurrency": 2, "lease_seconds": 4})
    wait_until(lambda: fake.stats()["requests"] >= 1, 30, what="a request in flight")
    claimed = pg.scalar("SELECT count(*) FROM llm_mappings WHERE claimed_by IS NOT NULL")
    check(claimed > 0, "rows are claimed mid-batch")
    child = ws[0].children()[0]
    ws[0].kill_child(child)
    log(f"killed child {child} with {claimed} rows claimed")
    # The next sweep (a beat tick) finds the claimed rows once their lease ends.
    wait_until(lambda: (lambda kids: len(kids) >= 1 and kids[0] != child)(ws[0].children()), 20, what="a new child")
    time.sleep(4.5)
    out = run_task(app, "celeriac.llm.map_pending", batch_size=10, concurrency=2, lease_seconds=4)
    log(f"after the lease: {out}")
    check(status_counts(pg) == {"mapped": len(names)}, f"every row mapped: {status_counts(pg)}")
    check(pg.scalar("SELECT count(*) FROM llm_mappings WHERE claimed_by IS NOT NULL") == 0, "no claim left")


def test_cluster_limit(env):
    fake = fake_llm(env)
    cfg = write_config(env, f"""
fallback_heuristic = false

[[provider]]
name = "limited"
base_url = "{fake.url}"
model = "fake"
requests_per_minute = 12
tokens_per_minute = 1000000
""")
    pg, r, ws = setup(env, workers=2, concurrency=1, extra=["--llm-config", cfg])
    insert_names(pg, distinct_names(200, "limited"))
    app = celery_app(r.url)
    sent = [app.send_task("celeriac.llm.map_pending", kwargs={"batch_size": 5, "concurrency": 4}) for _ in range(2)]
    time.sleep(20)
    st = fake.stats()
    log(f"requests after 20 s: {st['requests']}")
    check(st["requests"] == 12, f"exactly the limit's 12 requests in the first minute, not {st['requests']}")
    # Both sweeps are running, on different workers, each with 4 callers
    # that would send everything at once without the shared limit.
    states = [job(pg, s.id) for s in sent]
    check(all(j and j["state"] in ("STARTED", "PROGRESS") for j in states), f"both sweeps run: {states}")
    check(len({j["worker"] for j in states}) == 2, f"on two workers: {[j['worker'] for j in states]}")


def test_map_merchant(env):
    fake = fake_llm(env)
    pg, r, _ = setup(env, extra=["--llm-base-url", fake.url, "--llm-model", "fake"])
    app = celery_app(r.url)
    first = app.send_task("celeriac.llm.map_merchant", args=["STARBUCKS #1234 SEATTLE WA"]).get(timeout=30)
    check(first["source"] == "llm" and first["ticker"] == "SBUX", f"first lookup asks the model: {first}")
    again = app.send_task("celeriac.llm.map_merchant", args=["Starbucks Store 0042"]).get(timeout=30)
    check(again["source"] == "cache" and again["category"] == first["category"], f"then the cache: {again}")
    app.send_task("celeriac.llm.map_merchant", args=["Blue Bottle Coffee Roasters"]).get(timeout=30)
    near = app.send_task("celeriac.llm.map_merchant", args=["Blue Bottle Coffee Roaster"]).get(timeout=30)
    check(near["source"] == "near", f"a variant is a near match: {near}")
    check(sum(fake.stats()["merchants"].values()) == 2, "two model calls in all")
    bad = app.send_task("celeriac.llm.map_merchant", args=["   "])
    try:
        bad.get(timeout=30)
        check(False, "an empty name is refused")
    except Exception as e:  # noqa: BLE001
        check("empty" in str(e), f"refused with a reason: {e}")


def test_continuation(env):
    pg, r, _ = setup(env)
    insert_names(pg, distinct_names(120, "cont"))
    app = celery_app(r.url)
    out = run_task(app, "celeriac.llm.map_pending", max_rows=50)
    check(out["continued"] and out["rows_mapped"] == 50, f"first sweep stops at max_rows and continues: {out}")
    wait_until(lambda: status_counts(pg) == {"mapped": 120}, 60, what="the continuations to drain the backlog")


if __name__ == "__main__":
    tests = [
        ("heuristic_default", test_heuristic_default),
        ("failure_kinds", test_failure_kinds),
        ("two_workers", test_two_workers),
        ("kill_child", test_kill_child),
        ("cluster_limit", test_cluster_limit),
        ("map_merchant", test_map_merchant),
        ("continuation", test_continuation),
    ]
    only = os.environ.get("CELERIAC_TEST_ONLY")
    if only:
        tests = [t for t in tests if t[0] in only.split(",")]
    run_suite("llm_worker", tests)
