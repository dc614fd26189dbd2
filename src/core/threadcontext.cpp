// SPDX-License-Identifier: MIT
// A thread's QAyo context: created on the thread's first use, destroyed as the thread ends (its
// mail disposed of by the mailbox's rule); it owns the ready queue (readyqueue.cpp), the
// deadline heap (deadlines.cpp) and the clock in use (clock.cpp).
#include "threadcontext_p.h"
#include "mailbox_p.h"
#include "logging_p.h"

#include <QAyo/detail/taskmemory.h>

#include <QCoreApplication>

#include <memory>

namespace QAyo::detail {

namespace {
// Owns the thread's context: destroys it when the thread ends. Reading it would go through the
// thread_local's init guard (a __tls_get_addr call); ThreadContext::current() reads the plain
// pointer tlsCurrentContext instead.
thread_local std::unique_ptr<ThreadContext> tlsContext;
} // namespace

// initial-exec: one pointer of static TLS, read on every post.
thread_local ThreadContext *tlsCurrentContext __attribute__((tls_model("initial-exec"))) = nullptr;

ThreadContext *ThreadContext::createCurrent()
{
    tlsContext = std::make_unique<ThreadContext>();
    ThreadContext *context = tlsContext.get();
    tlsCurrentContext = context;
    // The main thread's context goes with the application object rather than at static
    // destruction time, when Qt's own globals may be gone already.
    if (QCoreApplication::instance() && QCoreApplication::instance()->thread() == context->thread())
        qAddPostRoutine([] { tlsContext.reset(); });
    return context;
}

namespace {
std::atomic<std::uint64_t> lastContextId{0};
} // namespace

namespace {
//! A new context id whose homeId() is neither 0 nor ~0 (the marks of TaskRecord::homeContext).
std::uint64_t newContextId() noexcept
{
    for (;;) {
        const std::uint64_t id = ++lastContextId;
        const auto home = std::uint32_t(id);
        if (home != 0 && home != ~std::uint32_t(0))
            return id;
    }
}
} // namespace

ThreadContext::ThreadContext() : m_id(newContextId())
{
    openMailbox(homeId(), this);
    m_ready.prev = m_ready.next = &m_ready;
    m_batch.prev = m_batch.next = &m_batch;
}

ThreadContext::~ThreadContext()
{
    // Destroyed on its own thread (thread exit or post routine). Mail still on its way here can
    // never be delivered: the mailbox disposes of it now (the one rule for a thread that has
    // ended, see mailbox_p.h), while this is still the thread's context, but dying (isDying()):
    // what the disposers post to this ready queue is dropped below.
    m_dying = true;
    if (m_drainedOnce)
        allowDeferredTaskMemoryRelease(nullptr); // no loop will run the release timer any more
    closeMailbox(homeId(), this);
    tlsCurrentContext = nullptr;
    // Whatever still waits here (frames leaked on purpose, e.g. orphaned by a dying program) must
    // not keep pointers into this object.
    while (m_ready.next != &m_ready)
        m_ready.next->unlink();
    while (m_batch.next != &m_batch)
        m_batch.next->unlink();
    for (DeadlineEntry *entry : m_heap)
        entry->heapIndex = DeadlineEntry::NotQueued;
    m_heap.clear();
}

void ThreadContext::armTaskMemoryRelease() noexcept
{
    if (!m_taskMemoryTimer)
        m_taskMemoryTimer = startTimer(std::chrono::seconds(1), Qt::CoarseTimer);
}

void ThreadContext::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_taskMemoryTimer)
        return QObject::timerEvent(event);
    if (!releaseIdleTaskMemory()) {
        killTimer(std::exchange(m_taskMemoryTimer, 0));
    }
}

} // namespace QAyo::detail
