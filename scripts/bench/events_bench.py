#!/usr/bin/python3
"""The no-op drain rate of one celeriac binary without task events, with -E
and nobody listening, and with -E while a monitor (redis-cli PSUBSCRIBE, as
Flower or `celery events` subscribe) reads every event, alternating on one
private Redis, so the cost of building, publishing and delivering events is
measured under the same noise. Prints a markdown section.

  events_bench.py --celeriac BINARY [-n 100000] [--rounds 3] [--prefetch 1000]
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alternating import change_table, drain_arguments, drain_worker_argv, single_run_ranges  # noqa: E402
from throughput import Proc, enqueue, start_private_redis, wait_drained  # noqa: E402


class monitor:
    """redis-cli PSUBSCRIBEd to the event channels; counts the messages read."""

    def __init__(self, port):
        self.p = subprocess.Popen(["redis-cli", "-p", str(port), "PSUBSCRIBE", "/0.celeryev/*"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines = 0
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for chunk in iter(lambda: self.p.stdout.read1(1 << 20), b""):
            self.lines += chunk.count(b"\n")

    def stop(self):
        self.p.terminate()
        self.p.wait(10)
        self.thread.join(10)
        return max(0, self.lines - 3) // 4  # the subscribe reply, then 4 lines per message


def redis_cpu(r):
    info = r.info("cpu")
    return info["used_cpu_sys"] + info["used_cpu_user"]


def drain(binary, r, url, tmp, n, results, prefetch, events):
    """(tasks/s, Redis CPU microseconds per task) of one drain."""
    r.flushdb()
    enqueue(r, n, ignore_result=not results)
    before = redis_cpu(r)
    w = Proc(drain_worker_argv(binary, url, prefetch, results, ["-E"] if events else []),
             os.path.join(tmp, "worker.log"))
    try:
        rate = n / wait_drained(r, n, 600)
        return rate, 1e6 * (redis_cpu(r) - before) / n
    finally:
        w.stop()


def main():
    args = drain_arguments()
    tmp = tempfile.mkdtemp(prefix="celeriac-events-bench-")
    redis_proc, r, url = start_private_redis(tmp)
    port = r.connection_pool.connection_kwargs["port"]
    rates, redis_us, messages, runs_with = {}, {}, 0, 0
    try:
        for results in (False, True):
            for rnd in range(args.rounds):
                for which in ("off", "on", "watched"):
                    watcher = monitor(port) if which == "watched" else None
                    try:
                        rate, us = drain(args.celeriac, r, url, tmp, args.n, results, args.prefetch, which != "off")
                    finally:
                        got = watcher.stop() if watcher else 0
                    if watcher:
                        messages += got
                        runs_with += 1
                    rates.setdefault((which, results), []).append(rate)
                    redis_us.setdefault((which, results), []).append(us)
                    print(f"  round {rnd + 1} -E {which:7} results {'on ' if results else 'off'}: {rate:,.0f} tasks/s"
                          f"{f', {got} event messages read' if watcher else ''}", file=sys.stderr, flush=True)
    finally:
        redis_proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    per_task = 3 * args.n * runs_with / messages if messages else 0
    print("## Events: -E (scripts/bench-events)\n")
    print(f"Measured {time.strftime('%Y-%m-%d')}: `celeriac.noop` drained by `-c 2 --prefetch-multiplier "
          f"{args.prefetch}`, {args.n} tasks per run, without task events, with `-E` and nobody listening, and "
          f"with `-E` while `redis-cli PSUBSCRIBE /0.celeryev/*` reads every event on the same cores (3 per task: "
          f"received, started, succeeded; {messages:,} messages read in all, {per_task:.1f} events per message "
          f"on average), alternating on one private Redis, {args.rounds} rounds each; medians. Load average at "
          f"the end: {load:.2f}.\n")
    print("\n".join(change_table(rates, "off", "on", "without -E", "-E, nobody listening")))
    print()
    print("\n".join(change_table(rates, "off", "watched", "without -E", "-E, a monitor reading")))
    print("\nRedis CPU per task (median, INFO cpu around each drain): " + "; ".join(
        f"results {'on' if results else 'off'}: " + ", ".join(
            f"{label} {statistics.median(redis_us[(which, results)]):.1f} µs"
            for which, label in (("off", "without -E"), ("on", "-E"), ("watched", "-E monitored")))
        for results in (False, True)) + ".")
    print("\n" + single_run_ranges(rates, lambda which: f"-E {which}"))
    print()


if __name__ == "__main__":
    main()
