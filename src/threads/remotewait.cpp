// SPDX-License-Identifier: MIT
// Awaiting a Handle whose task lives on another thread.
//
// A record's waiter list belongs to the record's thread (B), and a woken coroutine must resume
// on the thread it suspended on (A). So a wait from A goes through a small shared state, the
// RemoteWait, and two posted events:
//
//   A: startRemoteWait()  -- RegistrationEvent to the scope (B) -->  B: joins the waiter list
//   B: recordCompleted()  -- CompletionEvent to A's port        -->  A: waiter->recordCompleted()
//
// A cancelled or destroyed awaiter only detaches the state (on A); whatever is in flight then
// finds no waiter and does nothing. If A ends with the awaiter still suspended (its scope left
// alive on the ended thread), A's port goes with A's QAyo context: the completion is then
// dropped, with a warning, instead of being posted to a destroyed object (PortState). The state stays in the record's list until the record ends
// (removing it early would need another hop to a thread whose scope may be gone by then).
//
// The registration runs in the event's destructor: Qt deletes a posted event on the receiver's
// thread after delivering it, and also when it drops it because the receiver (the scope) was
// destroyed first. In both cases the registration happens on B, where the record is either
// finished or still running as an orphan: it is waited for all the same.
//
// Why events of our own and not QMetaObject::invokeMethod with a lambda: Qt synchronises the
// threads, but Qt is not built with ThreadSanitizer here, so it cannot see that. Each event
// publishes what it carries with a release store at the end of its constructor, and every reader
// acquires it first. With invokeMethod, Qt's functor object would be written after any release
// we could make, and TSan would report its use on the other thread.
#include <QAyo/handle.h>
#include <QAyo/signal.h>

#include "../core/logging_p.h"
#include "../core/scope_p.h"
#include "../core/threadcontext_p.h"

#include <QCoreApplication>
#include <QEvent>
#include <QThread>

#include <atomic>
#include <mutex>

namespace QAyo::detail {

namespace {
QEvent::Type handOverEventType()
{
    static const auto type = static_cast<QEvent::Type>(QEvent::registerEventType());
    return type;
}

//! Where the completions of one thread's remote waits go: its port while the thread's QAyo
//! context lives, null afterwards. Shared by the waits, which may outlive the port.
struct PortState
{
    std::mutex mutex;
    QObject *port = nullptr; // under mutex
};

std::shared_ptr<PortState> localPort();
} // namespace

class RemoteWait final : public CompletionWaiter
{
public:
    RemoteWait(TaskRecord *record, CompletionWaiter *awaiter, QThread *home)
        : m_record(record)
        , m_home(home)
        , m_port(localPort())
        , m_awaiter(awaiter)
    {
        m_record->ref();
    }
    ~RemoteWait() { m_record->deref(); }

    QThread *home() const noexcept { return m_home; }

    //! On B: joins the record's waiter list, or completes at once if the record has ended.
    void registerOnHome(const std::shared_ptr<RemoteWait> &self) noexcept
    {
        if (m_detached.load(std::memory_order_acquire))
            return; // the awaiter gave up already: nothing to wait for
        if (m_record->isDone()) {
            deliver(self);
            return;
        }
        m_self = self;
        m_record->addWaiter(this);
    }

    //! On B, from TaskRecord::settle(): the record ended.
    void recordCompleted() noexcept override { deliver(std::exchange(m_self, {})); }

    //! Sends the completion to A unless the awaiter detached; \a self keeps the state alive.
    void deliver(std::shared_ptr<RemoteWait> self) noexcept;

    //! On A, when the completion arrives.
    void complete() noexcept
    {
        if (CompletionWaiter *awaiter = std::exchange(m_awaiter, nullptr))
            awaiter->recordCompleted();
    }

    //! A's port is gone (A has ended) before the completion reached it: says so, unless the
    //! awaiter had given up anyway.
    void warnCannotResume() const
    {
        if (m_detached.load(std::memory_order_acquire))
            return;
        qCWarning(lcScope).noquote() << "task" << m_record->displayName()
                                     << "ended, but the task awaiting it cannot resume: its thread has ended"
                                     << "(a scope was left alive on that thread)";
    }

    //! On A: no completion will reach the awaiter any more.
    void detach() noexcept
    {
        m_awaiter = nullptr;
        m_detached.store(true, std::memory_order_release);
    }

private:
    TaskRecord *const m_record;
    QThread *const m_home; // the scope's thread when the wait started
    const std::shared_ptr<PortState> m_port; // on A: where the completion goes
    CompletionWaiter *m_awaiter; // A only
    std::shared_ptr<RemoteWait> m_self; // B only: alive while in the record's waiter list
    std::atomic<bool> m_detached { false };
};

namespace {

//! An event carrying a RemoteWait to another thread (see the file comment for the atomics).
class HandOverEvent : public QEvent
{
public:
    explicit HandOverEvent(std::shared_ptr<RemoteWait> wait)
        : QEvent(handOverEventType())
        , m_wait(std::move(wait))
    {
        m_published.store(true, std::memory_order_release);
    }
    ~HandOverEvent() override { received(); } // before the members go

protected:
    //! The receiving side's first step: everything the sender wrote is visible from here.
    RemoteWait &received() noexcept
    {
        static_cast<void>(m_published.load(std::memory_order_acquire));
        return *m_wait;
    }
    const std::shared_ptr<RemoteWait> &wait() const noexcept { return m_wait; }

private:
    std::shared_ptr<RemoteWait> m_wait;
    std::atomic<bool> m_published { false };
};

//! Posted to the scope: registers the wait when Qt deletes it on the scope's thread, delivered
//! or dropped.
class RegistrationEvent final : public HandOverEvent
{
public:
    // syncHandOver() in the constructor body (after the final vptr is written) and first in the
    // destructor (before ~HandOverEvent rewrites the vptr on the other thread): a mutex pair
    // ThreadSanitizer sees, since Qt's event queue is not instrumented.
    explicit RegistrationEvent(std::shared_ptr<RemoteWait> wait) : HandOverEvent(std::move(wait))
    {
        syncHandOver();
    }
    ~RegistrationEvent() override
    {
        syncHandOver();
        RemoteWait &wait = received();
        if (QThread::currentThread() == wait.home())
            wait.registerOnHome(this->wait());
        else // torn down elsewhere (the program is exiting): wake the awaiter rather than hang it
            wait.deliver(this->wait());
    }
};

//! Posted to the awaiting thread's port: wakes the awaiter (if still attached).
class CompletionEvent final : public HandOverEvent
{
public:
    explicit CompletionEvent(std::shared_ptr<RemoteWait> wait) : HandOverEvent(std::move(wait))
    {
        syncHandOver(); // see RegistrationEvent
    }
    ~CompletionEvent() override
    {
        syncHandOver();
        if (!m_delivered) // dropped with the port: A ended after the completion was posted
            received().warnCannotResume();
    }
    void deliver() noexcept
    {
        m_delivered = true;
        received().complete();
    }

private:
    bool m_delivered = false; // A only
};

//! Receives the completions of the thread's remote waits. A child of the thread's QAyo context:
//! it lives as long as the thread's coroutines can, and events still queued when the thread
//! ends are dropped unrun.
class RemoteWaitPort final : public QObject
{
public:
    RemoteWaitPort(QObject *context, std::shared_ptr<PortState> state)
        : QObject(context)
        , m_state(std::move(state))
    {
        m_state->port = this; // before any wait can see the state
    }
    ~RemoteWaitPort() override
    {
        // No completion is posted here from now on (RemoteWait::deliver() checks under the
        // mutex); those posted already are dropped with this object.
        std::lock_guard lock(m_state->mutex);
        m_state->port = nullptr;
    }
    bool event(QEvent *event) override
    {
        if (event->type() != handOverEventType())
            return QObject::event(event);
        static_cast<CompletionEvent *>(event)->deliver();
        return true;
    }

private:
    const std::shared_ptr<PortState> m_state;
};

std::shared_ptr<PortState> localPort()
{
    thread_local std::weak_ptr<PortState> current;
    std::shared_ptr<PortState> state = current.lock();
    if (state) {
        std::lock_guard lock(state->mutex);
        if (state->port)
            return state;
    }
    // First remote wait of this thread, or of a new QAyo context of it.
    state = std::make_shared<PortState>();
    new RemoteWaitPort(threadContextObject(), state); // a child of the context: dies with it
    current = state;
    return state;
}

} // namespace

void RemoteWait::deliver(std::shared_ptr<RemoteWait> self) noexcept
{
    if (m_detached.load(std::memory_order_acquire))
        return;
    {
        std::lock_guard lock(m_port->mutex);
        if (m_port->port) {
            QCoreApplication::postEvent(m_port->port, new CompletionEvent(std::move(self)));
            return;
        }
    }
    warnCannotResume();
}

std::shared_ptr<RemoteWait> startRemoteWait(TaskRecord *record, CompletionWaiter *waiter)
{
    // A record without a scope is orphaned and ends on the thread it runs on, which is the
    // caller's in every supported use (its scope was destroyed on that thread).
    // homeScope, not record->scope: it is atomic and set before a spawn from another thread
    // travels to the scope, so "spawn from A into B, await on A" works too.
    Scope *target = record->homeScope.load(std::memory_order_acquire);
    if (!target || target->thread() == QThread::currentThread())
        return {};
    auto wait = std::make_shared<RemoteWait>(record, waiter, target->thread());
    QCoreApplication::postEvent(target, new RegistrationEvent(wait));
    return wait;
}

void detachRemoteWait(RemoteWait *wait) noexcept
{
    wait->detach();
}

} // namespace QAyo::detail
