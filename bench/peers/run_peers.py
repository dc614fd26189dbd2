#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""scripts/bench --peers: QAyo's bench at N = 1k, 10k, 100k, 1M (growth visible), the raw
QCoro floor, and the Python peers (asyncio, Trio, AnyIO; peers.py) at N <= 100k, all in one
invocation. Prints the four columns of qayo_bench, workload<TAB>n<TAB>implementation<TAB>value,
with ns per task as value, and after each implementation a line
    peak_rss_kib<TAB><largest n><TAB><implementation><TAB><KiB>
with the peak resident set size of the biggest process that implementation ran.

    run_peers.py path/to/qayo_bench [--quick]
"""
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, with python3-trio and python3-anyio


def run_group(implementation, commands, largest_n):
    """Runs the commands of one implementation in a child of our own, so its peak RSS is the
    peak of those processes only (RUSAGE_CHILDREN counts waited-for descendants)."""
    code = (
        "import resource, subprocess, sys, json\n"
        "for cmd in json.loads(sys.argv[1]):\n"
        "    r = subprocess.run(cmd)\n"
        "    if r.returncode != 0:\n"
        "        sys.exit(r.returncode)\n"
        "print('peak_rss_kib\\t%d\\t%s\\t%d' % (int(sys.argv[2]), sys.argv[3],"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), flush=True)\n"
    )
    import json
    result = subprocess.run([PYTHON, "-c", code, json.dumps(commands), str(largest_n), implementation])
    if result.returncode != 0:
        print(f"run_peers.py: {implementation} failed (exit code {result.returncode})", file=sys.stderr)
        sys.exit(2)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    bench = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    qayo_sizes = "1000,10000" if quick else "1000,10000,100000,1000000"
    peer_sizes = "1000,10000" if quick else "1000,10000,100000"
    reps = "1" if quick else "3"
    largest_qayo = int(qayo_sizes.split(",")[-1])
    largest_peer = int(peer_sizes.split(",")[-1])

    print(f"# workload\tn\timplementation\tns_per_task  (best of {reps}; peak_rss_kib: KiB, "
          f"biggest process of that implementation)", flush=True)
    run_group("qayo", [[bench, "--no-header", "--filter", "/qayo", "--sizes", qayo_sizes, "--reps", reps]],
              largest_qayo)
    # The raw-QCoro floor. Its hop (a QTimer per sleepFor(0ms)) grows quadratically with N in
    # Qt 6.4 (docs/performance.md), so that one stops at 100k.
    floor = [[bench, "--no-header", "--filter", w + "/qcoro", "--sizes", qayo_sizes, "--reps", reps]
             for w in ("spawn_join", "limit10")]
    floor.append([bench, "--no-header", "--filter", "spawn_hop_join/qcoro", "--sizes",
                  "1000,10000" if quick else "1000,10000,100000", "--reps", "1"])
    run_group("qcoro", floor, largest_qayo)
    for peer in ("asyncio", "trio", "anyio"):
        run_group(peer, [[PYTHON, os.path.join(HERE, "peers.py"), "--impl", peer, "--sizes", peer_sizes,
                          "--reps", reps]], largest_peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
