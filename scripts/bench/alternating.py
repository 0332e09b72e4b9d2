"""The report of benchmarks that alternate two variants in one run (one
private Redis, the same noise for both): medians per results setting and the
change from the first variant to the second, as a markdown table."""

import statistics


def change_table(rates, first, second, first_title, second_title):
    """rates: {(variant, results on?): [tasks/s, ...]}. Returns the table's lines."""
    lines = [f"| results | {first_title} (tasks/s) | {second_title} (tasks/s) | change |", "|---|---|---|---|"]
    for results in (False, True):
        a = statistics.median(rates[(first, results)])
        b = statistics.median(rates[(second, results)])
        lines.append(f"| {'on' if results else 'off'} | {a:,.0f} | {b:,.0f} | {100 * (b / a - 1):+.1f}% |")
    return lines


def drain_arguments():
    """The options every alternating drain benchmark takes."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeriac", required=True)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prefetch", type=int, default=1000)
    return ap.parse_args()


def single_run_ranges(rates, describe):
    """The report's line of each variant's slowest and fastest run; describe(variant) names it."""
    return "Range of the single runs (tasks/s): " + "; ".join(
        f"{describe(which)}, results {'on' if results else 'off'}: {min(v):,.0f}-{max(v):,.0f}"
        for (which, results), v in sorted(rates.items(), key=lambda kv: (kv[0][1], kv[0][0]))) + "."


def drain_worker_argv(binary, url, prefetch, results, extra=()):
    """`celeriac worker` as every drain benchmark runs it (-c 2, quiet), plus `extra`."""
    return [binary, "worker", "-b", url, "-c", "2", "--prefetch-multiplier", str(prefetch), "-l", "warning",
            "--result-backend", url if results else "none", *extra]
