"""CPU per task: Redis's and the worker's, for celeriac and Celery's prefork
worker draining the same pre-enqueued no-op messages on one private Redis.

Run through scripts/bench-cpu. CPU time moves far less with a noisy machine
than tasks/s does, so this is the figure issue 10's targets are set in:
  - Redis: the server's used_cpu_user + used_cpu_sys (INFO cpu) over the
    drain, divided by the tasks;
  - worker: utime + stime of the worker's whole process tree (supervisor and
    children, /proc/<pid>/stat, children reaped meanwhile included through
    the parent's cutime/cstime), from just before the first message is taken
    to the end of the drain, divided by the tasks. The worker is started
    first and left idle for a moment, so start-up costs are measured apart
    (and subtracted: idle CPU over the same time is negligible).
Prints a markdown table; several rounds alternate the configurations and the
median is shown with the range.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import throughput  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """utime+stime+cutime+cstime of one process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime is field 14 -> index 11
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / TICK


def tree_cpu(pid):
    total = proc_cpu(pid)
    for child in throughput.child_pids(pid):
        try:
            total += tree_cpu(child)
        except FileNotFoundError:
            pass
    return total


def redis_cpu(r):
    info = r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def drain(r, worker_argv, env, n, log, results, warmup_s):
    """(tasks/s, Redis µs/task, worker µs/task) for one drain."""
    r.flushdb()
    throughput.enqueue(r, n, ignore_result=not results)
    # Hold the queue back until the worker is up: it is renamed away and
    # back, so start-up is not in the figures.
    r.rename("celery", "celery.hold")
    w = throughput.Proc(worker_argv, log, env)
    try:
        time.sleep(warmup_s)
        worker_before = tree_cpu(w.p.pid)
        redis_before = redis_cpu(r)
        r.rename("celery.hold", "celery")
        seconds = throughput.wait_drained(r, n, 900)
        worker_after = tree_cpu(w.p.pid)
        redis_after = redis_cpu(r)
    finally:
        w.stop()
    return (n / seconds, (redis_after - redis_before) / n * 1e6, (worker_after - worker_before) / n * 1e6)


def celeriac_argv(binary, args, url, results):
    return [binary, "worker", "-b", url, "-c", "2", "--prefetch-multiplier", str(args.prefetch), "-l",
            "warning", "--result-backend", url if results else "none"] + args.worker_arg


def celery_argv():
    return ["/usr/bin/python3", "-m", "celery", "-A", "celery_bench_app", "worker", "-c", "2", "-P", "prefork", "-l",
            "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def fmt_range(values, digits=1):
    med = statistics.median(values)
    return f"{med:,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("--baseline", help="another celeriac binary (e.g. built from an earlier commit), drained in "
                    "the same rounds for a before/after comparison")
    ap.add_argument("-n", type=int, default=200000, help="tasks per celeriac drain")
    ap.add_argument("--celery-n", type=int, default=10000, help="tasks per Celery drain (0: skip Celery)")
    ap.add_argument("--prefetch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--worker-arg", action="append", default=[], help="extra celeriac worker flag (repeatable)")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="celeriac-cpu-")
    redis_proc, r, url = throughput.start_private_redis(tmp)
    rows = {}
    celeriacs = [("celeriac", args.celeriac)] + ([("celeriac (baseline)", args.baseline)] if args.baseline else [])
    try:
        for _ in range(args.rounds):
            for results in (False, True):
                for label, binary in celeriacs:
                    rows.setdefault((label, results), []).append(
                        drain(r, celeriac_argv(binary, args, url, results), None, args.n,
                              os.path.join(tmp, "celeriac.log"), results, 1.0))
                if args.celery_n:
                    env = dict(os.environ, BENCH_URL=url, BENCH_RESULTS="1" if results else "0",
                               PYTHONPATH=HERE)
                    rows.setdefault(("celery", results), []).append(
                        drain(r, celery_argv(), env, args.celery_n, os.path.join(tmp, "celery.log"), results, 3.0))
        version = r.info()["redis_version"]
    finally:
        redis_proc.stop()

    print("| worker | results | tasks/s | Redis CPU µs/task | worker CPU µs/task |")
    print("|---|---|---|---|---|")
    for (who, results), runs in sorted(rows.items(), key=lambda kv: (kv[0][0] == "celery", kv[0][1], kv[0][0])):
        rates, redis_us, worker_us = zip(*runs)
        print(f"| {who} | {'on' if results else 'off'} | {fmt_range(rates, 0)} | {fmt_range(redis_us)} | "
              f"{fmt_range(worker_us)} |")
    print()
    print(f"Median (min–max) of {args.rounds} alternating rounds; celeriac drains {args.n:,} no-op messages, "
          f"Celery's prefork worker {args.celery_n:,}; both `-c 2`, on one private Redis {version}.")


if __name__ == "__main__":
    main()
