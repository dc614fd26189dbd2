// SPDX-License-Identifier: MIT
// Spawn -> queue -> start: how a record reaches its scope (on this thread, or as a letter from
// another one), waits for a maxConcurrency slot and a limiter slot, is posted to the ready queue
// and starts; ScopePrivate::withdraw() takes an unstarted record back out of whatever queue its
// stage names (record.h has the table).
#include <QAyo/scope.h>

#include "cancelwalk_p.h"
#include "diagnostics_p.h"
#include "errors_p.h"
#include "limiter_p.h"
#include "logging_p.h"
#include "mailbox_p.h"
#include "scope_p.h"
#include "threadcontext_p.h"

#include <QPointer>

#include <typeinfo>

namespace QAyo {

namespace detail {

void ScopePrivate::ensureStarted()
{
    if (m_started)
        return;
    m_started = true;
    // Read again now: a scope made in a base class's constructor saw the owner as that base.
    if (m_owner && m_owner == q->parent())
        m_ownerClass = &typeid(*m_owner);
    if (options.timeout && !m_cancelled && !m_finished)
        m_timeout.arm(Clock::current()->now() + *options.timeout);
}

void ScopePrivate::prepareEnqueue(TaskRecord *record, Scope::SpawnKind kind)
{
    // What may fail (an allocation) comes before the record is linked: a spawn that throws here
    // leaves the scope as it was.
    const bool dropped = m_cancelled && kind != Scope::SpawnKind::Eager;
    if (kind == Scope::SpawnKind::Normal && limiterState && !record->limiterTicket && !dropped)
        record->limiterTicket = makeRecordTicket(limiterState); // the scope's limiter (refused if destroyed)
}

void ScopePrivate::enqueue(TaskRecord *record, Scope::SpawnKind kind) noexcept
{
    record->scope = this;
    record->sequence = m_nextSequence++;
    record->exempt = kind == Scope::SpawnKind::Body;
    record->counted = kind == Scope::SpawnKind::Normal;
    record->neverDrop = kind == Scope::SpawnKind::Eager;
    linkRecord(this, record);
    ++m_pending;

    if (Q_UNLIKELY(m_cancelled && !record->neverDrop)) {
        dropSpawnIntoCancelled(record);
        return;
    }
    const int limit = options.maxConcurrency;
    if (!record->counted || limit == 0 || m_inFlight < limit) {
        if (record->counted)
            ++m_inFlight;
        admit(record);
    } else {
        record->stage.store(TaskRecord::Stage::WaitingForSlot, std::memory_order_relaxed);
        m_waitingForSlot.push(record);
    }
}

void ScopePrivate::dropSpawnIntoCancelled(TaskRecord *record) noexcept
{
    // Level-triggered cancellation: work spawned into a cancelled scope never starts.
    qCDebug(lcCancel) << "scope" << scopeLabel(this) << "is cancelled: dropping" << record->displayName();
    unlinkRecord(this, record);
    --m_pending;
    record->cancelRequested = true;
    record->settle(TaskRecord::Outcome::Cancelled);
    record->deref();
    checkJoin(); // a spawn from another thread may have been all the join waited for
}

void ScopePrivate::admit(TaskRecord *record) noexcept
{
    // A spawn drawing from a limiter waits for its slot first; the slot's arrival starts it (on
    // a later turn: never inside requestRecordSlot()).
    if (record->limiterTicket) {
        record->stage.store(TaskRecord::Stage::WaitingForLimiter, std::memory_order_relaxed);
        if (!requestRecordSlot(record->limiterTicket, record))
            return;
    }
    record->stage.store(TaskRecord::Stage::Ready, std::memory_order_relaxed);
    postReady(record);
}

bool ScopePrivate::waitsForLimiter(const TaskRecord *record) noexcept
{
    return record->limiterTicket && isTicketWaiting(record->limiterTicket);
}

void ScopePrivate::runStart(TaskRecord *record) noexcept
{
    ScopePrivate *d = record->scope; // queued records always have a live scope
    // The limiter it waited for was destroyed instead of granting the slot: it fails unstarted.
    std::exception_ptr refused;
    if (record->limiterTicket && Q_UNLIKELY(isTicketRefused(record->limiterTicket))) {
        refused = ticketRefusal(record->limiterTicket,
                                QStringLiteral("task '%1' of scope %2").arg(record->displayName(), scopeLabel(d)));
    }
    --d->m_pending;
    ++d->m_running;
    record->stage.store(TaskRecord::Stage::Running, std::memory_order_relaxed);
    if (Q_UNLIKELY(d->wants(HotSignal(TaskStartedSignal | PendingChangedSignal | RunningChangedSignal)))) {
        startWithSignals(record, std::move(refused));
        return;
    }
    if (Q_UNLIKELY(refused)) {
        record->complete(std::move(refused));
        return;
    }
    // No slot can run before the first step: the scope's reference keeps the record alive
    // until start() returns or throws (a first step that completes the task happens inside
    // startFrame(), after which neither start() nor this function touches the record).
    try {
        record->start();
    } catch (...) {
        record->complete(std::current_exception());
    }
}

void ScopePrivate::startWithSignals(TaskRecord *record, std::exception_ptr refused) noexcept
{
    ScopePrivate *d = record->scope;
    record->ref(); // keeps the record alive across the signals and the first step
    {
        Guard guard(d);
        if (d->wants(TaskStartedSignal))
            Q_EMIT d->q->taskStarted();
        if (!guard.destroyed && d->wants(PendingChangedSignal))
            Q_EMIT d->q->pendingChanged();
        if (!guard.destroyed && d->wants(RunningChangedSignal))
            Q_EMIT d->q->runningChanged();
    }
    if (!record->scope) {
        // A slot destroyed the scope before the task ran a single line: it never runs.
        record->settle(TaskRecord::Outcome::Cancelled);
        record->deref(); // the reference the scope left behind
    } else if (refused) {
        record->complete(std::move(refused));
    } else {
        try {
            record->start();
        } catch (...) {
            record->complete(std::current_exception());
        }
    }
    record->deref();
}

namespace {
//! How many records ahead of the one it admits pumpQueue() fetches into the cache.
constexpr std::size_t PrefetchDistance = 16;

//! Starts loading the record \a r into the cache (its first four lines: the base record and a
//! small callable). A record that waited behind many others was written long ago and is in
//! DRAM by now; the queue's order says which ones are needed next. A prefetch never faults.
inline void prefetchRecord(const TaskRecord *r) noexcept
{
    const char *bytes = reinterpret_cast<const char *>(r);
    __builtin_prefetch(bytes);
    __builtin_prefetch(bytes + 64);
    __builtin_prefetch(bytes + 128);
    __builtin_prefetch(bytes + 192);
}
} // namespace

void ScopePrivate::pumpQueue() noexcept
{
    const int limit = options.maxConcurrency;
    while (!m_waitingForSlot.isEmpty() && (limit == 0 || m_inFlight < limit)) {
        TaskRecord *next = m_waitingForSlot.pop();
        if (TaskRecord *later = m_waitingForSlot.peek(PrefetchDistance))
            prefetchRecord(later);
        ++m_inFlight;
        admit(next);
    }
}

void ScopePrivate::withdraw(TaskRecord *record) noexcept
{
    // The one rule for every unstarted stage (the table in record.h): out of the queue the stage
    // names, out of the in-flight count if the stage holds a place in it, out of the task list.
    switch (record->stage.load(std::memory_order_relaxed)) {
    case TaskRecord::Stage::Ready:
        record->ReadyNode::unlink();
        if (record->counted)
            --m_inFlight;
        break;
    case TaskRecord::Stage::WaitingForLimiter:
        if (record->counted)
            --m_inFlight;
        // Withdraws the request (a grant on its way gives the slot back when it arrives).
        releaseTicket(std::exchange(record->limiterTicket, nullptr));
        break;
    case TaskRecord::Stage::WaitingForSlot:
        m_waitingForSlot.withdraw(record);
        break;
    case TaskRecord::Stage::InTransit:
    case TaskRecord::Stage::Running:
    case TaskRecord::Stage::Done:
        Q_ASSERT_X(false, "ScopePrivate::withdraw", "the record is not waiting in a queue of its scope");
        return;
    }
    unlinkRecord(this, record);
    --m_pending;
}

void ScopePrivate::dropQueued(TaskRecord *record) noexcept
{
    record->cancelRequested = true;
    if (record->neverDrop)
        return; // running already elsewhere: the scope still waits for it
    withdraw(record);
    record->markDone(TaskRecord::Outcome::Cancelled);
    pumpQueue();
    // The counts are right again: now the callable's destructor may run (it may cancel more, or
    // delete the scope), then the signals. Without receivers, no QPointer is needed: this is
    // the path of every queued task cancelled on its own.
    if (Q_LIKELY(!wants(HotSignal(PendingChangedSignal | ActiveChangedSignal)))) {
        checkJoin(); // posts the finish step at most: no user code
        record->releaseWork();
        record->deref(); // the scope's reference
        return;
    }
    const QPointer<Scope> self(q);
    record->releaseWork();
    record->deref();
    emitAfterWalk(self, false);
}

void ScopePrivate::SpawnLetter::arrived(ReadyNode *node) noexcept
{
    auto *letter = static_cast<SpawnLetter *>(node);
    Scope *scope = letter->scope; // alive: ~Scope takes back the letters still addressed to it
    TaskRecord *record = letter->record;
    const Scope::SpawnKind kind = letter->kind;
    delete letter;
    ScopePrivate *d = scope->d.get();
    d->m_incoming.fetch_sub(1, std::memory_order_relaxed);
    // From here on a cancel from another thread is mailed to this thread; one that came while
    // the record travelled left its mark instead (see TaskRecord::requestCancel()).
    const std::uint32_t cancelledOnTheWay = record->homeContext.exchange(ThreadContext::current()->homeId(),
                                                                         std::memory_order_acq_rel);
    if (cancelledOnTheWay == TaskRecord::CancelledInFlight || d->m_dying || d->m_finished) {
        if (cancelledOnTheWay == TaskRecord::CancelledInFlight)
            qCDebug(lcCancel) << record->displayName() << "was cancelled on its way to scope" << scopeLabel(d);
        record->cancelRequested = true;
        record->settle(TaskRecord::Outcome::Cancelled);
        record->deref();
        d->checkJoin();
        return;
    }
    QPointer<Scope> alive(scope);
    try {
        scope->spawnRecord(record, kind);
    } catch (...) {
        // The spawn failed here (an allocation, a slot that threw): there is no caller to throw
        // to any more, so the error goes to the scope's join. The record is not touched: either
        // the scope took it (it runs on as usual) or spawnRecord() settled it as cancelled and
        // dropped the scope's reference (it may be gone).
        if (alive) {
            try {
                d->recordError(std::current_exception());
            } catch (...) {
                qCWarning(lcScope) << "scope" << scopeLabel(d) << "lost a spawn's error: out of memory";
            }
            d->checkJoin();
        }
    }
}

void ScopePrivate::SpawnLetter::discard(ReadyNode *node) noexcept
{
    // The scope is being destroyed, or its thread has ended: the scope is not touched.
    auto *letter = static_cast<SpawnLetter *>(node);
    letter->record->settle(TaskRecord::Outcome::Cancelled);
    letter->record->deref();
    delete letter;
}

} // namespace detail

void Scope::checkCanSpawn(const char *operation, bool drawsFromScopeLimiter) const
{
    if (d->m_dying)
        throw ScopeClosedError(QStringLiteral("%1: scope %2 is being destroyed")
                                   .arg(QLatin1String(operation), d->labelFromAnyThread()));
    if (d->m_finished)
        throw ScopeClosedError(QStringLiteral("%1: scope %2 has finished (it was joined)")
                                   .arg(QLatin1String(operation), d->labelFromAnyThread()));
    // From another thread into a scope left alive on a thread that has ended: the work would
    // wait forever, since nothing runs there any more (docs/threads.md).
    if (Q_UNLIKELY(!d->isOnScopeThread()) && thread()->isFinished())
        throw ScopeClosedError(QStringLiteral("%1: the thread of scope %2 has ended; nothing can run there any more "
                                              "(destroy a worker's scopes before its thread ends)")
                                   .arg(QLatin1String(operation), d->labelFromAnyThread()));
    if (drawsFromScopeLimiter && d->limiterState) {
        if (const auto limiter = detail::destroyedLimiterLabel(d->limiterState.get())) {
            throw InvalidStateError(QStringLiteral("%1: the %2 of scope %3 was destroyed; the scope can start no "
                                                   "more tasks that draw from it")
                                        .arg(QLatin1String(operation), *limiter, d->labelFromAnyThread()));
        }
    }
}

void Scope::discardUnspawned(detail::TaskRecord *record) noexcept
{
    // Never linked, never started: it ends as cancelled (its callable and limiter ticket are
    // released, the unfinished-task count goes back) and the scope's reference goes.
    record->settle(detail::TaskRecord::Outcome::Cancelled);
    record->deref();
}

void Scope::spawnRecord(detail::TaskRecord *record, SpawnKind kind)
{
    // Published first: a handle awaited on another thread finds the task's home through it, even
    // while the task is still on its way there.
    record->homeScope.store(this, std::memory_order_release);
    if (Q_UNLIKELY(!d->isOnScopeThread())) {
        try {
            detail::ScopePrivate::postSpawn(this, record, kind);
        } catch (...) {
            discardUnspawned(record);
            throw;
        }
        return;
    }
    // Its home thread from now on (a cancel from elsewhere is mailed here). Relaxed: whoever gets
    // the record's handle on another thread gets it through a hand-over made after this.
    record->homeContext.store(detail::ThreadContext::current()->homeId(), std::memory_order_relaxed);
    try {
        d->prepareEnqueue(record, kind);
    } catch (...) {
        discardUnspawned(record);
        throw;
    }
    if (Q_UNLIKELY(d->m_deadlinePassed && !d->m_cancelled && !d->m_finished)) {
        if (!d->expireBeforeSpawn(record))
            return;
    }
    // Diagnostic: no event loop on this thread. Spawned by ready work, the loop is running.
    if (detail::ThreadContext *context = detail::ThreadContext::currentIfAny(); !context || !context->isDraining())
        detail::checkSpawnThread(d.get());
    const bool wasActive = d->liveCount() > 0;
    const bool firstStart = !d->m_started;
    d->ensureStarted();
    d->enqueue(record, kind);
    // Active before (so still active) and nobody listens: nothing to emit.
    if (Q_LIKELY(wasActive && !firstStart && !d->wants(detail::ScopePrivate::PendingChangedSignal)))
        return;

    detail::ScopePrivate::Guard guard(d.get());
    if (firstStart)
        Q_EMIT started();
    if (!guard.destroyed && d->wants(detail::ScopePrivate::PendingChangedSignal))
        Q_EMIT pendingChanged();
    if (!guard.destroyed && wasActive != (d->liveCount() > 0))
        Q_EMIT activeChanged();
}

void detail::ScopePrivate::postSpawn(Scope *scope, TaskRecord *record, Scope::SpawnKind kind)
{
    // Spawning from another thread: the record travels to the scope's thread as mail (a mutex
    // hand-over ThreadSanitizer can follow). It counts as live work from now on, so a join waits
    // for it. If the scope dies first, ~Scope takes the mail back and settles the record as
    // cancelled, so no handle waits forever. Addressed to the scope, not to its thread's
    // context: the scope may have been moved to a thread that has none yet.
    auto *letter = new SpawnLetter;
    letter->scope = scope;
    letter->record = record;
    letter->kind = kind;
    scope->d->m_incoming.fetch_add(1, std::memory_order_relaxed);
    if (!post(MailAddress::object(scope), letter, &SpawnLetter::discard)) {
        // Its thread ended after checkCanSpawn() looked.
        scope->d->m_incoming.fetch_sub(1, std::memory_order_relaxed);
        SpawnLetter::discard(letter);
    }
}

bool detail::ScopePrivate::expireBeforeSpawn(TaskRecord *record)
{
    // The deadline passed while the scope was idle: new work makes it time out now.
    QPointer<Scope> self(q);
    expireTimeout();
    if (!self) {
        record->settle(TaskRecord::Outcome::Cancelled);
        record->deref();
        return false;
    }
    return true;
}

} // namespace QAyo
