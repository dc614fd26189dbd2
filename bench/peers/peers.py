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


# --- asyncio.TaskGroup (Python 3.11), shaped like a Trio nursery ---------------------------------

class AsyncioGroup:
    """asyncio.TaskGroup with Trio's start_soon and cancel_scope.cancel() (TaskGroup has no
    cancel of its own: the group cancels the tasks it started)."""

    def __init__(self):
        import asyncio
        self._group = asyncio.TaskGroup()
        self._tasks = []
        self.cancel_scope = self

    async def __aenter__(self):
        await self._group.__aenter__()
        return self

    async def __aexit__(self, *exc):
        return await self._group.__aexit__(*exc)

    def start_soon(self, function):
        self._tasks.append(self._group.create_task(function()))

    def cancel(self):
        for task in self._tasks:
            task.cancel()


def asyncio_workloads():
    import asyncio
    return structured_workloads("asyncio", lambda f, n: asyncio.run(f(n)), AsyncioGroup, asyncio.sleep,
                                lambda: asyncio.sleep(0), asyncio.Semaphore, asyncio.to_thread)


# --- every peer: a nursery / task group with a cancel scope -----------------------------------------

def structured_workloads(name, run, open_group, sleep, checkpoint, limiter, to_thread):
    async def spawn_all(n, job):
        """n tasks of job in one group; the time from the first spawn until the join returns."""
        start = time.perf_counter_ns()
        async with open_group() as g:
            for _ in range(n):
                g.start_soon(job)
        return time.perf_counter_ns() - start

    async def spawn_join(n, hop):
        done = 0

        async def job():
            nonlocal done
            if hop:
                await checkpoint()  # one loop turn
            done += 1

        elapsed = await spawn_all(n, job)
        check(done == n, f"spawn_join/{name}: {done} of {n}")
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

        elapsed = await spawn_all(n, job)
        check(done == n and peak == min(n, 10), f"limit10/{name}: {done} of {n}, peak {peak}")
        return elapsed

    async def aside_join(n):
        done = 0

        def count():
            nonlocal done
            done += 1  # the GIL makes this safe enough for a count

        async def job():
            await to_thread(count)

        elapsed = await spawn_all(n, job)
        check(done == n, f"aside_join/{name}: {done} of {n}")
        return elapsed

    def wrap(f):
        return lambda n: run(f, n)

    return {
        "spawn_join": wrap(lambda n: spawn_join(n, False)),
        "spawn_hop_join": wrap(lambda n: spawn_join(n, True)),
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
