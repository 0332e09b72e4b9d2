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
