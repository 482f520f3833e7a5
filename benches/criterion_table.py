#!/usr/bin/env python3
"""Prints the in-process request-path figures of the last
`cargo bench --bench request_path` as markdown tables: time per request,
requests per second on one core, and ratios against plain axum measured in
the same run.

    python3 benches/criterion_table.py [target/criterion]
"""
import json
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
ROWS = ["new_visitor", "returning_counter", "returning_read_only"]
VARIANTS = ["axum", "session-kit", "tower-sessions"]


def mean_ns(group, name):
    path = os.path.join(ROOT, group, name, "new", "estimates.json")
    with open(path) as f:
        est = json.load(f)
    # The slope (time per iteration fitted over the samples) where criterion
    # has it, else the mean.
    pick = est.get("slope") or est["mean"]
    return pick["point_estimate"]


def fmt_ns(ns):
    return f"{ns / 1000:.2f} us" if ns >= 1000 else f"{ns:.0f} ns"


print("| row | plain axum | session-kit | vs axum | tower-sessions | vs axum | session-kit vs tower-sessions |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for row in ROWS:
    t = {v: mean_ns(row, v) for v in VARIANTS}
    base = t["axum"]
    # Throughput ratios: the inverse of the time ratios.
    print(
        f"| {row.replace('_', ' ')} | {fmt_ns(base)} | {fmt_ns(t['session-kit'])} "
        f"| {base / t['session-kit']:.2f}x | {fmt_ns(t['tower-sessions'])} "
        f"| {base / t['tower-sessions']:.2f}x | {t['tower-sessions'] / t['session-kit']:.2f}x |"
    )
print()
print("| save | time | vs plain field |")
print("| --- | ---: | ---: |")
for group in ["save_request", "save_store"]:
    plain = mean_ns(group, "plain_field")
    for name in ["counter", "plain_field"]:
        t = mean_ns(group, name)
        print(f"| {group.replace('_', ' ')}: {name.replace('_', ' ')} | {fmt_ns(t)} | {t / plain:.2f}x |")
