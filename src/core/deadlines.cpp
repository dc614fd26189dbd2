// SPDX-License-Identifier: MIT
// The deadline heap of a thread: every sleep, scope timeout and schedule in one binary heap,
// one clock wake-up armed for the earliest (Clock::wakeUpAt()).
#include "threadcontext_p.h"

namespace QAyo::detail {

void ThreadContext::arm(DeadlineEntry *entry, TimePoint due) noexcept
{
    restoreHeap();
    entry->due = due;
    entry->sequence = m_nextSequence++;
    if (entry->isQueued()) {
        siftUp(entry->heapIndex);
        siftDown(entry->heapIndex);
    } else {
        m_heap.push_back(entry);
        entry->heapIndex = m_heap.size() - 1;
        siftUp(entry->heapIndex);
    }
    if (m_heap.front() == entry)
        wakeClock();
}

void ThreadContext::remove(DeadlineEntry *entry) noexcept
{
    const std::size_t index = entry->heapIndex;
    entry->heapIndex = DeadlineEntry::NotQueued;
    DeadlineEntry *last = m_heap.back();
    m_heap.pop_back();
    if (last != entry) {
        place(index, last);
        // In a batch that removed a fair share of the heap already (cancelling every sleeper
        // of a scope removes them root first, each a full sift-down), the order is restored
        // once at the end of the batch instead.
        if (m_batchDepth > 0 && (m_heapUnordered || ++m_batchRemovals * 8 > m_heap.size())) {
            m_heapUnordered = true;
        } else {
            restoreHeap();
            siftUp(index);
            siftDown(last->heapIndex);
        }
    }
    // The clock is not re-armed: if it fires for a removed deadline it finds nothing due and
    // arms for the next one. Re-arming on every cancel would cost a timer restart each. Only an
    // empty heap stops it: no timer stays armed for nothing (it would also slow Qt's own timers).
    if (m_heap.empty()) {
        m_heapUnordered = false;
        wakeClock();
    }
}

void ThreadContext::endDeadlineBatch() noexcept
{
    if (--m_batchDepth > 0)
        return;
    m_batchRemovals = 0;
    if (m_heapUnordered) {
        rebuildHeap();
        wakeClock(); // the earliest deadline may have changed
    }
}

void ThreadContext::rebuildHeap() noexcept
{
    m_heapUnordered = false;
    for (std::size_t index = m_heap.size() / 2; index-- > 0;)
        siftDown(index);
}

void ThreadContext::processDue() noexcept
{
    const TimePoint now = m_clock->now();
    while (!m_heap.empty() && (restoreHeap(), m_heap.front()->due <= now)) {
        DeadlineEntry *entry = m_heap.front();
        remove(entry);
        entry->fire(entry);
    }
    wakeClock();
}

void ThreadContext::wakeClock() noexcept
{
    m_clock->wakeUpAt(earliest());
}

void ThreadContext::install(Clock *clock)
{
    m_clock = clock ? clock : &m_realClock;
    wakeClock();
}

void ThreadContext::siftUp(std::size_t index) noexcept
{
    DeadlineEntry *entry = m_heap[index];
    while (index > 0) {
        const std::size_t parent = (index - 1) / 2;
        if (!before(entry, m_heap[parent]))
            break;
        place(index, m_heap[parent]);
        index = parent;
    }
    place(index, entry);
}

void ThreadContext::siftDown(std::size_t index) noexcept
{
    const std::size_t size = m_heap.size();
    DeadlineEntry *entry = m_heap[index];
    for (;;) {
        std::size_t child = 2 * index + 1;
        if (child >= size)
            break;
        if (child + 1 < size && before(m_heap[child + 1], m_heap[child]))
            ++child;
        if (!before(m_heap[child], entry))
            break;
        place(index, m_heap[child]);
        index = child;
    }
    place(index, entry);
}

void DeadlineEntry::arm(TimePoint due) noexcept
{
    ThreadContext::current()->arm(this, due);
}

void DeadlineEntry::cancel() noexcept
{
    if (isQueued())
        ThreadContext::current()->remove(this);
}

} // namespace QAyo::detail
