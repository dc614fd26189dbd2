// SPDX-License-Identifier: MIT
#include "threadcontext_p.h"
#include "mailbox_p.h"
#include "logging_p.h"

#include <QAyo/detail/taskmemory.h>

#include <QCoreApplication>

#include <algorithm>
#include <memory>
#include <mutex>

namespace QAyo::detail {

namespace {
// One event type for every thread's "drain the ready queue" event.
const QEvent::Type DrainEvent = static_cast<QEvent::Type>(QEvent::registerEventType());

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

// --- ready queue -------------------------------------------------------------------------------

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

// --- deadline heap -----------------------------------------------------------------------------

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

// --- real clock --------------------------------------------------------------------------------

RealClock::RealClock()
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    QObject::connect(&m_timer, &QTimer::timeout, this, [this] {
        m_armedFor = TimePoint::max();
        processDueDeadlines();
    });
}

void RealClock::wakeUpAt(TimePoint due)
{
    if (due == TimePoint::max()) {
        if (m_timer.isActive())
            m_timer.stop();
        m_armedFor = TimePoint::max();
        return;
    }
    if (m_timer.isActive() && m_armedFor <= due)
        return; // an earlier (or equal) wake-up is armed already
    // QTimer takes an int of milliseconds (24.8 days at most): a farther deadline wakes the clock
    // after a day, finds nothing due and re-arms for what is left.
    constexpr std::chrono::milliseconds longestWait = std::chrono::hours(24);
    const TimePoint current = now();
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(due - current);
    const auto armed = std::clamp(wait, std::chrono::milliseconds(0), longestWait);
    m_armedFor = armed == wait ? due : current + armed;
    m_timer.start(armed);
}

} // namespace QAyo::detail

// --- public entry points -----------------------------------------------------------------------

namespace QAyo {

Clock::~Clock() = default;

std::chrono::system_clock::time_point Clock::systemNow() const
{
    return std::chrono::system_clock::now();
}

Clock *Clock::current()
{
    return detail::ThreadContext::current()->clock();
}

void Clock::install(Clock *clock)
{
    detail::ThreadContext::current()->install(clock);
}

Clock::TimePoint Clock::nextDeadline()
{
    return detail::ThreadContext::current()->earliest();
}

int Clock::pendingDeadlines()
{
    return detail::ThreadContext::current()->pendingDeadlines();
}

void Clock::processDueDeadlines()
{
    detail::ThreadContext::current()->processDue();
}

namespace detail {

void postReady(ReadyNode *node) noexcept
{
    ThreadContext::current()->post(node);
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

void SleepAwaiter::await_suspend(std::coroutine_handle<> h) noexcept
{
    m_waiting = h;
    if (m_duration <= Clock::Duration::zero()) {
        wake();
        return;
    }
    ThreadContext *context = ThreadContext::current();
    context->arm(this, context->clock()->now() + m_duration);
}

void SleepAwaiter::cancelRequested() noexcept
{
    if (DeadlineEntry::isQueued()) {
        DeadlineEntry::cancel();
        wake();
    }
}

void SleepAwaiter::fired(DeadlineEntry *entry) noexcept
{
    static_cast<SleepAwaiter *>(entry)->wake();
}

} // namespace detail
} // namespace QAyo

namespace QAyo::detail {

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
