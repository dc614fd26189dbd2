// SPDX-License-Identifier: MIT
// Awaiting a Handle whose task lives on another thread.
//
// A record's waiter list belongs to the record's thread (B), and a woken coroutine must resume
// on the thread it suspended on (A). So a wait from A goes through a small shared state, the
// RemoteWait, and two letters of the mailbox (src/core/mailbox_p.h):
//
//   A: startRemoteWait()  -- registration, to the record's scope  -->  B: joins the waiter list
//   B: recordCompleted()  -- completion, to A's thread context    -->  A: waiter->recordCompleted()
//
// A cancelled or destroyed awaiter only detaches the state (on A); whatever is in flight then
// finds no waiter and does nothing. The mailbox's rule for an ended thread decides the rest:
// - the registration is addressed to the scope (the record may still be on its way to it, so
//   its thread's context is not known yet). If the scope is destroyed first, it takes the letter
//   back on B and the wait registers there all the same: the record ends with the scope. If B
//   has ended, the awaiter is woken rather than left hanging (the handle says the task has not
//   finished).
// - the completion is addressed to A's context. If A has ended (its scope was left alive on the
//   ended thread), nothing can resume there: the completion is dropped with a warning.
// The state stays in the record's list until the record ends (removing it early would need
// another hop to a thread whose scope may be gone by then).
#include <QAyo/handle.h>

#include "../core/logging_p.h"
#include "../core/mailbox_p.h"
#include "../core/scope_p.h"
#include "../core/threadcontext_p.h"

#include <QThread>

#include <atomic>
#include <memory>

namespace QAyo::detail {

class RemoteWait final : public CompletionWaiter
{
public:
    RemoteWait(TaskRecord *record, CompletionWaiter *awaiter, std::uint32_t awaiterHome)
        : m_record(record), m_awaiterHome(awaiterHome), m_awaiter(awaiter)
    {
        m_record->ref();
    }
    ~RemoteWait() { m_record->deref(); }

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

    //! A has ended before the completion reached it: says so, unless the awaiter had given up.
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
    const std::uint32_t m_awaiterHome;  // A's thread context (homeId())
    CompletionWaiter *m_awaiter;        // A only
    std::shared_ptr<RemoteWait> m_self; // B only: alive while in the record's waiter list
    std::atomic<bool> m_detached{false};
};

namespace {

//! A letter carrying a RemoteWait one way (the mailbox's mutex is the hand-over).
struct WaitLetter : ReadyNode
{
    WaitLetter(std::shared_ptr<RemoteWait> wait, RunFunction run) noexcept : ReadyNode(run), wait(std::move(wait)) {}
    std::shared_ptr<RemoteWait> wait;
};

//! The registration: to the record's scope, counted there so that the scope takes it back if it
//! dies first (ScopePrivate::countWaitLetter()).
struct RegistrationLetter final : WaitLetter
{
    RegistrationLetter(std::shared_ptr<RemoteWait> wait, Scope *scope) noexcept
        : WaitLetter(std::move(wait), &RegistrationLetter::arrived), scope(scope), scopeThread(scope->thread())
    {
    }
    //! On B (or taken back there by the dying scope, or by B's own end): join the waiter list.
    static void arrived(ReadyNode *node) noexcept { open(node)->registerOnHome(); }
    //! Not delivered: taken back on B (the dying scope, or B ending): register there all the same,
    //! the record ends with them. B ended before the letter left: wake the awaiter rather than
    //! leave it hanging.
    static void orphaned(ReadyNode *node) noexcept
    {
        const bool onB = QThread::currentThread() == static_cast<RegistrationLetter *>(node)->scopeThread;
        std::unique_ptr<RegistrationLetter> letter = open(node);
        if (onB)
            letter->registerOnHome();
        else
            letter->wait->deliver(letter->wait);
    }
    static std::unique_ptr<RegistrationLetter> open(ReadyNode *node) noexcept
    {
        std::unique_ptr<RegistrationLetter> letter(static_cast<RegistrationLetter *>(node));
        if (letter->scope)
            ScopePrivate::countWaitLetter(letter->scope, -1);
        return letter;
    }
    void registerOnHome() noexcept { wait->registerOnHome(wait); }

    Scope *scope; // null once the letter is no longer counted by the scope
    QThread *const scopeThread;
};

//! The completion: to A's thread context.
struct CompletionLetter final : WaitLetter
{
    explicit CompletionLetter(std::shared_ptr<RemoteWait> wait) noexcept
        : WaitLetter(std::move(wait), &CompletionLetter::arrived)
    {
    }
    static void arrived(ReadyNode *node) noexcept
    {
        std::unique_ptr<CompletionLetter>(static_cast<CompletionLetter *>(node))->wait->complete();
    }
    //! A has ended: nothing can resume there.
    static void orphaned(ReadyNode *node) noexcept
    {
        std::unique_ptr<CompletionLetter>(static_cast<CompletionLetter *>(node))->wait->warnCannotResume();
    }
};

} // namespace

void RemoteWait::deliver(std::shared_ptr<RemoteWait> self) noexcept
{
    if (m_detached.load(std::memory_order_acquire))
        return;
    auto *letter = new CompletionLetter(std::move(self));
    if (!post(MailAddress::context(m_awaiterHome), letter, &CompletionLetter::orphaned))
        CompletionLetter::orphaned(letter);
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
    auto wait = std::make_shared<RemoteWait>(record, waiter, ThreadContext::current()->homeId());
    auto *letter = new RegistrationLetter(wait, target);
    ScopePrivate::countWaitLetter(target, +1); // ~Scope takes it back if it dies first
    if (!post(MailAddress::object(target), letter, &RegistrationLetter::orphaned))
        RegistrationLetter::orphaned(letter); // B has ended
    return wait;
}

void detachRemoteWait(RemoteWait *wait) noexcept
{
    wait->detach();
}

} // namespace QAyo::detail
