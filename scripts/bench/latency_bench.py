"""Enqueue→start latency at a steady rate, and what an idle worker costs:
celeriac and Celery's prefork worker on one private Redis.

Run through scripts/bench-latency. For each worker (both `-c 2`, default
prefetch, results on), in alternating rounds:
  - idle: the worker is left alone for --idle seconds; Redis's CPU (INFO
    cpu), the commands it ran (INFO commandstats, the bench's own INFO
    calls left out) and the CPU of every thread of the worker's process
    tree (/proc/*/task/*/schedstat) over that time, per idle second;
  - paced: `celeriac.started_at` messages, built beforehand as kombu writes
    them, are LPUSHed one at a time at a steady rate (a warm-up, then the
    measured window). time.time() is read right before each LPUSH: that is
    the send time. The task returns the wall clock read as its first step
    in the child, so start − send is the latency, on one machine's clock.
The client paces by sleeping to just before each send and spinning the last
fraction of a millisecond (spinning all the way would take a whole core
from the worker and Redis on a 2-core machine). How late each send was
against its schedule, and how long LPUSH took, are reported: they are the
client's own error, and the latency is computed from the actual send time.
"""
import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cpu_bench  # noqa: E402
import throughput  # noqa: E402

TASK = "celeriac.started_at"
SPIN_S = 0.0003  # the last part of each wait is spun, not slept: sleep overshoots by ~60 µs


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def tree_cpu(pid):
    """On-CPU seconds of every thread of pid and its descendants, from
    /proc/<pid>/task/<tid>/schedstat (nanoseconds: an idle worker uses far
    less than the 10 ms tick that /proc/<pid>/stat counts in)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    seconds = total / 1e9
    for child in throughput.child_pids(pid):
        try:
            seconds += tree_cpu(child)
        except FileNotFoundError:
            pass
    return seconds


def wait_results(r, ids, deadline_s):
    """The task's return value for each id, waiting for all of them."""
    deadline = time.monotonic() + deadline_s
    keys = [f"celery-task-meta-{tid}" for tid in ids]
    found = {}
    while True:
        missing = [k for k in keys if k not in found]
        for start in range(0, len(missing), 1000):
            chunk = missing[start:start + 1000]
            for k, v in zip(chunk, r.mget(chunk)):
                if v is not None:
                    found[k] = json.loads(v)
        if len(found) == len(keys):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(keys) - len(found)} of {len(keys)} results missing after {deadline_s}s "
                               f"({r.llen('celery')} still queued)")
        time.sleep(0.2)
    out = []
    for k in keys:
        meta = found[k]
        if meta.get("status") != "SUCCESS":
            raise RuntimeError(f"{k}: {meta.get('status')} {meta.get('result')}")
        out.append(float(meta["result"]))
    return out


def await_ready(r, deadline_s):
    """Sends one probe and waits for its result: the worker is consuming."""
    tid = str(uuid.uuid4())
    r.lpush("celery", throughput.message(tid, False, task=TASK))
    wait_results(r, [tid], deadline_s)


def command_calls(r):
    """{command: (calls, usec)} from INFO commandstats."""
    out = {}
    for key, v in r.info("commandstats").items():
        name = key[len("cmdstat_"):]
        out[name] = (int(v["calls"]), int(v["usec"]))
    return out


def idle_cost(r, pid, seconds):
    """Per idle second: Redis CPU ms, worker CPU ms, and {command: calls}."""
    cmd_before = command_calls(r)
    redis_before = cpu_bench.redis_cpu(r)
    worker_before = tree_cpu(pid)
    time.sleep(seconds)
    worker_after = tree_cpu(pid)
    redis_after = cpu_bench.redis_cpu(r)
    cmd_after = command_calls(r)
    calls = {}
    for name, (n, _) in cmd_after.items():
        if name == "info":
            continue  # the bench's own
        d = n - cmd_before.get(name, (0, 0))[0]
        if d:
            calls[name] = d / seconds
    return {"redis_ms": (redis_after - redis_before) / seconds * 1e3,
            "worker_ms": (worker_after - worker_before) / seconds * 1e3, "calls": calls}


def paced_send(r, rate, count):
    """LPUSHes count messages at rate/s. Returns (ids, send times, lateness
    against the schedule in µs, LPUSH round trips in µs)."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    bodies = [throughput.message(tid, False, task=TASK) for tid in ids]
    sent, late, call = [0.0] * count, [0.0] * count, [0.0] * count
    interval = 1.0 / rate
    lpush = r.lpush
    gc.disable()  # a collection mid-run would only disturb the pacing
    try:
        t0 = time.monotonic() + 0.05
        for i in range(count):
            target = t0 + i * interval
            ahead = target - time.monotonic() - SPIN_S
            if ahead > 0:
                time.sleep(ahead)
            while time.monotonic() < target:
                pass
            m0 = time.monotonic()
            sent[i] = time.time()
            lpush("celery", bodies[i])
            m1 = time.monotonic()
            late[i] = (m0 - target) * 1e6
            call[i] = (m1 - m0) * 1e6
    finally:
        gc.enable()
    return ids, sent, late, call


def paced_run(r, pid, rate, warmup_s, seconds):
    """One paced run: latencies in ms (warm-up dropped), the client's
    lateness and LPUSH times (µs), worker and Redis CPU µs per task."""
    warm = int(rate * warmup_s)
    n = warm + int(rate * seconds)
    worker_before = tree_cpu(pid)
    redis_before = cpu_bench.redis_cpu(r)
    ids, sent, late, call = paced_send(r, rate, n)
    started = wait_results(r, ids, 300)
    worker_cpu = tree_cpu(pid) - worker_before
    redis_cpu = cpu_bench.redis_cpu(r) - redis_before
    lat = sorted((s - t) * 1e3 for s, t in zip(started[warm:], sent[warm:]))
    return {"lat": lat, "late": sorted(late[warm:]), "call": sorted(call[warm:]),
            "worker_us": worker_cpu / n * 1e6, "redis_us": redis_cpu / n * 1e6}


def celeriac_argv(binary, url):
    # Default prefetch, results on (to the broker's Redis).
    return [binary, "worker", "-b", url, "-c", "2", "-l", "warning", "--result-backend", url]


def one_worker(r, who, argv, env, log, args):
    """Idle cost, then one paced run per rate, for one worker start."""
    w = throughput.Proc(argv, log, env)
    try:
        await_ready(r, 60)
        time.sleep(1.0)  # let start-up's one-off work settle before the idle window
        idle = idle_cost(r, w.p.pid, args.idle)
        runs = {rate: paced_run(r, w.p.pid, rate, args.warmup, args.seconds) for rate in args.rates}
    finally:
        w.stop()
    if w.p.returncode not in (0, -15):
        print(f"warning: {who} exited {w.p.returncode}; see {log}", file=sys.stderr)
    return idle, runs


def ms(v):
    return f"{v:.3f}" if v < 10 else f"{v:,.1f}"


def report(results, idles, args, version, load_before, load_after):
    print("| worker | rate/s | tasks | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | p99 per round ms |"
          " worker CPU µs/task | Redis CPU µs/task |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (who, rate), runs in sorted(results.items(), key=lambda kv: (kv[0][0] != "celeriac", -kv[0][1])):
        lat = sorted(x for run in runs for x in run["lat"])
        rounds = ", ".join(ms(percentile(run["lat"], 99)) for run in runs)
        print(f"| {who} | {rate:,} | {len(lat):,} | {ms(percentile(lat, 50))} | {ms(percentile(lat, 90))} | "
              f"{ms(percentile(lat, 99))} | {ms(percentile(lat, 99.9))} | {ms(lat[-1])} | {rounds} | "
              f"{statistics.median(run['worker_us'] for run in runs):.1f} | "
              f"{statistics.median(run['redis_us'] for run in runs):.1f} |")
    print()
    late = sorted(x for runs in results.values() for run in runs for x in run["late"])
    call = sorted(x for runs in results.values() for run in runs for x in run["call"])
    print(f"Client: sends were late against their schedule by p50 {percentile(late, 50):.0f} µs, "
          f"p99 {percentile(late, 99):.0f} µs, max {late[-1]:,.0f} µs (the latency counts from the actual send, so "
          f"this only disturbs the pacing); one LPUSH round trip took p50 {percentile(call, 50):.0f} µs, "
          f"p99 {percentile(call, 99):.0f} µs, and the send time is read before it.")
    print()
    print(f"| worker idle, per second | Redis CPU ms | worker CPU ms | Redis commands/s |")
    print("|---|---|---|---|")
    for who, runs in sorted(idles.items(), key=lambda kv: (kv[0] != "celeriac", kv[0].startswith("none"))):
        calls = {}
        for run in runs:
            for name, n in run["calls"].items():
                calls.setdefault(name, []).append(n)
        listed = ", ".join(f"{name} {statistics.median(v):.1f}" for name, v in
                           sorted(calls.items(), key=lambda kv: -statistics.median(kv[1])))
        worker_ms = statistics.median(run['worker_ms'] for run in runs)
        print(f"| {who} | {statistics.median(run['redis_ms'] for run in runs):.2f} | "
              f"{'–' if worker_ms != worker_ms else f'{worker_ms:.2f}'} | {listed or '–'} |")
    print()
    print(f"{args.rounds} alternating round(s); per round and worker: {args.idle:g} s idle, then per rate a "
          f"{args.warmup:g} s warm-up (dropped) and {args.seconds:g} s measured. Both workers `-c 2`, default "
          f"prefetch, results on, one private Redis {version}. Percentiles pool all rounds (nearest rank); CPU "
          f"figures are medians of the rounds and include the results' writes. Load average (1, 5, 15 min) "
          f"before: {', '.join(f'{x:.2f}' for x in load_before)}; after: "
          f"{', '.join(f'{x:.2f}' for x in load_after)}.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--rates", default="1000,100",
                    help="comma-separated tasks/s, each worker runs each (Celery falls behind at 1,000/s)")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds sent before the measured window")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds per paced run")
    ap.add_argument("--idle", type=float, default=10.0, help="idle seconds measured per worker start")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-celery", action="store_true", help="celeriac only")
    ap.add_argument("--baseline", help="another celeriac binary (e.g. built from an earlier commit), run in the "
                                       "same rounds as 'celeriac (baseline)'")
    args = ap.parse_args()
    args.rates = [int(x) for x in args.rates.split(",")]

    load_before = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="celeriac-latency-")
    redis_proc, r, url = throughput.start_private_redis(tmp)
    results, idles = {}, {}
    try:
        # What Redis spends with no worker connected (its own timers): the
        # floor under both workers' idle figures.
        r.config_resetstat()
        idles["none (Redis alone)"] = [idle_cost(r, redis_proc.p.pid, args.idle)]
        idles["none (Redis alone)"][0]["worker_ms"] = float("nan")
        for rnd in range(args.rounds):
            order = ["celeriac"] if args.no_celery else ["celeriac", "celery"]
            if args.baseline:
                order.insert(1, "celeriac (baseline)")
            if rnd % 2:
                order.reverse()
            for who in order:
                r.flushdb()
                r.config_resetstat()
                if who.startswith("celeriac"):
                    binary = args.baseline if who == "celeriac (baseline)" else args.celeriac
                    argv, env = celeriac_argv(binary, url), None
                else:
                    argv = cpu_bench.celery_argv()
                    env = dict(os.environ, BENCH_URL=url, BENCH_RESULTS="1", PYTHONPATH=HERE)
                idle, runs = one_worker(r, who, argv, env, os.path.join(tmp, f"{who}.log"), args)
                idles.setdefault(who, []).append(idle)
                for rate, run in runs.items():
                    results.setdefault((who, rate), []).append(run)
                print(f"round {rnd + 1} {who}: " + ", ".join(
                    f"{rate}/s p50 {percentile(run['lat'], 50):.3f} ms p99 {percentile(run['lat'], 99):.3f} ms"
                    for rate, run in runs.items()), file=sys.stderr)
        version = r.info()["redis_version"]
    finally:
        redis_proc.stop()
    report(results, idles, args, version, load_before, os.getloadavg())


if __name__ == "__main__":
    main()
