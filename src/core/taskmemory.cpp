// SPDX-License-Identifier: MIT
// The per-thread cache of task memory; the design is in include/QAyo/detail/taskmemory.h.
#include <QAyo/detail/taskmemory.h>

#include <QtGlobal>

#include <atomic>
#include <new>

namespace QAyo::detail {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool poolCompiledIn = false;
#else
constexpr bool poolCompiledIn = true;
#endif

constexpr std::size_t Granule = 16;
constexpr std::size_t ClassCount = 64; // 16, 32, ... 1024 bytes
constexpr std::size_t KeepLimit = std::size_t(4) << 20;  // kept for good, per thread
constexpr std::size_t BurstLimit = std::size_t(512) << 20; // kept for a while (event-loop threads)

constexpr std::size_t classIndex(std::size_t size) noexcept
{
    return (size + Granule - 1) / Granule - 1; // size 0 wraps to a huge index: not pooled
}
constexpr std::size_t classBytes(std::size_t index) noexcept
{
    return (index + 1) * Granule;
}

struct Cache
{
    std::size_t cachedBytes = 0;
    std::size_t limitBytes = KeepLimit; // BurstLimit once deferred release is allowed
    std::size_t lowWater = 0;           // least cachedBytes since the last release check
    void (*armRelease)() = nullptr;     // called when cachedBytes grows past KeepLimit
    void *heads[ClassCount] = {};       // singly linked through each block's first word
};

// Read once when the library loads: a thread that frees a block must round it the same way as
// the thread that allocated it, so the choice may not change while the process runs.
const bool poolEnabled = [] {
    if (!poolCompiledIn)
        return false;
    bool ok = false;
    const int value = qEnvironmentVariableIntValue("QAYO_TASK_POOL", &ok);
    return !ok || value != 0;
}();

// A thread whose cache was released (it is ending) uses this one: it never holds a block, so
// every allocation goes to the heap and every free back to it. Never written: shared by all.
Cache deadCache{0, 0, 0, nullptr, {}};

std::atomic<int> threadCaches{0};

// failTaskMemoryAllocation(): allocations left until the one that fails; 0 while off.
std::atomic<int> failCountdown{0};

// initial-exec: one pointer of static TLS (read on every allocation), no __tls_get_addr call.
// Null until the thread first needs its cache.
thread_local Cache *tlsCache __attribute__((tls_model("initial-exec"))) = nullptr;

//! Frees blocks of \a cache until it holds at most \a keep bytes.
void shrink(Cache *cache, std::size_t keep) noexcept
{
    for (std::size_t index = ClassCount; index-- > 0 && cache->cachedBytes > keep;) {
        while (cache->cachedBytes > keep) {
            void *block = cache->heads[index];
            if (!block)
                break;
            cache->heads[index] = *static_cast<void **>(block);
            cache->cachedBytes -= classBytes(index);
            ::operator delete(block, classBytes(index));
        }
    }
    cache->lowWater = cache->cachedBytes;
}

// Created with the thread's cache; its destructor runs when the thread ends.
struct CacheOwner
{
    ~CacheOwner()
    {
        Cache *cache = tlsCache;
        tlsCache = &deadCache;
        if (cache && cache != &deadCache) {
            shrink(cache, 0);
            delete cache;
            threadCaches.fetch_sub(1, std::memory_order_relaxed);
        }
    }
};

// Out of line: the allocation and free paths stay small (no registers saved for this).
Q_DECL_COLD_FUNCTION Q_NEVER_INLINE Cache *createThreadCache() noexcept
{
    Cache *cache = nullptr;
    if (!poolEnabled)
        return nullptr;
    static thread_local CacheOwner owner; // registers the release at thread exit
    static_cast<void>(owner);
    cache = new (std::nothrow) Cache;
    if (!cache)
        return &deadCache;
    threadCaches.fetch_add(1, std::memory_order_relaxed);
    tlsCache = cache;
    return cache;
}

inline Cache *threadCache() noexcept
{
    Cache *cache = tlsCache;
    return Q_LIKELY(cache) ? cache : createThreadCache();
}

// Out of line: the test hook costs the allocation path only the check of failCountdown.
Q_DECL_COLD_FUNCTION Q_NEVER_INLINE void countTowardsFailure()
{
    int left = failCountdown.load(std::memory_order_relaxed);
    while (left > 0 && !failCountdown.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
    }
    if (left == 1)
        throw std::bad_alloc();
}

} // namespace

void failTaskMemoryAllocation(int k) noexcept
{
    failCountdown.store(k > 0 ? k : 0, std::memory_order_relaxed);
}

bool taskMemoryFailurePending() noexcept
{
    return failCountdown.load(std::memory_order_relaxed) > 0;
}

void *allocateTaskMemory(std::size_t size)
{
    if (Q_UNLIKELY(failCountdown.load(std::memory_order_relaxed) != 0))
        countTowardsFailure();
    const std::size_t index = classIndex(size);
    if (Q_LIKELY(index < ClassCount)) {
        if (Cache *cache = threadCache()) {
            if (void *block = cache->heads[index]) {
                void *next = *static_cast<void **>(block);
                cache->heads[index] = next;
                // The next block of this class is the next record, ticket or frame written. After
                // a burst of a million tasks the free list runs through DRAM, and each pop waits
                // for the block's link: start loading it now (a prefetch never faults, not even
                // of null).
                __builtin_prefetch(next, 1);
                cache->cachedBytes -= classBytes(index);
                if (cache->cachedBytes < cache->lowWater)
                    cache->lowWater = cache->cachedBytes;
                return block;
            }
            return ::operator new(classBytes(index)); // whole class: any request of it fits
        }
    }
    return ::operator new(size);
}

void freeTaskMemory(void *block, std::size_t size) noexcept
{
    const std::size_t index = classIndex(size);
    if (Q_LIKELY(index < ClassCount)) {
        if (Cache *cache = threadCache()) {
            const std::size_t bytes = classBytes(index);
            const std::size_t cached = cache->cachedBytes + bytes;
            if (cached <= cache->limitBytes) {
                *static_cast<void **>(block) = cache->heads[index];
                cache->heads[index] = block;
                cache->cachedBytes = cached;
                if (Q_UNLIKELY(cached > KeepLimit) && cached - bytes <= KeepLimit)
                    cache->armRelease(); // non-null: limitBytes > KeepLimit only with it
            } else {
                ::operator delete(block, bytes);
            }
            return;
        }
    }
    ::operator delete(block, size);
}

void allowDeferredTaskMemoryRelease(void (*armRelease)()) noexcept
{
    Cache *cache = threadCache();
    if (!cache || cache == &deadCache)
        return;
    cache->armRelease = armRelease;
    if (armRelease) {
        cache->limitBytes = BurstLimit;
        if (cache->cachedBytes > KeepLimit)
            armRelease();
    } else {
        cache->limitBytes = KeepLimit;
        shrink(cache, KeepLimit);
    }
}

bool releaseIdleTaskMemory() noexcept
{
    Cache *cache = tlsCache;
    if (!cache || cache == &deadCache)
        return false;
    // What stayed in the cache the whole period was not needed: it goes back to the heap, down
    // to the part kept for good.
    if (cache->lowWater > KeepLimit)
        shrink(cache, cache->cachedBytes - (cache->lowWater - KeepLimit));
    cache->lowWater = cache->cachedBytes;
    return cache->cachedBytes > KeepLimit;
}

TaskMemoryStats taskMemoryStats() noexcept
{
    TaskMemoryStats stats;
    stats.pooling = poolEnabled;
    stats.keepBytes = poolEnabled ? KeepLimit : 0;
    stats.limitBytes = stats.keepBytes;
    if (const Cache *cache = tlsCache; cache && cache != &deadCache) {
        stats.cachedBytes = cache->cachedBytes;
        stats.limitBytes = cache->limitBytes;
    }
    stats.threadCaches = threadCaches.load(std::memory_order_relaxed);
    return stats;
}

} // namespace QAyo::detail
