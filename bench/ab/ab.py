#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A/B: two builds of qayo_bench, run back to back in one sitting, alternating, so that the
machine's drift hits both alike. Prints one row per workload and size: the best ns per task of
each build and after/before (below 1: faster).

    ab.py BEFORE_BINARY AFTER_BINARY [--rounds K] [qayo_bench arguments...]

Each round runs BEFORE then AFTER (the order flips every round) with the same arguments; the best
of all rounds counts, as in qayo_bench's own best-of-N.
"""
import subprocess
import sys


def run(binary, args):
    out = subprocess.run([binary, "--no-header", *args], check=True, capture_output=True, text=True).stdout
    figures = {}
    for line in out.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        workload, n, implementation, ns = line.split("\t")[:4]
        figures[(workload, int(n), implementation)] = float(ns)
    return figures


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    before, after, rest = argv[0], argv[1], argv[2:]
    rounds = 3
    if "--rounds" in rest:
        at = rest.index("--rounds")
        rounds = int(rest[at + 1])
        del rest[at:at + 2]
    best = {"before": {}, "after": {}}
    for round_ in range(rounds):
        order = [("before", before), ("after", after)]
        if round_ % 2:
            order.reverse()
        for name, binary in order:
            for key, ns in run(binary, rest).items():
                best[name][key] = min(ns, best[name].get(key, ns))
    print("# workload\tn\timplementation\tbefore_ns\tafter_ns\tafter/before  (best of %d rounds, alternating)" % rounds)
    for key in sorted(best["after"], key=lambda k: (k[0], k[2], k[1])):
        if key not in best["before"]:
            continue
        b, a = best["before"][key], best["after"][key]
        print("%s\t%d\t%s\t%.1f\t%.1f\t%.2f" % (key[0], key[1], key[2], b, a, a / b if b else float("nan")))


if __name__ == "__main__":
    main(sys.argv[1:])
