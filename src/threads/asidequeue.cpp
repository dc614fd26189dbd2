// SPDX-License-Identifier: MIT
// QAyo's FIFO of aside jobs per pool and its drainers (see asidequeue_p.h).
#include "asidequeue_p.h"

#include "../core/logging_p.h"
#include "../core/mailbox_p.h"
#include "../core/threadcontext_p.h"

#include <QRunnable>

#include <atomic>
#include <unordered_map>

namespace QAyo::detail {

namespace {

struct Registry
{
    std::mutex mutex;
    std::unordered_map<QThreadPool *, AsideQueue *> queues;
    //! Bumped whenever a queue goes, so that the per-thread cache below never returns a queue
    //! of a deleted pool whose address was reused.
    std::atomic<std::uint64_t> generation { 0 };
};

Registry &registry()
{
    static auto *instance = new Registry; // never destroyed: pools may outlive static teardown
    return *instance;
}

struct LastUsed
{
    QThreadPool *pool = nullptr;
    AsideQueue *queue = nullptr;
    std::uint64_t generation = 0;
};
thread_local LastUsed lastUsed;

} // namespace

//! A pool's view of QAyo's queue: runs jobs for a time slice. Auto-deleted by the pool; deleted
//! without having run only when QThreadPool::clear() removed it.
class AsideQueue::Drainer final : public QRunnable
{
public:
    explicit Drainer(AsideQueue *queue) noexcept
        : m_queue(queue)
    {
    }
    ~Drainer() override
    {
        syncHandOver(); // pairs with startDrainer(): the pool's hand-over is not instrumented
        if (!m_ran)
            m_queue->drainerDropped();
    }
    void run() override
    {
        syncHandOver();
        m_ran = true;
        m_queue->drain();
    }

private:
    AsideQueue *m_queue;
    bool m_ran = false;
};

AsideQueue *AsideQueue::of(QThreadPool *pool)
{
    Registry &r = registry();
    const std::uint64_t generation = r.generation.load(std::memory_order_acquire);
    if (lastUsed.pool == pool && lastUsed.generation == generation)
        return lastUsed.queue;
    AsideQueue *queue = nullptr;
    bool made = false;
    {
        std::lock_guard lock(r.mutex);
        AsideQueue *&slot = r.queues[pool];
        if (!slot) {
            slot = new AsideQueue(pool);
            made = true;
        }
        queue = slot;
    }
    if (made) {
        // ~QThreadPool has waited for every runnable, drainers included, before QObject's
        // destructor emits this: no drainer uses the queue any more.
        QObject::connect(pool, &QObject::destroyed, [pool] { forget(pool); });
    }
    lastUsed = { pool, queue, generation };
    return queue;
}

void AsideQueue::forget(QThreadPool *pool) noexcept
{
    Registry &r = registry();
    AsideQueue *queue = nullptr;
    {
        std::lock_guard lock(r.mutex);
        auto it = r.queues.find(pool);
        if (it == r.queues.end())
            return;
        queue = it->second;
        r.queues.erase(it);
        r.generation.fetch_add(1, std::memory_order_release);
    }
    delete queue;
}

AsideQueue::AsideQueue(QThreadPool *pool)
    : m_pool(pool)
    , m_maxDrainers(std::max(1, pool->maxThreadCount()))
{
}

AsideQueue::~AsideQueue()
{
    // Only jobs pushed while the pool was being destroyed can be left: they never run.
    dropAllQueued(0);
}

void AsideQueue::push(AsideCore *job) noexcept
{
    bool start = false;
    {
        std::lock_guard lock(m_mutex);
        job->m_queue = this;
        job->m_stage = AsideCore::Stage::Queued;
        job->m_queuePrev = m_last;
        job->m_queueNext = nullptr;
        (m_last ? m_last->m_queueNext : m_first) = job;
        m_last = job;
        if (m_drainers < m_maxDrainers) {
            ++m_drainers;
            start = true;
        }
    }
    // Outside the lock: the pool takes its own mutex, and QThreadPool::clear() may delete a
    // drainer (which takes ours) while holding it.
    if (start)
        startDrainer();
}

bool AsideQueue::tryTake(AsideCore *job) noexcept
{
    std::lock_guard lock(m_mutex);
    if (job->m_stage != AsideCore::Stage::Queued)
        return false;
    unlinkLocked(job);
    job->m_stage = AsideCore::Stage::Dropped;
    return true;
}

void AsideQueue::startDrainer() noexcept
{
    auto *drainer = new Drainer(this);
    syncHandOver(); // the drainer's fields, written here, are read on a pool thread
    m_pool->start(drainer);
}

void AsideQueue::drain() noexcept
{
    using Clock = std::chrono::steady_clock;
    const int maxThreads = m_pool->maxThreadCount();
    Clock::time_point lastCheck = Clock::now();
    const Clock::time_point sliceEnd = lastCheck + timeSlice;
    // The clock is read after every job, except in runs of tiny jobs: reading it costs about as
    // much as such a job, so then it is read every 2nd, 4th, ... 32nd job. One slow job puts the
    // check back after every job; a slice overruns by at most 31 jobs of that kind.
    int checkEvery = 1;
    int sinceCheck = 0;
    std::unique_lock lock(m_mutex);
    m_maxDrainers = std::max(1, maxThreads);
    for (;;) {
        AsideCore *job = takeFirstLocked();
        if (!job) {
            --m_drainers;
            return;
        }
        job->m_stage = AsideCore::Stage::Taken;
        lock.unlock();
        job->runOnWorker(); // the job may be gone once this returns (its hand-back is on its way)
        if (++sinceCheck >= checkEvery) {
            const Clock::time_point now = Clock::now();
            if (now >= sliceEnd) {
                lock.lock();
                if (!m_first) {
                    --m_drainers;
                    return;
                }
                lock.unlock();
                // Give the thread back: the pool runs what others queued meanwhile, then our
                // successor. It inherits this drainer's count, so waitForDone() keeps waiting.
                startDrainer();
                return;
            }
            constexpr auto tinyJob = std::chrono::microseconds(1);
            checkEvery = now - lastCheck < sinceCheck * tinyJob ? std::min(checkEvery * 2, 32) : 1;
            lastCheck = now;
            sinceCheck = 0;
        }
        lock.lock();
    }
}

void AsideQueue::drainerDropped() noexcept
{
    qCDebug(lcCancel) << "a thread pool dropped QAyo's drainer (QThreadPool::clear()):"
                      << "its queued aside jobs end as cancelled";
    dropAllQueued(1);
}

void AsideQueue::dropAllQueued(int drainersGone) noexcept
{
    AsideCore *job = nullptr;
    {
        std::lock_guard lock(m_mutex);
        m_drainers -= drainersGone;
        job = std::exchange(m_first, nullptr);
        m_last = nullptr;
        for (AsideCore *each = job; each; each = each->m_queueNext)
            each->m_stage = AsideCore::Stage::Dropped;
    }
    while (job) {
        AsideCore *next = job->m_queueNext; // read before the hand-back: the job may go then
        job->m_queuePrev = job->m_queueNext = nullptr;
        job->handBack(std::make_exception_ptr(Cancelled {}));
        job = next;
    }
}

AsideCore *AsideQueue::takeFirstLocked() noexcept
{
    AsideCore *job = m_first;
    if (job)
        unlinkLocked(job);
    return job;
}

void AsideQueue::unlinkLocked(AsideCore *job) noexcept
{
    (job->m_queuePrev ? job->m_queuePrev->m_queueNext : m_first) = job->m_queueNext;
    (job->m_queueNext ? job->m_queueNext->m_queuePrev : m_last) = job->m_queuePrev;
    job->m_queuePrev = job->m_queueNext = nullptr;
}

} // namespace QAyo::detail
