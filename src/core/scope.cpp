// SPDX-License-Identifier: MIT
#include <QAyo/clock.h>
#include <QAyo/limiter.h>
#include <QAyo/scope.h>

#include "diagnostics_p.h"
#include "errors_p.h"
#include "limiter_p.h"
#include "logging_p.h"
#include "nesting_p.h"
#include "scope_p.h"
#include "threadcontext_p.h"

#include <QMetaObject>
#include <QMutex>
#include <QThread>
#include <QVarLengthArray>

#include <algorithm>
#include <bit>
#include <memory>

namespace QAyo {

namespace {

void validate(const ScopeOptions &options)
{
    if (options.maxConcurrency < 0)
        throw InvalidArgument(QStringLiteral("maxConcurrency must be >= 0 (0 = unlimited), got %1")
                                  .arg(options.maxConcurrency));
    if (options.timeout && options.timeout->count() < 0)
        throw InvalidArgument(QStringLiteral("timeout must not be negative, got %1 ms")
                                  .arg(options.timeout->count()));
}

QString scopeLabel(const detail::ScopePrivate *d)
{
    return d->options.name.isEmpty() ? QStringLiteral("(unnamed)") : d->options.name;
}

} // namespace

namespace detail {

QString ScopePrivate::labelFromAnyThread() const
{
    QMutexLocker lock(&nameMutex);
    return scopeLabel(this);
}

// ================================================================================================
// Tree
// ================================================================================================

ScopePrivate::ScopePrivate(Scope *q, const ScopeOptions &options)
    : q(q), options(options), limiterState(limiterStateOf(options.limiter)), threadId(QThread::currentThreadId())
{
    m_timeout.d = this;
    m_finishNode.d = this;
}

void ScopePrivate::attachTo(ScopePrivate **listHead) noexcept
{
    ownerList = listHead;
    prevSibling = nullptr;
    nextSibling = *listHead;
    if (nextSibling)
        nextSibling->prevSibling = this;
    *listHead = this;
}

void ScopePrivate::detach() noexcept
{
    if (!ownerList)
        return;
    if (prevSibling)
        prevSibling->nextSibling = nextSibling;
    else
        *ownerList = nextSibling;
    if (nextSibling)
        nextSibling->prevSibling = prevSibling;
    ownerList = nullptr;
    prevSibling = nextSibling = nullptr;
    parentTask = nullptr;
    parentScope = nullptr;
}

// Root scopes (no parent scope, no parent task) hang in one process-wide list, for dumpTree().
// Only root scopes pay for it (a mutex per construction and destruction); the list reuses the
// sibling links, which a root scope does not otherwise use.
namespace {
QBasicMutex rootScopesMutex;
ScopePrivate *firstRootScope = nullptr;

void registerRootScope(ScopePrivate *d) noexcept
{
    QMutexLocker lock(&rootScopesMutex);
    d->attachTo(&firstRootScope);
}

void unregisterRootScope(ScopePrivate *d) noexcept
{
    QMutexLocker lock(&rootScopesMutex);
    d->detach();
}
} // namespace

void ScopePrivate::nestInQObjectParent(Scope *scope)
{
    ScopePrivate *d = scope->d.get();
    auto *parent = qobject_cast<Scope *>(scope->parent());
    if (!parent || d->ownerList != &firstRootScope)
        return; // not a Scope's child, or nested already
    ScopePrivate *parentD = parent->d.get();
    if (parentD->m_dying)
        return; // about to delete this scope with its other QObject children
    unregisterRootScope(d);
    d->attachTo(&parentD->firstChild);
    d->parentScope = parentD;
    if (parentD->m_cancelled) {
        // As for a child created in a cancelled scope, or present when the parent was cancelled.
        QList<QPointer<Scope>> notify;
        d->markCancelled(notify);
        emitCancelled(notify);
    }
}

void nestInParentScope(Scope *scope)
{
    ScopePrivate::nestInQObjectParent(scope);
}

QList<ScopePrivate *> rootScopesOfThisThread()
{
    QList<ScopePrivate *> roots;
    QThread *current = QThread::currentThread();
    QMutexLocker lock(&rootScopesMutex);
    for (ScopePrivate *d = firstRootScope; d; d = d->nextSibling) {
        if (d->q->thread() == current)
            roots.prepend(d); // the list is newest first: print oldest first
    }
    return roots;
}

bool ScopePrivate::isWithin(const TaskRecord *record) const noexcept
{
    for (const ScopePrivate *s = this; s;) {
        if (s->parentTask) {
            if (s->parentTask == record)
                return true;
            s = s->parentTask->scope;
        } else {
            s = s->parentScope;
        }
    }
    return false;
}

bool ScopePrivate::waitsFor(const TaskRecord *record) const noexcept
{
    // The scopes whose end waits for the record: its own scope, then the scopes of the tasks
    // that wait for that scope to end (the task a block scope is nested in, the tasks
    // suspended in its join), and so on. A handful of pointers: the chain of a normal program
    // is short. The visited list only guards against a cycle of waits made some other way.
    QVarLengthArray<const TaskRecord *, 8> pending;
    QVarLengthArray<const ScopePrivate *, 8> visited;
    pending.append(record);
    while (!pending.isEmpty()) {
        const TaskRecord *r = pending.last();
        pending.removeLast();
        const ScopePrivate *s = r->scope;
        if (!s)
            continue;
        if (s == this)
            return true;
        if (std::find(visited.cbegin(), visited.cend(), s) != visited.cend())
            continue;
        visited.append(s);
        if (s->parentTask)
            pending.append(s->parentTask);
        for (const JoinAwaiter *joiner : s->m_joiners) {
            if (joiner->m_joiner)
                pending.append(joiner->m_joiner);
        }
    }
    return false;
}

// ================================================================================================
// spawn -> queue -> start -> finish -> join
// ================================================================================================

namespace {
void linkRecord(ScopePrivate *d, TaskRecord *r) noexcept
{
    r->prevInScope = d->lastTask;
    r->nextInScope = nullptr;
    if (d->lastTask)
        d->lastTask->nextInScope = r;
    else
        d->firstTask = r;
    d->lastTask = r;
}

void unlinkRecord(ScopePrivate *d, TaskRecord *r) noexcept
{
    if (r->prevInScope)
        r->prevInScope->nextInScope = r->nextInScope;
    else
        d->firstTask = r->nextInScope;
    if (r->nextInScope)
        r->nextInScope->prevInScope = r->prevInScope;
    else
        d->lastTask = r->prevInScope;
    r->prevInScope = r->nextInScope = nullptr;
}
} // namespace

void ScopePrivate::ensureStarted()
{
    if (m_started)
        return;
    m_started = true;
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
    // A spawn drawing from a limiter waits for its slot first; the slot's arrival posts it.
    if (record->limiterTicket && !requestRecordSlot(record->limiterTicket, record))
        return;
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
    record->state.store(TaskRecord::State::Running, std::memory_order_relaxed);
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

void ScopePrivate::recordError(std::exception_ptr error)
{
    qCDebug(lcScope) << "scope" << scopeLabel(this) << "task failed:" << describeException(error);
    m_errors.append(std::move(error));
}

void ScopePrivate::taskDone(TaskRecord *record) noexcept
{
    unlinkRecord(this, record);
    --m_running;
    if (record->counted)
        --m_inFlight;

    if (Q_UNLIKELY(record->outcome == TaskRecord::Outcome::Failed)) {
        taskFailed(record);
        return;
    }
    if (record->outcome == TaskRecord::Outcome::Succeeded && record->variantResult
        && options.collectResults && !record->exempt) {
        QVariant value = record->resultAsVariant();
        if (value.isValid())
            m_results.emplace_back(record->sequence, std::move(value));
    }
    if (!m_waitingForSlot.isEmpty())
        pumpQueue();
    record->deref(); // the scope's reference

    if (Q_UNLIKELY(wants(HotSignal(TaskFinishedSignal | RunningChangedSignal | ActiveChangedSignal)))) {
        Guard guard(this);
        emitTaskEnded(guard);
        if (guard.destroyed)
            return;
    }
    checkJoin();
}

void ScopePrivate::taskFailed(TaskRecord *record) noexcept
{
    QList<QPointer<Scope>> notify;
    const QString failure = describeException(record->error);
    recordError(record->error);
    if (!options.supervise)
        markCancelled(notify);
    pumpQueue();
    record->deref(); // the scope's reference

    Guard guard(this);
    Q_EMIT q->taskFailed(failure);
    if (guard.destroyed)
        return;
    emitCancelled(notify);
    if (guard.destroyed)
        return;
    emitTaskEnded(guard);
    if (!guard.destroyed)
        checkJoin();
}

void ScopePrivate::emitTaskEnded(const Guard &guard)
{
    if (wants(TaskFinishedSignal))
        Q_EMIT q->taskFinished();
    if (!guard.destroyed && wants(RunningChangedSignal))
        Q_EMIT q->runningChanged();
    if (!guard.destroyed && liveCount() == 0 && wants(ActiveChangedSignal))
        Q_EMIT q->activeChanged();
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

void ScopePrivate::dropQueued(TaskRecord *record) noexcept
{
    record->cancelRequested = true;
    if (record->neverDrop)
        return; // running already elsewhere: the scope still waits for it
    if (record->isQueued()) {
        record->ReadyNode::unlink();
        if (record->counted)
            --m_inFlight;
    } else if (waitsForLimiter(record)) {
        if (record->counted)
            --m_inFlight; // settle() withdraws the slot request
    } else {
        m_waitingForSlot.withdraw(record);
    }
    unlinkRecord(this, record);
    --m_pending;
    record->settle(TaskRecord::Outcome::Cancelled);
    record->deref();
    pumpQueue();
    Guard guard(this);
    if (wants(PendingChangedSignal))
        Q_EMIT q->pendingChanged();
    if (!guard.destroyed && liveCount() == 0 && wants(ActiveChangedSignal))
        Q_EMIT q->activeChanged();
    if (!guard.destroyed)
        checkJoin();
}

void ScopePrivate::checkJoin() noexcept
{
    if (m_joinRequested && !m_finished && liveCount() == 0)
        postReady(&m_finishNode); // finish on a later turn: no user code inside the caller
}

void ScopePrivate::SpawnLetter::arrived(ReadyNode *node) noexcept
{
    auto *letter = static_cast<SpawnLetter *>(node);
    Scope *scope = letter->scope;
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
    scope->spawnRecord(record, kind);
}

void ScopePrivate::SpawnLetter::discard(ReadyNode *node) noexcept
{
    auto *letter = static_cast<SpawnLetter *>(node);
    letter->record->settle(TaskRecord::Outcome::Cancelled);
    letter->record->deref();
    delete letter;
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

void ScopePrivate::FinishNode::run(ReadyNode *node) noexcept
{
    static_cast<FinishNode *>(node)->d->finish();
}

void ScopePrivate::finish()
{
    if (m_finished || liveCount() > 0)
        return; // work was spawned meanwhile: the join waits for it too
    m_finished = true;
    m_timeout.cancel();
    deactivateAllSchedules(); // the ones that did not hold the exit end with the scope

    std::exception_ptr joinError;
    if (!options.supervise && !m_errors.isEmpty()) {
        joinError = m_errors.first();
        m_errorsObserved = true;
    } else if (m_timedOut && options.timeoutThrows) {
        joinError = std::make_exception_ptr(TimeoutError(
            QStringLiteral("scope %1 timed out after %2 ms").arg(scopeLabel(this)).arg(options.timeout->count())));
    }
    for (JoinAwaiter *joiner : std::exchange(m_joiners, {})) {
        joiner->m_registered = false;
        joiner->m_error = joinError;
        joiner->wake();
    }
    qCDebug(lcScope) << "scope" << scopeLabel(this) << "finished";
    Q_EMIT q->finished();
}

// ================================================================================================
// Cancellation
// ================================================================================================

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
        if (r->state.load(std::memory_order_relaxed) != TaskRecord::State::Queued) // queued: markTreeCancelled drops it
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

void ScopePrivate::markCancelled(QList<QPointer<Scope>> &notify) noexcept
{
    // First take back the work that waits for a thread in the whole tree, then stop what runs:
    // a stopped job frees its pool thread at once, which would otherwise start queued work of
    // this tree before the walk reached it.
    dropUnstartedWork();
    markTreeCancelled(notify);
}

void ScopePrivate::markTreeCancelled(QList<QPointer<Scope>> &notify) noexcept
{
    if (m_cancelled || m_finished || m_dying)
        return;
    const DeadlineBatch batch; // every sleeper below wakes: their deadlines go at once
    m_cancelled = true;
    m_timeout.cancel();
    notify.append(QPointer<Scope>(q));
    qCDebug(lcCancel) << "cancelling scope" << scopeLabel(this);

    // Queued work is dropped: it never starts.
    for (TaskRecord *r = firstTask; r;) {
        TaskRecord *next = r->nextInScope;
        if (r->state.load(std::memory_order_relaxed) == TaskRecord::State::Queued) {
            r->cancelRequested = true;
            if (!r->neverDrop) {
                if (r->isQueued()) {
                    r->ReadyNode::unlink();
                    if (r->counted)
                        --m_inFlight;
                } else if (waitsForLimiter(r) && r->counted) {
                    --m_inFlight; // settle() withdraws the slot request
                }
                unlinkRecord(this, r);
                --m_pending;
                r->settle(TaskRecord::Outcome::Cancelled);
                r->deref();
            }
        } else {
            markRecordTreeCancelled(r, notify);
        }
        r = next;
    }
    m_waitingForSlot.clear();
    deactivateAllSchedules();
    for (ScopePrivate *child = firstChild; child; child = child->nextSibling)
        child->markTreeCancelled(notify);
}

void ScopePrivate::markRecordCancelled(TaskRecord *record, QList<QPointer<Scope>> &notify) noexcept
{
    dropUnstartedWork(record); // as markCancelled(): queued work below first
    markRecordTreeCancelled(record, notify);
}

void ScopePrivate::markRecordTreeCancelled(TaskRecord *record, QList<QPointer<Scope>> &notify) noexcept
{
    record->cancelRequested = true;
    if (record->shieldDepth > 0)
        return; // delivered when the shield ends (QAyo::shield)
    for (ScopePrivate *child = record->firstChildScope; child; child = child->nextSibling)
        child->markTreeCancelled(notify);
    if (record->hook)
        record->hook->cancelRequested(); // idempotent: wakes the task at most once
}

void ScopePrivate::emitCancelled(const QList<QPointer<Scope>> &notify)
{
    for (const QPointer<Scope> &scope : notify) {
        if (scope)
            Q_EMIT scope->cancelling();
        if (scope)
            Q_EMIT scope->cancelledChanged();
        if (scope)
            Q_EMIT scope->pendingChanged();
        if (scope && scope->d->liveCount() == 0 && scope->d->wants(ScopePrivate::ActiveChangedSignal))
            Q_EMIT scope->activeChanged(); // dropped queued work may have emptied it
        if (scope)
            scope->d->checkJoin();
    }
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
    QList<QPointer<Scope>> notify;
    markCancelled(notify);
    QPointer<Scope> self(q);
    Q_EMIT q->timedOut();
    if (self)
        Q_EMIT q->timedOutChanged();
    emitCancelled(notify);
}

// ================================================================================================
// Destruction
// ================================================================================================

void ScopePrivate::releaseJoinersOfDestroyedScope() noexcept
{
    for (JoinAwaiter *joiner : std::exchange(m_joiners, {})) {
        joiner->m_registered = false;
        joiner->m_scopeDestroyed = true;
        joiner->m_scope = nullptr;
        joiner->wake();
    }
}

void ScopePrivate::destroyTasks() noexcept
{
    const DeadlineBatch batch; // destroyed sleepers take their deadlines with them
    // Work waiting for a pool thread goes first: stopping a running job below frees a thread
    // that would otherwise start it (see dropUnstartedWork()).
    for (TaskRecord *r = firstTask; r; r = r->nextInScope) {
        if (r->state.load(std::memory_order_relaxed) != TaskRecord::State::Queued)
            dropUnstartedWork(r);
    }
    while (TaskRecord *r = firstTask) {
        unlinkRecord(this, r);
        r->cancelRequested = true;
        if (r->state.load(std::memory_order_relaxed) == TaskRecord::State::Queued) {
            r->ReadyNode::unlink();
            r->settle(TaskRecord::Outcome::Cancelled);
            r->deref();
            continue;
        }
        r->scope = nullptr;
        r->homeScope.store(nullptr, std::memory_order_release);
        if (r->hook && !r->suspendedForeign) {
            // Suspended on one of QAyo's own awaiters: destroying the frame runs the
            // destructors of its locals, and each awaiter unhooks itself from the ready queue,
            // the deadline heap or whatever it waited on. Nothing will ever resume it.
            const std::coroutine_handle<> frame = std::exchange(r->frame, {});
            r->hook = nullptr;
            frame.destroy();
            r->settle(TaskRecord::Outcome::Cancelled);
            r->deref();
        } else {
            // Running right now (the scope is being destroyed from inside its own task) or
            // suspended on a foreign awaitable that will resume it: the frame cannot be
            // destroyed under its feet. It is orphaned: cancelled, detached from this scope,
            // and it frees itself when it completes (its next checkpoint throws Cancelled).
            qCDebug(lcCancel) << "orphaning" << r->displayName() << "of destroyed scope" << scopeLabel(this);
            if (r->hook)
                r->hook->cancelRequested(); // e.g. QAyo::cancellable's onCancel: make it end soon
        }
    }
    m_waitingForSlot.clear();
    m_pending = m_running = m_inFlight = 0;
    deactivateAllSchedules();
}

} // namespace detail

// ================================================================================================
// JoinAwaiter
// ================================================================================================

namespace detail {

JoinAwaiter::JoinAwaiter(ScopePrivate *scope, bool waitThroughCancel) noexcept
    : m_scope(scope), m_waitThroughCancel(waitThroughCancel)
{
}

JoinAwaiter::JoinAwaiter(JoinAwaiter &&other) noexcept
    : WakeableAwaiter(std::move(other)), m_scope(other.m_scope), m_joiner(other.m_joiner),
      m_waitThroughCancel(other.m_waitThroughCancel)
{
    Q_ASSERT(!other.m_registered);
}

JoinAwaiter::~JoinAwaiter()
{
    if (m_registered && m_scope) {
        auto &joiners = m_scope->m_joiners;
        joiners.erase(std::remove(joiners.begin(), joiners.end(), this), joiners.end());
    }
}

void JoinAwaiter::qayoBind(TaskRecord *joiner)
{
    if (!joiner || !m_scope)
        return;
    m_joiner = joiner;
    // Joining a scope nested in the joining task: its tasks are cancelled with the joiner, so
    // waiting for them to unwind is short and keeps the structured guarantee.
    if (m_scope->isWithin(joiner)) {
        m_waitThroughCancel = true;
        return;
    }
    if (Q_UNLIKELY(m_scope->waitsFor(joiner))) {
        throw InvalidStateError(
            QStringLiteral("join: a task of scope '%1' cannot wait for its own scope to end: the scope waits for "
                           "task '%2' (directly or through the scopes it waits for), so the join would never return. "
                           "Join it from outside, e.g. where it was created")
                .arg(scopeLabel(m_scope), joiner->displayName()));
    }
}

bool JoinAwaiter::await_ready()
{
    if (!m_scope) {
        m_scopeDestroyed = true;
        return true;
    }
    if (m_scope->m_finished) {
        if (!m_scope->options.supervise && !m_scope->m_errors.isEmpty())
            m_error = m_scope->m_errors.first();
        return true;
    }
    m_scope->m_joinRequested = true;
    if (!m_scope->m_started) {
        m_scope->ensureStarted();
        ScopePrivate::Guard guard(m_scope);
        Q_EMIT m_scope->q->started();
        if (guard.destroyed) { // a slot destroyed the scope: the join reports it
            m_scopeDestroyed = true;
            m_scope = nullptr;
            return true;
        }
    }
    return false;
}

void JoinAwaiter::await_suspend(std::coroutine_handle<> h) noexcept
{
    m_waiting = h;
    m_registered = true;
    m_scope->m_joiners.push_back(this);
    m_scope->checkJoin();
}

void JoinAwaiter::await_resume()
{
    if (m_scopeDestroyed)
        throw ScopeClosedError(QStringLiteral("join: the scope was destroyed while being joined"));
    if (m_error)
        std::rethrow_exception(m_error);
}

void JoinAwaiter::cancelRequested() noexcept
{
    if (m_waitThroughCancel || !m_registered)
        return;
    auto &joiners = m_scope->m_joiners;
    joiners.erase(std::remove(joiners.begin(), joiners.end(), this), joiners.end());
    m_registered = false;
    wake();
}

void JoinAwaiter::rethrowFailure()
{
    if (m_error)
        std::rethrow_exception(m_error);
}

Task<ScopeOutcome> runBlockScope(ScopeOptions options, std::function<void(Scope &)> body)
{
    TaskRecord *parent = co_await CurrentRecordRequest{};
    Scope scope(options, parent);
    scope.d->ensureStarted();
    try {
        body(scope);
    } catch (...) {
        scope.d->recordError(std::current_exception());
        QList<QPointer<Scope>> notify;
        scope.d->markCancelled(notify);
        ScopePrivate::emitCancelled(notify);
    }
    // Waits through a cancel of the enclosing task (the nested tasks are cancelled with it and
    // unwind first); rethrows the first error, then Cancelled if the enclosing task was cancelled.
    co_await JoinAwaiter(scope.d.get(), true);
    ScopeOutcome outcome;
    outcome.timedOut = scope.isTimedOut();
    outcome.cancelled = scope.isCancelled();
    outcome.results = scope.results();
    outcome.errors = scope.errors();
    co_return outcome;
}

} // namespace detail

// ================================================================================================
// Scope
// ================================================================================================

Scope::Scope(QObject *parent) : Scope(ScopeOptions{}, parent) {}

Scope::Scope(const ScopeOptions &options, QObject *parent) : QObject(parent)
{
    validate(options);
    d.reset(new detail::ScopePrivate(this, options));
    if (auto *parentScope = qobject_cast<Scope *>(parent)) {
        d->attachTo(&parentScope->d->firstChild);
        d->parentScope = parentScope->d.get();
        d->m_cancelled = parentScope->d->m_cancelled;
    } else {
        detail::registerRootScope(d.get());
    }
}

Scope::Scope(const ScopeOptions &options, detail::TaskRecord *parentTask) : QObject(nullptr)
{
    validate(options);
    d.reset(new detail::ScopePrivate(this, options));
    if (parentTask) {
        d->attachTo(&parentTask->firstChildScope);
        d->parentTask = parentTask;
        d->m_cancelled = parentTask->isCancelled();
    } else {
        detail::registerRootScope(d.get());
    }
}

bool Scope::event(QEvent *event)
{
    if (event->type() == QEvent::ThreadChange)
        d->threadId.store(nullptr, std::memory_order_relaxed); // learnt again on the new thread
    return QObject::event(event);
}

Scope::~Scope()
{
    d->m_dying = true;
    for (auto *guard = d->m_guards; guard; guard = guard->previous)
        guard->destroyed = true;
    d->m_guards = nullptr;
    d->m_timeout.cancel();
    d->m_finishNode.unlink();
    if (!d->m_errors.isEmpty() && !d->m_errorsObserved) {
        qCWarning(detail::lcScope).noquote()
            << "scope" << scopeLabel(d.get()) << "destroyed with" << d->m_errors.size()
            << "error(s) nobody observed; the first:" << detail::describeException(d->m_errors.first());
    }
    if (d->m_incoming.load(std::memory_order_relaxed) > 0) // spawns still on their way
        detail::purgeMail(this, &detail::ScopePrivate::SpawnLetter::discard);
    d->destroyTasks();
    while (detail::ScopePrivate *child = d->firstChild) {
        child->detach();
        QList<QPointer<Scope>> ignored;
        child->markCancelled(ignored); // the QObject child is deleted right after this
    }
    if (d->ownerList == &detail::firstRootScope)
        detail::unregisterRootScope(d.get());
    else
        d->detach();
    d->releaseJoinersOfDestroyedScope();
}

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

void Scope::spawnHandled(detail::TaskRecord *record, SpawnKind kind)
{
    try {
        spawnRecord(record, kind);
    } catch (...) {
        record->deref(); // the handle's: no handle is made
        throw;
    }
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
    // cancelled, so no handle waits forever.
    auto *letter = new SpawnLetter; // first: if it fails, nothing was counted
    scope->d->m_incoming.fetch_add(1, std::memory_order_relaxed);
    letter->scope = scope;
    letter->record = record;
    letter->kind = kind;
    postToThreadOf(scope, letter);
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

quint32 detail::ScopePrivate::hotSignalBit(const QMetaMethod &signal)
{
    static const QMetaMethod methods[] = {
        QMetaMethod::fromSignal(&Scope::taskStarted), QMetaMethod::fromSignal(&Scope::taskFinished),
        QMetaMethod::fromSignal(&Scope::pendingChanged), QMetaMethod::fromSignal(&Scope::runningChanged),
        QMetaMethod::fromSignal(&Scope::activeChanged)};
    for (quint32 i = 0; i < std::size(methods); ++i) {
        if (signal == methods[i])
            return 1u << i;
    }
    return 0;
}

void Scope::connectNotify(const QMetaMethod &signal)
{
    // Counted here, never by asking QObject: isSignalConnected() must not be called from these
    // hooks (Qt holds its connection lock there; it deadlocks).
    if (const quint32 bit = detail::ScopePrivate::hotSignalBit(signal)) {
        const int index = std::countr_zero(bit);
        if (d->m_hotCounts[index].fetch_add(1, std::memory_order_relaxed) == 0)
            d->m_hotSignals.fetch_or(bit, std::memory_order_relaxed);
    }
}

void Scope::disconnectNotify(const QMetaMethod &signal)
{
    // A disconnect of everything passes an invalid method: the bits stay set (conservative: an
    // unobserved emission only costs time).
    if (const quint32 bit = signal.isValid() ? detail::ScopePrivate::hotSignalBit(signal) : 0) {
        const int index = std::countr_zero(bit);
        if (d->m_hotCounts[index].fetch_sub(1, std::memory_order_relaxed) <= 1) {
            d->m_hotCounts[index].store(0, std::memory_order_relaxed);
            d->m_hotSignals.fetch_and(~bit, std::memory_order_relaxed);
        }
    }
}

detail::JoinAwaiter Scope::join()
{
    checkOnScopeThread("join");
    return detail::JoinAwaiter(d.get(), false);
}

void Scope::cancel()
{
    if (!d->isOnScopeThread()) {
        QMetaObject::invokeMethod(this, &Scope::cancel, Qt::QueuedConnection);
        return;
    }
    QList<QPointer<Scope>> notify;
    d->markCancelled(notify);
    detail::ScopePrivate::emitCancelled(notify);
}

QVariantList Scope::results() const
{
    auto sorted = d->m_results;
    std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    QVariantList list;
    list.reserve(qsizetype(sorted.size()));
    for (auto &entry : sorted)
        list.append(entry.second);
    return list;
}

QList<std::exception_ptr> Scope::errors() const
{
    d->m_errorsObserved = true;
    return d->m_errors;
}

QStringList Scope::errorMessages() const
{
    d->m_errorsObserved = true;
    QStringList messages;
    for (const auto &error : d->m_errors)
        messages.append(detail::describeException(error));
    return messages;
}

QString Scope::name() const
{
    return d->options.name;
}

void Scope::setName(const QString &name)
{
    checkOnScopeThread("setName");
    if (d->options.name == name)
        return;
    {
        QMutexLocker lock(&d->nameMutex); // read by error messages made on other threads
        d->options.name = name;
    }
    Q_EMIT nameChanged();
}

int Scope::maxConcurrency() const
{
    return d->options.maxConcurrency;
}

void Scope::setMaxConcurrency(int limit)
{
    checkOnScopeThread("setMaxConcurrency");
    if (limit < 0)
        throw InvalidArgument(QStringLiteral("maxConcurrency must be >= 0 (0 = unlimited), got %1").arg(limit));
    if (d->options.maxConcurrency == limit)
        return;
    d->options.maxConcurrency = limit;
    d->pumpQueue();
    Q_EMIT maxConcurrencyChanged();
}

std::optional<std::chrono::milliseconds> Scope::timeout() const
{
    return d->options.timeout;
}

bool Scope::timeoutThrows() const
{
    return d->options.timeoutThrows;
}

bool Scope::isSupervising() const
{
    return d->options.supervise;
}

void Scope::setTimeout(std::optional<std::chrono::milliseconds> timeout)
{
    checkOnScopeThread("setTimeout");
    if (timeout && timeout->count() < 0)
        throw InvalidArgument(QStringLiteral("timeout must not be negative, got %1 ms").arg(timeout->count()));
    if (d->options.timeout == timeout)
        return;
    if (d->m_started)
        throw InvalidStateError(QStringLiteral("setTimeout: scope %1 has started; its timeout is armed already")
                                    .arg(scopeLabel(d.get())));
    d->options.timeout = timeout;
}

void Scope::setTimeoutThrows(bool throws)
{
    checkOnScopeThread("setTimeoutThrows");
    d->options.timeoutThrows = throws;
}

void Scope::setSupervising(bool supervise)
{
    checkOnScopeThread("setSupervising");
    d->options.supervise = supervise;
}

int Scope::runningCount() const
{
    return d->m_running;
}

int Scope::pendingCount() const
{
    return d->m_pending;
}

bool Scope::isActive() const
{
    return d->liveCount() > 0;
}

bool Scope::isStarted() const
{
    return d->m_started;
}

bool Scope::isCancelled() const
{
    return d->m_cancelled;
}

bool Scope::isTimedOut() const
{
    return d->m_timedOut;
}

bool Scope::isFinished() const
{
    return d->m_finished;
}

Scope *detail::scopeOf(const TaskRecord *record) noexcept
{
    return record && record->scope ? record->scope->q : nullptr;
}

Limiter *Scope::limiter() const
{
    return detail::liveLimiter(d->limiterState.get());
}

void Scope::checkOnScopeThread(const char *operation) const
{
    if (!d->isOnScopeThread())
        throw InvalidStateError(QStringLiteral("%1: call it on the thread of scope %2 (its QObject thread); from "
                                               "other threads only asap(), <<, after(), at(), every() and cancel() "
                                               "are")
                                    .arg(QLatin1String(operation), d->labelFromAnyThread()));
}

Scope *Scope::parentScope() const
{
    if (d->parentScope)
        return d->parentScope->q;
    if (d->parentTask && d->parentTask->scope)
        return d->parentTask->scope->q;
    return nullptr;
}

} // namespace QAyo

namespace QAyo::detail {
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
    if (!postToContextId(home, letter, &ScopePrivate::CancelLetter::discard)) {
        // Its thread has ended: the task ended with it (or was left behind, cancelled, with a
        // scope destroyed there): nothing can run it any more.
        qCDebug(lcCancel) << "cancel of" << record->displayName() << "from another thread: its thread has ended";
        ScopePrivate::CancelLetter::discard(letter);
    }
}
} // namespace

void TaskRecord::requestCancel() noexcept
{
    const State current = state.load(std::memory_order_relaxed);
    if (current == State::Done)
        return;
    if (Q_UNLIKELY(!isOnHomeThread())) {
        mailCancel(this);
        return;
    }
    if (current == State::Queued) {
        if (scope)
            scope->dropQueued(this);
        return;
    }
    QList<QPointer<Scope>> notify;
    ScopePrivate::markRecordCancelled(this, notify);
    ScopePrivate::emitCancelled(notify);
}
} // namespace QAyo::detail
