// SPDX-License-Identifier: MIT
#pragma once

// QAyo's own FIFO of aside jobs for one QThreadPool, and the few runnables that drain it.
//
// Why not one QRunnable per job: Qt 6.4's QThreadPool::start() walks its queue pages linearly to
// find one of the same priority with room (256 runnables a page), and tryTake() walks them too.
// With a million jobs queued each start costs thousands of page visits, and cancelling queued
// jobs one by one is quadratic. So the jobs wait here, in an intrusive list (O(1) to append, to
// take the first and to take back a cancelled one), and the pool only ever holds at most
// maxThreadCount() "drainers". A drainer takes jobs in FIFO order and runs them; after a time
// slice it gives its thread back by queueing a fresh drainer behind whatever else the pool has
// queued, so QAyo's jobs never monopolise a pool that other code shares (docs/threads.md).
//
// Invariants (all under m_mutex):
// * a job in the list has Stage::Queued; a drainer takes it (Taken) or a cancel/clear drops it
//   (Dropped) exactly once;
// * while the list is not empty, m_drainers > 0: some drainer is queued in the pool or running,
//   so QThreadPool::waitForDone() and the pool's destructor wait for QAyo's jobs too.

#include <QAyo/aside.h>

#include <mutex>

namespace QAyo::detail {

class AsideQueue
{
public:
    //! The queue of \a pool, made on first use and deleted when the pool is (thread-safe).
    static AsideQueue *of(QThreadPool *pool);

    //! Appends \a job (on its scope's thread) and makes sure a drainer will take it.
    void push(AsideCore *job) noexcept;
    //! Takes \a job back if no drainer has taken it yet (on its scope's thread): true if it did.
    bool tryTake(AsideCore *job) noexcept;

    //! How long a drainer runs jobs before it gives its pool thread back.
    static constexpr std::chrono::microseconds timeSlice { 1000 };

private:
    class Drainer;
    explicit AsideQueue(QThreadPool *pool);
    ~AsideQueue();
    static void forget(QThreadPool *pool) noexcept;

    void startDrainer() noexcept;
    void drain() noexcept;
    void drainerDropped() noexcept;
    void dropAllQueued(int drainersGone) noexcept;
    AsideCore *takeFirstLocked() noexcept;
    void unlinkLocked(AsideCore *job) noexcept;

    QThreadPool *const m_pool;
    std::mutex m_mutex;
    AsideCore *m_first = nullptr;
    AsideCore *m_last = nullptr;
    int m_drainers = 0; // drainers queued in the pool or running
    int m_maxDrainers = 1; // the pool's maxThreadCount(), refreshed by every drainer
};

} // namespace QAyo::detail
