// SPDX-License-Identifier: MIT
// The per-thread cache of task memory (include/QAyo/detail/taskmemory.h): blocks are reused on
// the thread that freed them, a block may be freed on another thread than the one that
// allocated it, the cache never holds more than its limit, and a thread's cache is released when
// the thread ends. Off under AddressSanitizer or QAYO_TASK_POOL=0: then only the plain heap is
// checked (every block still comes back).
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>
#include <QAyo/detail/taskmemory.h>

#include <QTest>

#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace TestHelpers;
using QAyo::detail::allocateTaskMemory;
using QAyo::detail::freeTaskMemory;
using QAyo::detail::taskMemoryStats;

namespace {

//! Runs \a f on a thread of its own and waits until that thread has ended, its thread-local
//! destructors included (std::thread::join; QThread::wait may return before those ran).
template<typename F>
void onOtherThread(F f)
{
    std::thread thread(std::move(f));
    thread.join();
}

//! With the pool off (AddressSanitizer, QAYO_TASK_POOL=0) the cache must stay empty: every block
//! goes straight back to the heap, here and on another thread, so ASan and valgrind see each
//! free. That is what the cache's tests check in that mode.
void checkEveryBlockGoesToTheHeap()
{
    for (std::size_t size : { std::size_t(16), std::size_t(100), std::size_t(1024) }) {
        void *block = allocateTaskMemory(size);
        QVERIFY(block);
        freeTaskMemory(block, size);
        QCOMPARE(taskMemoryStats().cachedBytes, std::size_t(0));
    }
    std::size_t cachedThere = 1;
    void *crossing = allocateTaskMemory(64);
    onOtherThread([&] {
        freeTaskMemory(crossing, 64);
        cachedThere = taskMemoryStats().cachedBytes;
    });
    QCOMPARE(cachedThere, std::size_t(0));
}

} // namespace

class TaskMemoryTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void freedBlockIsReusedForTheSameSizeClass()
    {
        if (!taskMemoryStats().pooling)
            return checkEveryBlockGoesToTheHeap();
        void *block = allocateTaskMemory(100);
        const std::size_t before = taskMemoryStats().cachedBytes;
        freeTaskMemory(block, 100);
        QCOMPARE(taskMemoryStats().cachedBytes, before + 112); // rounded up to its 16-byte class
        // 97..112 bytes share the class: a request of any of them gets the block back.
        void *again = allocateTaskMemory(112);
        QCOMPARE(again, block);
        QCOMPARE(taskMemoryStats().cachedBytes, before);
        freeTaskMemory(again, 112);
    }

    void largeBlocksBypassTheCache()
    {
        const std::size_t before = taskMemoryStats().cachedBytes;
        void *block = allocateTaskMemory(64 * 1024);
        freeTaskMemory(block, 64 * 1024);
        QCOMPARE(taskMemoryStats().cachedBytes, before);
    }

    void blockFreedOnAnotherThreadJoinsThatThreadsCache()
    {
        if (!taskMemoryStats().pooling)
            return checkEveryBlockGoesToTheHeap();
        void *block = nullptr;
        onOtherThread([&block] { block = allocateTaskMemory(48); }); // its thread has ended since
        const std::size_t before = taskMemoryStats().cachedBytes;
        freeTaskMemory(block, 48);
        QCOMPARE(taskMemoryStats().cachedBytes, before + 48);
        QCOMPARE(allocateTaskMemory(48), block);
        freeTaskMemory(block, 48);

        // And the other way: allocated here, freed (and reused) there.
        void *mine = allocateTaskMemory(48);
        bool reusedThere = false;
        onOtherThread([mine, &reusedThere] {
            freeTaskMemory(mine, 48);
            void *next = allocateTaskMemory(48);
            reusedThere = next == mine;
            freeTaskMemory(next, 48);
        });
        QVERIFY(reusedThere);
    }

    void threadWithoutLoopKeepsNoMoreThanItsLimit()
    {
        if (!taskMemoryStats().pooling)
            return checkEveryBlockGoesToTheHeap();
        QAyo::detail::TaskMemoryStats stats;
        std::size_t cachedAfterRefill = 0;
        onOtherThread([&stats, &cachedAfterRefill] { // no event loop: the limit is the kept part
            const std::size_t limit = taskMemoryStats().limitBytes;
            constexpr std::size_t size = 256;
            std::vector<void *> blocks(2 * limit / size);
            for (void *&block : blocks)
                block = allocateTaskMemory(size);
            for (void *block : blocks)
                freeTaskMemory(block, size);
            stats = taskMemoryStats();
            for (void *&block : blocks)
                block = allocateTaskMemory(size); // empties the cache again
            cachedAfterRefill = taskMemoryStats().cachedBytes;
            for (void *block : blocks)
                freeTaskMemory(block, size);
        });
        QVERIFY(stats.keepBytes > 0);
        QCOMPARE(stats.limitBytes, stats.keepBytes);
        QVERIFY2(stats.cachedBytes <= stats.limitBytes,
                 qPrintable(QStringLiteral("%1 > %2").arg(stats.cachedBytes).arg(stats.limitBytes)));
        QVERIFY(stats.cachedBytes >= stats.limitBytes - 256); // it did keep what fits
        QCOMPARE(cachedAfterRefill, std::size_t(0));
    }

    void loopThreadGivesBackABurstWhenIdle()
    {
        if (!taskMemoryStats().pooling)
            return checkEveryBlockGoesToTheHeap();
        // A thread that runs the ready queue may keep more than its kept part for a while.
        QAyo::Test::run([]() -> QAyo::Task<> { co_await QAyo::checkpoint(); }());
        const QAyo::detail::TaskMemoryStats before = taskMemoryStats();
        QVERIFY(before.limitBytes > before.keepBytes);
        constexpr std::size_t size = 512;
        std::vector<void *> blocks((before.keepBytes + (std::size_t(8) << 20)) / size);
        for (void *&block : blocks)
            block = allocateTaskMemory(size);
        for (void *block : blocks)
            freeTaskMemory(block, size);
        QVERIFY(taskMemoryStats().cachedBytes > before.keepBytes); // kept: the next burst reuses it
        // Idle: within a few ticks of the 1 s release timer, it is down to the kept part.
        QVERIFY(spinUntil([] { return taskMemoryStats().cachedBytes <= taskMemoryStats().keepBytes; }, 10s));
    }

    void threadCacheIsReleasedWhenTheThreadEnds()
    {
        if (!taskMemoryStats().pooling)
            return checkEveryBlockGoesToTheHeap();
        const int cachesBefore = taskMemoryStats().threadCaches;
        int cachesWhileRunning = 0;
        std::size_t cachedThere = 0;
        onOtherThread([&] {
            std::vector<void *> blocks;
            for (int i = 0; i < 100; ++i)
                blocks.push_back(allocateTaskMemory(64 + 16 * (i % 8)));
            for (int i = 0; i < 100; ++i)
                freeTaskMemory(blocks[i], 64 + 16 * (i % 8));
            cachesWhileRunning = taskMemoryStats().threadCaches;
            cachedThere = taskMemoryStats().cachedBytes;
        });
        QCOMPARE(cachesWhileRunning, cachesBefore + 1);
        QVERIFY(cachedThere > 0);
        QCOMPARE(taskMemoryStats().threadCaches, cachesBefore); // freed with the thread (LSan checks)
    }

    void tasksSpawnedFromAnotherThreadRunAndFreeTheirMemory()
    {
        // Records made on a worker thread, frames made and freed on this one: the cross-thread
        // path of real use (and, under ASan, the sized frees are checked against the allocation).
        QAyo::Scope scope;
        int done = 0;
        onOtherThread([&scope, &done] {
            for (int i = 0; i < 200; ++i) {
                scope.asap([&done]() -> QAyo::Task<int> {
                    co_await QAyo::checkpoint();
                    ++done;
                    co_return 1;
                });
            }
        });
        QAyo::Test::join(scope);
        QCOMPARE(done, 200);
        QCOMPARE(scope.results().size(), 200);
    }
};

QTEST_GUILESS_MAIN(TaskMemoryTest)
#include "tst_taskmemory.moc"
