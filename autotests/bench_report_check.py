#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ctest bench_report: bench/peers/report.py finds every missed goal and passes a run that meets
them all (the tables of docs/performance.md come from it)."""
import os
import subprocess
import sys

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "peers", "report.py")


def run(lines):
    result = subprocess.run([sys.executable, REPORT], input="".join(l + "\n" for l in lines),
                            capture_output=True, text=True)
    return result.returncode, result.stdout


def rows(workload, qayo, qcoro=None, asyncio=None, grow=1.0):
    out = [f"{workload}\t{n}\tqayo\t{qayo * (grow if n == 1000000 else 1)}" for n in (10000, 1000000)]
    if qcoro is not None:
        out.append(f"{workload}\t10000\tqcoro\t{qcoro}")
    if asyncio is not None:
        out.append(f"{workload}\t10000\tasyncio\t{asyncio}")
    return out


failures = []
code, text = run(rows("spawn_join", 40, qcoro=10, asyncio=4000) + ["peak_rss_kib\t1000000\tqayo\t1024"])
if code != 0 or "None: every goal is met." not in text:
    failures.append("a run meeting every goal was not passed:\n" + text)

for name, lines, expected in [
    ("slower than 50x a peer", rows("spawn_join", 100, qcoro=40, asyncio=4000), "peers: spawn_join at N = 10 000 is 40.0x"),
    ("over 5x qcoro", rows("spawn_join", 60, qcoro=10, asyncio=4000), "qcoro floor: spawn_join at N = 10 000 is 6.00x"),
    ("not flat", rows("limit10", 40, asyncio=4000, grow=1.6), "flatness: limit10 (qayo) 1M/10k = 1.60"),
]:
    code, text = run(lines)
    if code != 1 or expected not in text:
        failures.append(f"{name}: exit code {code}, expected a line with {expected!r}:\n{text}")

code, _ = run(["not a measurement"])
if code != 2:
    failures.append(f"bad input gave exit code {code}, not 2")

for failure in failures:
    print("FAIL:", failure)
print(f"{4 + 1 - len(failures)} of 5 checks passed")
sys.exit(1 if failures else 0)
