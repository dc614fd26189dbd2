// SPDX-License-Identifier: MIT
// Cancellation: the walk over a scope tree (or a task's) that marks it cancelled, withdraws
// unstarted work and wakes suspended tasks; the CancelWalk that runs what the walk collected
// (callables' destructors, frames, signals) once it is over; timeouts; destroying a scope's
// tasks; and a task's own cancel (Handle::cancel()), from any thread.
#include <QAyo/scope.h>

#include "cancelwalk_p.h"
#include "limiter_p.h"
#include "logging_p.h"
#include "mailbox_p.h"
#include "scope_p.h"
#include "threadcontext_p.h"

#include <QPointer>

namespace QAyo {

namespace detail {

namespace {
//! Deadline removals in one go (see ThreadContext::beginDeadlineBatch()).
struct DeadlineBatch
{
    DeadlineBatch() noexcept : context(ThreadContext::current()) { context->beginDeadlineBatch(); }
    ~DeadlineBatch() { context->endDeadlineBatch(); }
    Q_DISABLE_COPY_MOVE(DeadlineBatch)
    ThreadContext *context;
};
} // namespace

void ScopePrivate::dropUnstartedWork() noexcept
{
    if (m_cancelled || m_finished || m_dying)
        return;
    for (TaskRecord *r = firstTask; r; r = r->nextInScope) {
        if (!r->isUnstarted()) // unstarted: markTreeCancelled withdraws it
            dropUnstartedWork(r);
    }
    for (ScopePrivate *child = firstChild; child; child = child->nextSibling)
        child->dropUnstartedWork();
}

void ScopePrivate::dropUnstartedWork(TaskRecord *record) noexcept
{
    if (record->shieldDepth > 0)
        return; // not cancelled now (QAyo::shield)
    if (record->hook)
        record->hook->dropIfUnstarted();
    for (ScopePrivate *child = record->firstChildScope; child; child = child->nextSibling)
        child->dropUnstartedWork();
}

void ScopePrivate::markCancelled(CancelWalk &walk) noexcept
{
    // First take back the work that waits for a thread in the whole tree, then stop what runs:
    // a stopped job frees its pool thread at once, which would otherwise start queued work of
    // this tree before the walk reached it.
    dropUnstartedWork();
    markTreeCancelled(walk);
}

void ScopePrivate::markTreeCancelled(CancelWalk &walk) noexcept
{
    if (m_cancelled || m_finished || m_dying)
        return;
    const DeadlineBatch batch; // every sleeper below wakes: their deadlines go at once
    m_cancelled = true;
    m_timeout.cancel();
    walk.notifyCancelled(q);
    qCDebug(lcCancel) << "cancelling scope" << scopeLabel(this);

    // Unstarted work is dropped: it never starts. Its callable is destroyed after the walk (its
    // captures' destructors may cancel or free the records this loop visits next).
    for (TaskRecord *r = firstTask; r;) {
        TaskRecord *next = r->nextInScope;
        if (r->isUnstarted()) {
            r->cancelRequested = true;
            if (!r->neverDrop) {
                withdraw(r);
                r->markDone(TaskRecord::Outcome::Cancelled);
                walk.releaseLater(r);
            }
        } else {
            markRecordTreeCancelled(r, walk);
        }
        r = next;
    }
    Q_ASSERT(m_waitingForSlot.isEmpty());
    deactivateAllSchedules(walk);
    for (ScopePrivate *child = firstChild; child; child = child->nextSibling)
        child->markTreeCancelled(walk);
}

void ScopePrivate::markRecordCancelled(TaskRecord *record, CancelWalk &walk) noexcept
{
    dropUnstartedWork(record); // as markCancelled(): queued work below first
    markRecordTreeCancelled(record, walk);
}

void ScopePrivate::markRecordTreeCancelled(TaskRecord *record, CancelWalk &walk) noexcept
{
    record->cancelRequested = true;
    if (record->shieldDepth > 0)
        return; // delivered when the shield ends (QAyo::shield)
    for (ScopePrivate *child = record->firstChildScope; child; child = child->nextSibling)
        child->markTreeCancelled(walk);
    if (record->hook)
        record->hook->cancelRequested(); // idempotent, runs no user code: wakes the task at most once
}

// --- CancelWalk (cancelwalk_p.h) -------------------------------------------------------------

namespace {
void appendToChain(TaskRecord *&first, TaskRecord *&last, TaskRecord *record) noexcept
{
    record->nextInScope = nullptr;
    (last ? last->nextInScope : first) = record;
    last = record;
}

TaskRecord *takeFromChain(TaskRecord *&first, TaskRecord *&last) noexcept
{
    TaskRecord *record = first;
    if (record) {
        first = std::exchange(record->nextInScope, nullptr);
        if (!first)
            last = nullptr;
    }
    return record;
}
} // namespace

void CancelWalk::releaseLater(TaskRecord *record) noexcept
{
    appendToChain(m_firstRelease, m_lastRelease, record);
}

void CancelWalk::destroyFrameLater(TaskRecord *record) noexcept
{
    appendToChain(m_firstFrame, m_lastFrame, record);
}

void CancelWalk::derefLater(ScheduleRecord *schedule) noexcept
{
    schedule->nextInScope = std::exchange(m_firstSchedule, schedule);
}

void CancelWalk::notifyCancelled(Scope *scope)
{
    m_notify.append(QPointer<Scope>(scope));
}

void CancelWalk::releaseWork() noexcept
{
    // Each step may run user code that cancels more: that is a walk of its own, with its own
    // collector; nothing is added to this one meanwhile, but each entry is taken off before it
    // runs all the same.
    if (m_firstFrame) {
        const DeadlineBatch batch; // the destroyed sleepers take their deadlines with them
        while (TaskRecord *r = takeFromChain(m_firstFrame, m_lastFrame)) {
            // Suspended on one of QAyo's own awaiters: destroying the frame runs the destructors
            // of its locals, and each awaiter unhooks itself from the ready queue, the deadline
            // heap or whatever it waited on. Nothing will ever resume it.
            std::exchange(r->frame, {}).destroy();
            r->settle(TaskRecord::Outcome::Cancelled);
            r->deref(); // the reference its scope left behind
        }
    }
    while (TaskRecord *r = takeFromChain(m_firstRelease, m_lastRelease)) {
        r->releaseWork();
        r->deref(); // its scope's reference
    }
    while (ScheduleRecord *schedule = m_firstSchedule) {
        m_firstSchedule = std::exchange(schedule->nextInScope, nullptr);
        schedule->deref(); // its scope's reference
    }
}

void CancelWalk::run() noexcept
{
    releaseWork();
    const QVarLengthArray<QPointer<Scope>, 4> notify = std::exchange(m_notify, {});
    for (const QPointer<Scope> &scope : notify)
        ScopePrivate::emitAfterWalk(scope, true);
}

void ScopePrivate::emitAfterWalk(const QPointer<Scope> &scope, bool cancelled)
{
    // Every slot may delete the scope: the QPointer is checked before each emission.
    if (scope && cancelled)
        Q_EMIT scope->cancelling();
    if (scope && cancelled)
        Q_EMIT scope->cancelledChanged();
    if (scope && (cancelled || scope->d->wants(PendingChangedSignal)))
        Q_EMIT scope->pendingChanged();
    if (scope && scope->d->liveCount() == 0 && scope->d->wants(ActiveChangedSignal))
        Q_EMIT scope->activeChanged(); // dropped queued work may have emptied it
    if (scope)
        scope->d->checkJoin();
}

void ScopePrivate::TimeoutEntry::fired(DeadlineEntry *entry) noexcept
{
    static_cast<TimeoutEntry *>(entry)->d->timeoutFired();
}

void ScopePrivate::timeoutFired()
{
    if (m_finished || m_cancelled)
        return;
    if (liveCount() == 0) {
        // All work ended before the deadline: no timeout. The deadline still bounds the scope:
        // work spawned from now on makes it time out at once (see enqueue()).
        m_deadlinePassed = true;
        return;
    }
    expireTimeout();
}

void ScopePrivate::expireTimeout()
{
    qCDebug(lcCancel) << "scope" << scopeLabel(this) << "timed out";
    m_timedOut = true;
    CancelWalk walk;
    markCancelled(walk);
    walk.releaseWork();
    QPointer<Scope> self(q);
    Q_EMIT q->timedOut();
    if (self)
        Q_EMIT q->timedOutChanged();
    walk.run(); // the cancel signals
}

void ScopePrivate::destroyTasks(CancelWalk &walk) noexcept
{
    const DeadlineBatch batch; // woken sleepers take their deadlines with them
    // Work waiting for a pool thread goes first: stopping a running job below frees a thread
    // that would otherwise start it (see dropUnstartedWork()).
    for (TaskRecord *r = firstTask; r; r = r->nextInScope) {
        if (!r->isUnstarted())
            dropUnstartedWork(r);
    }
    // No user code runs in this loop: callables and frames die after it (\a walk).
    while (TaskRecord *r = firstTask) {
        r->cancelRequested = true;
        if (r->isUnstarted()) {
            withdraw(r);
            r->markDone(TaskRecord::Outcome::Cancelled);
            walk.releaseLater(r);
            continue;
        }
        unlinkRecord(this, r);
        r->scope = nullptr;
        r->homeScope.store(nullptr, std::memory_order_release);
        if (r->hook && !r->suspendedForeign) {
            r->hook = nullptr;
            walk.destroyFrameLater(r); // its awaiters unhook themselves when the frame dies
        } else {
            // Running right now (the scope is being destroyed from inside its own task) or
            // suspended on a foreign awaitable that will resume it: the frame cannot be
            // destroyed under its feet. It is orphaned: cancelled, detached from this scope,
            // and it frees itself when it completes (its next checkpoint throws Cancelled).
            qCDebug(lcCancel) << "orphaning" << r->displayName() << "of destroyed scope" << scopeLabel(this);
            if (r->hook)
                r->hook->cancelRequested(); // e.g. QAyo::cancellable's onCancel: posted, runs later
        }
    }
    Q_ASSERT(m_waitingForSlot.isEmpty());
    m_pending = m_running = m_inFlight = 0;
    deactivateAllSchedules(walk);
}

void ScopePrivate::CancelLetter::run(ReadyNode *node) noexcept
{
    auto *letter = static_cast<CancelLetter *>(node);
    letter->task->requestCancel();
    letter->task->deref();
    delete letter;
}

void ScopePrivate::CancelLetter::discard(ReadyNode *node) noexcept
{
    auto *letter = static_cast<CancelLetter *>(node);
    letter->task->deref();
    delete letter;
}

// TaskRecord::requestCancel lives here: it needs the scope internals.
bool TaskRecord::isOnHomeThread() const noexcept
{
    const std::uint32_t home = homeContext.load(std::memory_order_relaxed);
    return home != 0 && home == threadHomeIdIfAny();
}

namespace {
//! requestCancel() from another thread than the task's: the cancel runs on the task's thread.
Q_DECL_COLD_FUNCTION void mailCancel(TaskRecord *record) noexcept
{
    std::uint32_t home = 0;
    // Still on its way to its scope (spawned from another thread): SpawnLetter::arrived() finds
    // the mark and drops it, in the same atomic variable, so neither side can miss the other.
    if (record->homeContext.compare_exchange_strong(home, TaskRecord::CancelledInFlight, std::memory_order_acq_rel))
        return;
    if (home == TaskRecord::CancelledInFlight)
        return; // cancelled on its way already
    record->ref(); // the letter's
    auto *letter = new ScopePrivate::CancelLetter(record);
    if (!post(MailAddress::context(home), letter, &ScopePrivate::CancelLetter::discard)) {
        // Its thread has ended: the task ended with it (or was left behind, cancelled, with a
        // scope destroyed there): nothing can run it any more.
        qCDebug(lcCancel) << "cancel of" << record->displayName() << "from another thread: its thread has ended";
        ScopePrivate::CancelLetter::discard(letter);
    }
}
} // namespace

void TaskRecord::requestCancel() noexcept
{
    const Stage current = stage.load(std::memory_order_relaxed);
    if (current == Stage::Done)
        return;
    if (Q_UNLIKELY(!isOnHomeThread())) {
        mailCancel(this);
        return;
    }
    if (current < Stage::Running) {
        if (scope && current != Stage::InTransit)
            scope->dropQueued(this);
        return;
    }
    CancelWalk walk;
    ScopePrivate::markRecordCancelled(this, walk);
}

} // namespace detail

} // namespace QAyo
