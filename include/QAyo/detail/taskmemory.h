// SPDX-License-Identifier: MIT
#pragma once

// Task memory: where QAyo's coroutine frames and task records come from.
//
// A spawned task costs two blocks (its record and, once it starts, its frame), and a burst of
// N tasks keeps N of each alive at once. glibc's per-thread cache holds only 7 chunks per size,
// so such a burst misses it and pays malloc's slow path twice per task. QAyo therefore keeps a
// small per-thread cache of freed blocks, in size classes of 16 bytes up to 1 KiB:
//
// * No header. The size comes with every free (the promise's and the record's sized
//   operator delete), so a block is a plain ::operator new block of its class size, and any
//   thread may free it: it goes into the freeing thread's cache (as glibc's tcache does).
// * Capped. A thread keeps up to 4 MiB for good. A thread that runs QAyo's ready queue from
//   its event loop may keep up to 512 MiB for a while: once its cache grows past 4 MiB, its
//   ThreadContext starts a 1 s timer that gives back what stayed unused a whole tick, until
//   the cache is down to 4 MiB again. So
//   a burst of a million tasks reuses its memory when the next burst follows soon (instead of
//   glibc trimming the heap and page-faulting it in again), and does not pin it for good.
//   Threads without that loop (thread pools) free past 4 MiB at once.
// * Released when the thread ends; a block freed later on that thread goes straight back.
// * Off under AddressSanitizer (compile time: ASan must see every frame's free to catch a
//   use after free) and when the environment variable QAYO_TASK_POOL is 0 (read at load; set
//   it under valgrind memcheck for the same reason; scripts/test --valgrind does).

#include <QAyo/qayo_global.h>

#include <cstddef>

namespace QAyo::detail {

//! A block of at least \a size bytes for a frame or a record (see the file comment).
QAYO_CORE_EXPORT void *allocateTaskMemory(std::size_t size);
//! Gives back a block of allocateTaskMemory(\a size); any thread may call it.
QAYO_CORE_EXPORT void freeTaskMemory(void *block, std::size_t size) noexcept;

//! Lets the calling thread keep up to the burst limit. \a armRelease is called (on this thread)
//! whenever the cache grows past the part kept for good; from then on the thread must call
//! releaseIdleTaskMemory() periodically until it returns false (its ThreadContext does).
//! A null \a armRelease takes the permission back (the thread's loop is going away).
QAYO_CORE_EXPORT void allowDeferredTaskMemoryRelease(void (*armRelease)()) noexcept;
//! Gives back what the calling thread's cache did not use since the last call (down to the
//! part kept for good); true if more than that part is still cached.
QAYO_CORE_EXPORT bool releaseIdleTaskMemory() noexcept;

//! What the calling thread's cache holds (for tests and diagnostics).
struct TaskMemoryStats
{
    bool pooling = false;        //!< false: compiled out (ASan) or QAYO_TASK_POOL=0
    std::size_t cachedBytes = 0; //!< bytes of freed blocks kept for reuse on this thread
    std::size_t keepBytes = 0;   //!< what the thread may keep for good
    std::size_t limitBytes = 0;  //!< the cap of cachedBytes (keepBytes, or the burst limit)
    int threadCaches = 0;        //!< threads with a cache, all threads (drops when one ends)
};
//! The calling thread's TaskMemoryStats.
QAYO_CORE_EXPORT TaskMemoryStats taskMemoryStats() noexcept;

//! Test hook (fault injection): the \a k-th allocateTaskMemory() from now, counted over all
//! threads, throws std::bad_alloc (pooled or not); then the hook is off again. 0 turns it off.
//! For tests of the paths that allocate records, frames and limiter tickets; costs one
//! predictable branch per allocation while off.
QAYO_CORE_EXPORT void failTaskMemoryAllocation(int k) noexcept;
//! Test hook: true while a failure set with failTaskMemoryAllocation() has not happened yet.
QAYO_CORE_EXPORT bool taskMemoryFailurePending() noexcept;

} // namespace QAyo::detail
