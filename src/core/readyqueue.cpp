// SPDX-License-Identifier: MIT
// The ready queue of a thread: tasks to start and woken tasks to resume, drained in batches by
// one posted event; a nested event loop goes on with the batch it interrupted (runBatch()).
#include "threadcontext_p.h"

#include <QAyo/detail/taskmemory.h>

#include <QCoreApplication>

#include <chrono>
#include <utility>

namespace QAyo::detail {

namespace {
// One event type for every thread's "drain the ready queue" event.
const QEvent::Type DrainEvent = static_cast<QEvent::Type>(QEvent::registerEventType());
} // namespace

void ThreadContext::post(ReadyNode *node) noexcept
{
    if (node->isQueued())
        return;
    node->prev = m_ready.prev;
    node->next = &m_ready;
    m_ready.prev->next = node;
    m_ready.prev = node;
    if (!m_eventPosted) {
        m_eventPosted = true;
        QCoreApplication::postEvent(this, new QEvent(DrainEvent));
    }
}

bool ThreadContext::event(QEvent *event)
{
    if (event->type() != DrainEvent)
        return QObject::event(event);
    drain();
    return true;
}

void ThreadContext::drain()
{
    m_eventPosted = false;
    const bool nested = std::exchange(m_draining, true);
    if (Q_UNLIKELY(!m_drainedOnce)) {
        // This loop will also run the timer that gives back a burst's task memory.
        m_drainedOnce = true;
        allowDeferredTaskMemoryRelease([] { ThreadContext::current()->armTaskMemoryRelease(); });
    }
    // Batches: each takes the whole queue; work posted while a batch runs goes to the next one.
    // Further batches run in the same event only within a small time budget; past it, the next
    // batch waits for the next event, so a task that keeps hopping cannot starve timers, input
    // or painting, while short bursts do not pay an event round trip per hop.
    constexpr auto budget = std::chrono::microseconds(500);
    const auto start = std::chrono::steady_clock::now();
    while (!isReadyQueueEmpty()) {
        runBatch();
        if (std::chrono::steady_clock::now() - start > budget)
            break;
    }
    m_draining = nested;
    if (!isReadyQueueEmpty() && !m_eventPosted) {
        m_eventPosted = true;
        QCoreApplication::postEvent(this, new QEvent(DrainEvent));
    }
}

void ThreadContext::runBatch()
{
    // The batch is a member, not a local: a nested event loop started by one of its nodes (a
    // modal dialog in a slot, QAyo::waitFor in a task) drains again, and that drain goes on with
    // the rest of this batch, in order, instead of leaving it frozen until the loop closes.
    if (m_batch.next == &m_batch) {
        if (m_ready.next == &m_ready)
            return;
        m_batch.next = m_ready.next;
        m_batch.prev = m_ready.prev;
        m_batch.next->prev = &m_batch;
        m_batch.prev->next = &m_batch;
        m_ready.next = m_ready.prev = &m_ready;
    }
    while (m_batch.next != &m_batch) {
        ReadyNode *node = m_batch.next;
        node->unlink();
        // A nested loop only drains if a drain event is pending: keep one posted while the batch
        // has more to run (one per drain at most; the outer drain finds it empty-handed later).
        if (!m_eventPosted && m_batch.next != &m_batch) {
            m_eventPosted = true;
            QCoreApplication::postEvent(this, new QEvent(DrainEvent));
        }
        node->run(node); // may post, unlink or destroy other nodes of the batch: fine
    }
}

void postReady(ReadyNode *node) noexcept
{
    ThreadContext::current()->post(node);
}

QAYO_CORE_EXPORT bool readyQueueIsEmpty() noexcept;
QAYO_CORE_EXPORT void runReadyQueue() noexcept;

//! For QAyo::Test::VirtualClock: is there work the thread could run right now?
bool readyQueueIsEmpty() noexcept
{
    return ThreadContext::current()->isReadyQueueEmpty();
}

//! For QAyo::Test::VirtualClock: runs ready work until none is left (bounded, in case a task
//! keeps hopping forever).
void runReadyQueue() noexcept
{
    ThreadContext *context = ThreadContext::current();
    for (int rounds = 0; rounds < 100000 && !context->isReadyQueueEmpty(); ++rounds)
        context->runBatch();
}

} // namespace QAyo::detail
