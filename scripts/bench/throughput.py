"""Throughput and latency benchmark: celeriac worker vs Celery prefork worker.

Run through scripts/bench-throughput. Everything runs on one private Redis on
a free loopback port; the same pre-enqueued no-op messages (built as Celery's
send_task builds them) are drained by each worker in turn, with results off
and on. Writes a markdown section to stdout (the wrapper puts it in
docs/benchmarks.md).
"""
import argparse
import base64
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = base64.b64encode(json.dumps(
    [[], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]).encode()).decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def message(task_id, ignore_result, task="celeriac.noop", queue="celery"):
    return json.dumps({
        "body": BODY, "content-encoding": "utf-8", "content-type": "application/json",
        "headers": {"lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None, "expires": None,
                    "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
                    "root_id": task_id, "parent_id": None, "argsrepr": "()", "kwargsrepr": "{}",
                    "origin": "gen1@bench", "ignore_result": ignore_result},
        "properties": {"correlation_id": task_id, "reply_to": str(uuid.uuid4()), "delivery_mode": 2,
                       "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0,
                       "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())}})


def enqueue(r, n, ignore_result):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.lpush("celery", message(str(uuid.uuid4()), ignore_result))
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()


def wait_drained(r, n, deadline_s):
    """Seconds from the first message taken to queue and unacked both empty."""
    deadline = time.monotonic() + deadline_s
    start = None
    while time.monotonic() < deadline:
        left = r.llen("celery")
        if start is None and left < n:
            start = time.monotonic()
        if left == 0 and r.hlen("unacked") == 0:
            return time.monotonic() - (start or time.monotonic())
        time.sleep(0.005)
    raise RuntimeError(f"not drained within {deadline_s}s: {r.llen('celery')} queued, {r.hlen('unacked')} unacked")


class Proc:
    def __init__(self, argv, log, env=None):
        self.log = open(log, "w")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()


def child_pids(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_celeriac(args, r, url, tmp, n, results):
    r.flushdb()
    enqueue(r, n, ignore_result=not results)
    argv = [args.celeriac, "worker", "-b", url, "-c", "2", "--prefetch-multiplier", str(args.prefetch),
            "-l", "warning", "--result-backend", url if results else "none"]
    w = Proc(argv, os.path.join(tmp, "celeriac.log"))
    try:
        return n / wait_drained(r, n, 600)
    finally:
        w.stop()


def run_celery(args, r, url, tmp, n, results):
    r.flushdb()
    enqueue(r, n, ignore_result=not results)
    env = dict(os.environ, BENCH_URL=url, BENCH_RESULTS="1" if results else "0", PYTHONPATH=HERE)
    argv = ["/usr/bin/python3", "-m", "celery", "-A", "celery_bench_app", "worker", "-c", "2", "-P", "prefork",
            "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    w = Proc(argv, os.path.join(tmp, "celery.log"), env)
    try:
        return n / wait_drained(r, n, 900)
    finally:
        w.stop()


def latency(args, r, url, tmp):
    """enqueue→start latency at a steady rate, default worker settings."""
    r.flushdb()
    w = Proc([args.celeriac, "worker", "-b", url, "-c", "2", "-l", "info"], os.path.join(tmp, "latency.log"))
    try:
        time.sleep(1.0)
        idle_rss = [rss_kib(p) for p in child_pids(w.p.pid)]
        ids = []
        sent = {}
        interval = 1.0 / args.rate
        t0 = time.monotonic()
        for i in range(args.latency_tasks):
            tid = str(uuid.uuid4())
            target = t0 + i * interval
            while time.monotonic() < target:
                pass
            sent[tid] = time.time()
            r.lpush("celery", message(tid, False, task="celeriac.noop"))
            ids.append(tid)
        wait_drained(r, len(ids), 60)
    finally:
        w.stop()
    # start time: the worker logs finish time; noop runtime is µs, so the
    # result's date_done (written after the run) bounds start from above.
    lat = []
    for tid in ids:
        meta = json.loads(r.get(f"celery-task-meta-{tid}"))
        done = meta["date_done"]
        t = time.mktime(time.strptime(done.split(".")[0], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        t += float("0." + done.split(".")[1]) if "." in done else 0.0
        lat.append((t - sent[tid]) * 1000.0)
    lat.sort()
    p50 = lat[len(lat) // 2]
    p99 = lat[int(len(lat) * 0.99) - 1]
    return p50, p99, idle_rss


def start_private_redis(tmp):
    """A redis-server on a free loopback port, no persistence, answering:
    (process, client, url)."""
    port = free_port()
    proc = Proc(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "",
                 "--appendonly", "no"], os.path.join(tmp, "redis.log"))
    r = redis.Redis(port=port)
    for _ in range(100):
        try:
            r.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, r, f"redis://127.0.0.1:{port}/0"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("-n", type=int, default=200000, help="tasks per celeriac run")
    ap.add_argument("--celery-n", type=int, default=10000, help="tasks per Celery run")
    ap.add_argument("--prefetch", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--latency-tasks", type=int, default=5000)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="celeriac-bench-")
    redis_proc, r, url = start_private_redis(tmp)
    try:
        rows = {}
        for results in (False, True):
            rows[("celeriac", results)] = run_celeriac(args, r, url, tmp, args.n, results)
            rows[("celery", results)] = run_celery(args, r, url, tmp, args.celery_n, results)
        p50, p99, idle_rss = latency(args, r, url, tmp)
        redis_ver = r.info()["redis_version"]
    finally:
        redis_proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    import celery
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print("## Worker throughput (scripts/bench-throughput)\n")
    print(f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({cpu}), "
          f"Linux {platform.release()}, Redis {redis_ver} on the same host, "
          f"Celery {celery.__version__} (Debian, `/usr/bin/python3`), celeriac built Release with g++.\n")
    print("Pre-enqueued `celeriac.noop` messages (Celery's send_task format) drained by a 2-process worker; "
          "time from the first message taken to the queue and `unacked` both empty.\n")
    print("| worker | settings | results | tasks | tasks/s | ratio to Celery |")
    print("|---|---|---|---|---|---|")
    for results in (False, True):
        cel = rows[("celery", results)]
        cx = rows[("celeriac", results)]
        label = "on" if results else "off"
        print(f"| Celery prefork | `-c 2`, prefetch multiplier 4 (default) | {label} | {args.celery_n} | {cel:,.0f} | 1.0 |")
        print(f"| celeriac | `-c 2 --prefetch-multiplier {args.prefetch}` | {label} | {args.n} | {cx:,.0f} | "
              f"{cx / cel:.1f}x |")
    print()
    print(f"Enqueue→finish latency at a steady {args.rate} tasks/s, default settings (`-c 2`, prefetch 4), "
          f"{args.latency_tasks} tasks: **p50 {p50:.2f} ms, p99 {p99:.2f} ms** (measured to the result's "
          "`date_done`, written after the task ran, so it bounds enqueue→start from above).\n")
    print(f"RSS of an idle worker child: {', '.join(f'{k / 1024:.1f} MiB' for k in idle_rss)}.\n")


if __name__ == "__main__":
    main()
