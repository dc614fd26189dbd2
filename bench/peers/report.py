#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Turns the output of `scripts/bench --peers` into the Markdown tables of docs/performance.md
and checks the goals of the peers comparison:

  - QAyo at least 50x faster than the fastest Python peer, for every workload and every N the
    peers ran;
  - QAyo within 5x of the raw-QCoro floor where that floor exists;
  - QAyo's cost per task at 1M at most 1.5x its cost at 10k, for every workload.

    scripts/bench --peers > peers.txt
    bench/peers/report.py peers.txt      # or: ... | bench/peers/report.py

Exit code 0 when every goal is met, 1 when one is missed (the tables say which), 2 on bad input.
"""
import sys

PEERS = ("asyncio", "trio", "anyio")
FASTER_THAN_PEERS = 50.0
OVER_QCORO = 5.0
FLAT = 1.5


def number(value):
    """1234.5 -> '1 234.5' (thin grouping as in the docs)."""
    text = f"{value:,.1f}".replace(",", " ")
    return text


def size(n):
    return f"{n:,}".replace(",", " ")


def ratio(value):
    if value < 0.1:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"


def parse(lines):
    times = {}  # (workload, n, implementation) -> ns per task
    rss = {}  # implementation -> (largest n, KiB)
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 4:
            raise ValueError(f"not four tab-separated columns: {line!r}")
        workload, n, implementation, value = fields[0], int(fields[1]), fields[2], float(fields[3])
        if workload == "peak_rss_kib":
            rss[implementation] = (n, value)
        else:
            times[(workload, n, implementation)] = value
    return times, rss


def main(argv):
    try:
        source = open(argv[1]) if len(argv) > 1 else sys.stdin
        times, rss = parse(source)
    except (OSError, ValueError) as error:
        print(f"report.py: {error}", file=sys.stderr)
        return 2
    if not times:
        print("report.py: no measurements in the input", file=sys.stderr)
        return 2

    workloads = []
    for (workload, _, implementation) in times:
        if implementation.startswith("qayo") and workload not in workloads and not workload.startswith("every_jitter"):
            workloads.append(workload)
    sizes = sorted({n for (w, n, i) in times if i == "qayo" and not w.startswith("every_jitter")})
    missed = []

    print("### QAyo from 1k to 1M (ns per task)\n")
    print("| workload | " + " | ".join(size(n) for n in sizes) + " | 1M / 10k |")
    print("| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |")
    for workload in workloads:
        for implementation in sorted({i for (w, _, i) in times if w == workload and i.startswith("qayo")},
                                     key=lambda i: (i != "qayo", i)):
            row = [times.get((workload, n, implementation)) for n in sizes]
            if all(value is None for value in row):
                continue
            growth = None
            if times.get((workload, 1000000, implementation)) and times.get((workload, 10000, implementation)):
                growth = times[(workload, 1000000, implementation)] / times[(workload, 10000, implementation)]
                if growth > FLAT:
                    missed.append(f"flatness: {workload} ({implementation}) 1M/10k = {growth:.2f}")
            name = workload if implementation == "qayo" else f"{workload} ({implementation})"
            cells = [number(v) if v is not None else "—" for v in row]
            cells.append(f"{growth:.2f}" if growth else "—")
            print(f"| {name} | " + " | ".join(cells) + " |")

    print("\n### Against the peers (ns per task)\n")
    print("| workload | N | qayo | qcoro | " + " | ".join(PEERS) + " | fastest peer / qayo | qayo / qcoro |")
    print("| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in PEERS) + " | ---: | ---: |")
    for workload in workloads:
        for n in sizes:
            qayo = times.get((workload, n, "qayo"))
            peers = [times.get((workload, n, peer)) for peer in PEERS]
            qcoro = times.get((workload, n, "qcoro"))
            if qayo is None or all(p is None for p in peers):
                continue
            fastest = min(p for p in peers if p is not None)
            speedup = fastest / qayo
            if speedup < FASTER_THAN_PEERS:
                missed.append(f"peers: {workload} at N = {size(n)} is {speedup:.1f}x the fastest peer")
            over = qayo / qcoro if qcoro else None
            if over is not None and over > OVER_QCORO:
                missed.append(f"qcoro floor: {workload} at N = {size(n)} is {over:.2f}x qcoro")
            cells = [number(qayo), number(qcoro) if qcoro else "—"]
            cells += [number(p) if p is not None else "—" for p in peers]
            cells += [ratio(speedup), ratio(over) if over is not None else "—"]
            print(f"| {workload} | {size(n)} | " + " | ".join(cells) + " |")

    print("\n### Peak RSS (biggest process of each implementation)\n")
    print("| implementation | largest N | peak RSS (MiB) |")
    print("| --- | ---: | ---: |")
    for implementation, (n, kib) in rss.items():
        print(f"| {implementation} | {size(n)} | {kib / 1024:.0f} |")

    print("\n### Goals missed\n")
    if missed:
        for line in missed:
            print(f"- {line}")
    else:
        print("None: every goal is met.")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
