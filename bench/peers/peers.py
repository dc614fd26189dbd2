#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The bench workloads (bench/, docs/performance.md) written for Python's structured
concurrency: asyncio.TaskGroup, Trio nurseries and AnyIO task groups (Debian's python3,
python3-trio, python3-anyio; scripts/setup --extra peers).

Prints one line per measurement, as qayo_bench does:
    workload<TAB>n<TAB>implementation<TAB>ns_per_task
best of --reps repetitions, each timed with time.perf_counter_ns around the same part as the
C++ workload measures. Every workload checks that all n items ran (exit code 2 otherwise).

    peers.py --impl asyncio --sizes 1000,10000,100000 --reps 3
"""
import argparse
import sys
import time

HOUR = 3600


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


# --- asyncio.TaskGroup (Python 3.11) -------------------------------------------------------------

def asyncio_workloads():
    import asyncio

    async def spawn_join(n):
        done = 0

        async def job():
            nonlocal done
            done += 1

        start = time.perf_counter_ns()
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(job())
        elapsed = time.perf_counter_ns() - start
        check(done == n, f"spawn_join/asyncio: {done} of {n}")
        return elapsed

    async def spawn_hop_join(n):
        done = 0

        async def job():
            nonlocal done
            await asyncio.sleep(0)  # one loop turn
            done += 1

        start = time.perf_counter_ns()
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(job())
        elapsed = time.perf_counter_ns() - start
        check(done == n, f"spawn_hop_join/asyncio: {done} of {n}")
        return elapsed

    async def asleep_then_cancel(n, measure_spawn):
        asleep = 0
        unwound = 0

        async def job():
            nonlocal asleep, unwound
            asleep += 1
            try:
                await asyncio.sleep(HOUR)
            finally:
                unwound += 1

        start = time.perf_counter_ns()
        tasks = []
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tasks.append(tg.create_task(job()))
            while asleep < n:
                await asyncio.sleep(0)
            if not measure_spawn:
                start = time.perf_counter_ns()
            for t in tasks:  # TaskGroup has no cancel(): cancel its tasks
                t.cancel()
        elapsed = time.perf_counter_ns() - start
        check(unwound == n, f"cancel/asyncio: {unwound} of {n} unwound")
        return elapsed

    async def limit10(n):
        done = 0
        live = 0
        peak = 0
        sem = asyncio.Semaphore(10)

        async def job():
            nonlocal done, live, peak
            async with sem:
                live += 1
                peak = max(peak, live)
                await asyncio.sleep(0)
                live -= 1
                done += 1

        start = time.perf_counter_ns()
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(job())
        elapsed = time.perf_counter_ns() - start
        check(done == n and peak == min(n, 10), f"limit10/asyncio: {done} of {n}, peak {peak}")
        return elapsed

    async def aside_join(n):
        done = 0

        def job():
            nonlocal done
            done += 1  # the GIL makes this safe enough for a count

        start = time.perf_counter_ns()
        async with asyncio.TaskGroup() as tg:
            for _ in range(n):
                tg.create_task(asyncio.to_thread(job))
        elapsed = time.perf_counter_ns() - start
        check(done == n, f"aside_join/asyncio: {done} of {n}")
        return elapsed

    def run(f):
        return lambda n: asyncio.run(f(n))

    return {
        "spawn_join": run(spawn_join),
        "spawn_hop_join": run(spawn_hop_join),
        "cancel_sleeping": run(lambda n: asleep_then_cancel(n, False)),
        "limit10": run(limit10),
        "timers_start_cancel": run(lambda n: asleep_then_cancel(n, True)),
        "aside_join": run(aside_join),
    }


# --- Trio and AnyIO share the shape: a nursery / task group with a cancel scope -------------------

def structured_workloads(name, run, open_group, sleep, checkpoint, limiter, to_thread):
    async def spawn_join(n):
        done = 0

        async def job():
            nonlocal done
            done += 1

        start = time.perf_counter_ns()
        async with open_group() as g:
            for _ in range(n):
                g.start_soon(job)
        elapsed = time.perf_counter_ns() - start
        check(done == n, f"spawn_join/{name}: {done} of {n}")
        return elapsed

    async def spawn_hop_join(n):
        done = 0

        async def job():
            nonlocal done
            await checkpoint()
            done += 1

        start = time.perf_counter_ns()
        async with open_group() as g:
            for _ in range(n):
                g.start_soon(job)
        elapsed = time.perf_counter_ns() - start
        check(done == n, f"spawn_hop_join/{name}: {done} of {n}")
        return elapsed

    async def asleep_then_cancel(n, measure_spawn):
        asleep = 0
        unwound = 0

        async def job():
            nonlocal asleep, unwound
            asleep += 1
            try:
                await sleep(HOUR)
            finally:
                unwound += 1

        start = time.perf_counter_ns()
        async with open_group() as g:
            for _ in range(n):
                g.start_soon(job)
            while asleep < n:
                await checkpoint()
            if not measure_spawn:
                start = time.perf_counter_ns()
            g.cancel_scope.cancel()
        elapsed = time.perf_counter_ns() - start
        check(unwound == n, f"cancel/{name}: {unwound} of {n} unwound")
        return elapsed

    async def limit10(n):
        done = 0
        live = 0
        peak = 0
        lim = limiter(10)

        async def job():
            nonlocal done, live, peak
            async with lim:
                live += 1
                peak = max(peak, live)
                await checkpoint()
                live -= 1
                done += 1

        start = time.perf_counter_ns()
        async with open_group() as g:
            for _ in range(n):
                g.start_soon(job)
        elapsed = time.perf_counter_ns() - start
        check(done == n and peak == min(n, 10), f"limit10/{name}: {done} of {n}, peak {peak}")
        return elapsed

    async def aside_join(n):
        done = 0

        def job():
            nonlocal done
            done += 1

        async def one():
            await to_thread(job)

        start = time.perf_counter_ns()
        async with open_group() as g:
            for _ in range(n):
                g.start_soon(one)
        elapsed = time.perf_counter_ns() - start
        check(done == n, f"aside_join/{name}: {done} of {n}")
        return elapsed

    def wrap(f):
        return lambda n: run(f, n)

    return {
        "spawn_join": wrap(spawn_join),
        "spawn_hop_join": wrap(spawn_hop_join),
        "cancel_sleeping": wrap(lambda n: asleep_then_cancel(n, False)),
        "limit10": wrap(limit10),
        "timers_start_cancel": wrap(lambda n: asleep_then_cancel(n, True)),
        "aside_join": wrap(aside_join),
    }


def trio_workloads():
    import trio
    # Trio's thread limiter defaults to 40 threads; the C++ side uses the global pool.
    return structured_workloads("trio", trio.run, trio.open_nursery, trio.sleep,
                                trio.lowlevel.checkpoint, trio.CapacityLimiter,
                                trio.to_thread.run_sync)


def anyio_workloads():
    import anyio
    import anyio.lowlevel
    import anyio.to_thread
    return structured_workloads("anyio", anyio.run, anyio.create_task_group, anyio.sleep,
                                anyio.lowlevel.checkpoint, anyio.CapacityLimiter,
                                anyio.to_thread.run_sync)


IMPLEMENTATIONS = {"asyncio": asyncio_workloads, "trio": trio_workloads, "anyio": anyio_workloads}
ORDER = ["spawn_join", "spawn_hop_join", "cancel_sleeping", "limit10", "timers_start_cancel", "aside_join"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), required=True)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--filter", default="", help="only workloads whose name contains it")
    parser.add_argument("--max-aside", type=int, default=10000,
                        help="largest n for aside_join (a thread hop per item is slow in Python)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workloads = IMPLEMENTATIONS[args.impl]()
    try:
        for workload in ORDER:
            if args.filter not in workload:
                continue
            for n in sizes:
                if workload == "aside_join" and n > args.max_aside:
                    continue
                best = min(workloads[workload](n) for _ in range(args.reps))
                print(f"{workload}\t{n}\t{args.impl}\t{best / n:.1f}", flush=True)
    except CheckFailed as e:
        print(f"peers.py: check failed: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
