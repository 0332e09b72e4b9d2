#!/usr/bin/python3
"""The no-op drain rate of two celeriac binaries in the same run, on the
same private Redis, alternating, so a change's cost is measured against a
reference taken under the same noise. Prints a markdown section.

  regression.py --before OLD_BINARY --after NEW_BINARY [-n 100000] [--rounds 3]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from alternating import change_table  # noqa: E402
from throughput import run_celeriac, start_private_redis  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefetch", type=int, default=1000)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="celeriac-regression-")
    redis_proc, r, url = start_private_redis(tmp)
    rates = {}
    try:
        for results in (False, True):
            for rnd in range(args.rounds):
                for which, binary in (("before", args.before), ("after", args.after)):
                    run_args = types.SimpleNamespace(celeriac=binary, prefetch=args.prefetch)
                    rate = run_celeriac(run_args, r, url, tmp, args.n, results)
                    rates.setdefault((which, results), []).append(rate)
                    print(f"  round {rnd + 1} {which:6} results {'on ' if results else 'off'}: {rate:,.0f} tasks/s",
                          file=sys.stderr, flush=True)
    finally:
        redis_proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"## Before/after {args.label}(scripts/bench-regression)\n")
    print(f"Measured {time.strftime('%Y-%m-%d')}: `celeriac.noop` drained by `-c 2 --prefetch-multiplier "
          f"{args.prefetch}`, {args.n} tasks per run, the two binaries alternating on one private Redis, "
          f"{args.rounds} rounds each; medians.\n")
    print("\n".join(change_table(rates, "before", "after", "before", "after")))
    print()


if __name__ == "__main__":
    main()
