#!/usr/bin/python3
"""The no-op drain rate of one celeriac binary without metrics and with
--metrics-port while a scraper GETs /metrics every second, alternating on one
private Redis, so the cost of counting and serving is measured under the same
noise. Prints a markdown section.

  metrics_bench.py --celeriac BINARY [-n 100000] [--rounds 3] [--prefetch 1000]
"""

import http.client
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alternating import change_table, drain_arguments, drain_worker_argv, single_run_ranges  # noqa: E402
from throughput import Proc, enqueue, free_port, start_private_redis, wait_drained  # noqa: E402


class scraper:
    """GETs /metrics every `period` seconds until stopped; counts the answers."""

    def __init__(self, port, period=1.0):
        self.port, self.period = port, period
        self.ok = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_flag.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    self.ok += 1
                conn.close()
            except OSError:
                pass  # not listening yet
            self.stop_flag.wait(self.period)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(5)


def drain(binary, r, url, tmp, n, results, prefetch, metrics_port):
    r.flushdb()
    enqueue(r, n, ignore_result=not results)
    extra = ["--metrics-port", str(metrics_port)] if metrics_port else []
    w = Proc(drain_worker_argv(binary, url, prefetch, results, extra), os.path.join(tmp, "worker.log"))
    try:
        if not metrics_port:
            return n / wait_drained(r, n, 600), 0
        with scraper(metrics_port) as s:
            rate = n / wait_drained(r, n, 600)
        return rate, s.ok
    finally:
        w.stop()


def main():
    args = drain_arguments()
    tmp = tempfile.mkdtemp(prefix="celeriac-metrics-bench-")
    redis_proc, r, url = start_private_redis(tmp)
    rates, scrapes = {}, 0
    try:
        for results in (False, True):
            for rnd in range(args.rounds):
                for which in ("off", "on"):
                    port = free_port() if which == "on" else None
                    rate, ok = drain(args.celeriac, r, url, tmp, args.n, results, args.prefetch, port)
                    scrapes += ok
                    rates.setdefault((which, results), []).append(rate)
                    print(f"  round {rnd + 1} metrics {which:3} results {'on ' if results else 'off'}: "
                          f"{rate:,.0f} tasks/s{f', {ok} scrapes' if port else ''}", file=sys.stderr, flush=True)
    finally:
        redis_proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    print("## Metrics: --metrics-port scraped every second (scripts/bench-metrics)\n")
    print(f"Measured {time.strftime('%Y-%m-%d')}: `celeriac.noop` drained by `-c 2 --prefetch-multiplier "
          f"{args.prefetch}`, {args.n} tasks per run, without metrics and with `--metrics-port` while a client "
          f"GETs `/metrics` every second ({scrapes} scrapes answered in all), alternating on one private Redis, "
          f"{args.rounds} rounds each; medians. Load average at the end: {load:.2f}.\n")
    print("\n".join(change_table(rates, "off", "on", "without metrics", "with metrics, scraped")))
    print("\n" + single_run_ranges(rates, lambda which: f"{which} metrics"))
    print()


if __name__ == "__main__":
    main()
