// SPDX-License-Identifier: MIT
#pragma once

// The per-thread machinery: the ready queue (drained in batches by one posted event) and the
// deadline heap (one timer, armed by the thread's Clock for the earliest deadline).

#include <QAyo/clock.h>
#include <QAyo/detail/scheduling.h>

#include <QEvent>
#include <QObject>
#include <QThread>
#include <QTimer>

#include <cstdint>
#include <vector>

namespace QAyo::detail {

//! The default clock: std::chrono::steady_clock and one Qt::PreciseTimer.
class RealClock final : public QObject, public Clock
{
public:
    RealClock();
    TimePoint now() const override { return std::chrono::steady_clock::now(); }

protected:
    void wakeUpAt(TimePoint due) override;

private:
    QTimer m_timer;
    TimePoint m_armedFor = TimePoint::max();
};

class ThreadContext;
//! The calling thread's context, or null before its first use (see ThreadContext::current()).
extern thread_local ThreadContext *tlsCurrentContext __attribute__((tls_model("initial-exec")));

class ThreadContext final : public QObject
{
public:
    //! The calling thread's context, created on first use and destroyed when the thread ends.
    static ThreadContext *current()
    {
        ThreadContext *context = tlsCurrentContext;
        return Q_LIKELY(context) ? context : createCurrent();
    }
    //! The calling thread's context if it has one (never creates it).
    static ThreadContext *currentIfAny() noexcept { return tlsCurrentContext; }
    //! True while this context runs ready work (so the thread's event loop delivers events).
    bool isDraining() const noexcept { return m_draining; }

    ThreadContext();
    ~ThreadContext() override;
    //! Unique for the life of the process (an address may be reused by a later thread's context).
    std::uint64_t id() const noexcept { return m_id; }
    //! The short form of id() that task and schedule records keep (TaskRecord::homeContext): its
    //! low 32 bits, never 0 or ~0 (records use those as marks). Unique among live contexts unless
    //! one lives while four billion others are created.
    std::uint32_t homeId() const noexcept { return std::uint32_t(m_id); }
    //! True while the context is being destroyed (its thread ends): what is posted to its ready
    //! queue now never runs, so a hand-over to this thread must take the "thread has ended" path.
    bool isDying() const noexcept { return m_dying; }

    // --- ready queue ---
    void post(ReadyNode *node) noexcept;
    bool event(QEvent *event) override;

    // --- deadlines ---
    void arm(DeadlineEntry *entry, TimePoint due) noexcept;
    void remove(DeadlineEntry *entry) noexcept;
    void processDue() noexcept;
    TimePoint earliest() noexcept
    {
        restoreHeap();
        return m_heap.empty() ? TimePoint::max() : m_heap.front()->due;
    }
    //! Many deadlines may be removed until the matching endDeadlineBatch() (a scope being
    //! cancelled or destroyed): past a share of the heap, removals leave it unordered and it is
    //! rebuilt once at the end, O(n), instead of a sift-down through the heap per removal.
    void beginDeadlineBatch() noexcept { ++m_batchDepth; }
    void endDeadlineBatch() noexcept;
    int pendingDeadlines() const noexcept { return int(m_heap.size()); }
    Clock *clock() const noexcept { return m_clock; }
    void install(Clock *clock);
    //! True if nothing waits in the ready queue, nor in a batch a nested event loop interrupted
    //! (the virtual clock's autojump asks).
    bool isReadyQueueEmpty() const noexcept { return m_ready.next == &m_ready && m_batch.next == &m_batch; }

    //! Starts the timer that gives back idle task memory (see detail/taskmemory.h).
    void armTaskMemoryRelease() noexcept;

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    static ThreadContext *createCurrent();
    void drain();

public:
    void runBatch();

private:
    //! Rebuilds the heap order if batched removals left it unordered.
    void restoreHeap() noexcept
    {
        if (Q_UNLIKELY(m_heapUnordered))
            rebuildHeap();
    }
    void rebuildHeap() noexcept;
    void siftUp(std::size_t index) noexcept;
    void siftDown(std::size_t index) noexcept;
    void place(std::size_t index, DeadlineEntry *entry) noexcept
    {
        m_heap[index] = entry;
        entry->heapIndex = index;
    }
    static bool before(const DeadlineEntry *a, const DeadlineEntry *b) noexcept
    {
        return a->due < b->due || (a->due == b->due && a->sequence < b->sequence);
    }
    void wakeClock() noexcept;

    ReadyNode m_ready{nullptr}; // sentinel of the circular ready list
    ReadyNode m_batch{nullptr}; // sentinel of the batch being run (see runBatch())
    bool m_eventPosted = false;
    const std::uint64_t m_id;
    bool m_drainedOnce = false; // the thread runs the ready queue from its event loop
    bool m_draining = false;    // inside drain()
    bool m_dying = false;       // in the destructor (see isDying())
    int m_taskMemoryTimer = 0;  // gives back idle task memory (see detail/taskmemory.h)
    std::vector<DeadlineEntry *> m_heap;
    int m_batchDepth = 0;           // inside beginDeadlineBatch() / endDeadlineBatch()
    std::size_t m_batchRemovals = 0; // deadlines removed in the current batch
    bool m_heapUnordered = false;   // batched removals skipped the sift (see restoreHeap())
    std::uint64_t m_nextSequence = 0;
    RealClock m_realClock;
    Clock *m_clock = &m_realClock;
};

//! The homeId() of the calling thread's context, or 0 if it has none yet (never creates one): a
//! home id of 0 ("not known yet") never matches.
inline std::uint32_t threadHomeIdIfAny() noexcept
{
    const ThreadContext *context = tlsCurrentContext;
    return context ? context->homeId() : 0;
}
} // namespace QAyo::detail
