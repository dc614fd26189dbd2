// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/scope.h>

#include "withdrawablequeue_p.h"

#include <QMetaMethod>
#include <QMutex>
#include <QPointer>
#include <QThread>

#include <atomic>

#include <memory>
#include <typeinfo>
#include <utility>
#include <vector>

namespace QAyo::detail {

class CancelWalk;

//! The state behind a Scope. Lives on the scope's thread; see docs/decisions.md for the model.
class ScopePrivate
{
public:
    ScopePrivate(Scope *q, const ScopeOptions &options);

    // --- spawn -> queue -> start -> finish -> join
    //! The part of a spawn that may throw (the scope's limiter ticket); before enqueue().
    void prepareEnqueue(TaskRecord *record, Scope::SpawnKind kind);
    void enqueue(TaskRecord *record, Scope::SpawnKind kind) noexcept;
    //! Spawn from another thread: the record goes to the scope's thread as mail.
    Q_DECL_COLD_FUNCTION static void postSpawn(Scope *scope, TaskRecord *record, Scope::SpawnKind kind);
    //! The timeout passed while idle: expires it; false if that destroyed the scope (the
    //! record is then settled as cancelled).
    Q_DECL_COLD_FUNCTION bool expireBeforeSpawn(TaskRecord *record);
    Q_DECL_COLD_FUNCTION void dropSpawnIntoCancelled(TaskRecord *record) noexcept;
    //! Posts an admitted record to start, after its limiter slot (if it draws from one).
    void admit(TaskRecord *record) noexcept;
    static bool waitsForLimiter(const TaskRecord *record) noexcept;
    static void runStart(TaskRecord *record) noexcept;
    //! runStart() while taskStarted, pendingChanged or runningChanged is connected; \a refused
    //! is set when the task's limiter was destroyed instead of granting its slot.
    static void startWithSignals(TaskRecord *record, std::exception_ptr refused) noexcept;
    void taskDone(TaskRecord *record) noexcept;
    void taskFailed(TaskRecord *record) noexcept;
    //! A failure of the scope's work (a task that ended with \a error, or \a ended null: a
    //! scheduled call that could not be made): recorded, siblings cancelled unless supervising,
    //! taskFailed emitted.
    void reportFailure(std::exception_ptr error, TaskRecord *ended) noexcept;
    //! Takes the unstarted \a record out of the queue its stage names (record.h), out of the
    //! in-flight count and out of the task list; the caller settles it.
    void withdraw(TaskRecord *record) noexcept;
    //! Handle::cancel() of an unstarted task: withdraws it, admits the next one, and drops its
    //! callable and emits the signals after that (a CancelWalk).
    void dropQueued(TaskRecord *record) noexcept;
    void pumpQueue() noexcept;
    void ensureStarted();
    void checkJoin() noexcept;
    void finish();

    // --- cancellation (no user code inside: what would run it goes to the CancelWalk)
    //! Marks this scope and everything below it cancelled and wakes the suspended tasks; the
    //! dropped work and the signals are left to \a walk.
    void markCancelled(CancelWalk &walk) noexcept;
    //! markCancelled() for one task (Handle::cancel()) and the scopes nested in it.
    static void markRecordCancelled(TaskRecord *record, CancelWalk &walk) noexcept;
    //! Takes back the work of this scope tree, or of the task's, that has not started yet
    //! (CancelHook::dropIfUnstarted): the first pass of a cancel.
    void dropUnstartedWork() noexcept;
    static void dropUnstartedWork(TaskRecord *record) noexcept;
    //! The second pass: marks cancelled, withdraws unstarted tasks, wakes the suspended ones.
    void markTreeCancelled(CancelWalk &walk) noexcept;
    static void markRecordTreeCancelled(TaskRecord *record, CancelWalk &walk) noexcept;
    //! The signals of a walk (CancelWalk::run()): those of a cancel if \a cancelled, else those
    //! of a withdrawn task; then the join check.
    static void emitAfterWalk(const QPointer<Scope> &scope, bool cancelled);
    void timeoutFired();
    void expireTimeout();

    // --- schedules (schedule.cpp)
    void linkSchedule(ScheduleRecord *record) noexcept;
    //! Spawns a call of a schedule; throws only if an allocation fails (then nothing was spawned).
    void spawnScheduledCall(TaskRecord *call);
    //! A call of a schedule could not be spawned (\a error, out of memory): an error of the
    //! scope, as a failed task's.
    void scheduledCallFailed(std::exception_ptr error) noexcept;
    //! Inactive for good: no more calls, no exit hold, out of the list; drops the scope's ref.
    void deactivateSchedule(ScheduleRecord *record) noexcept;
    //! deactivateSchedule() for all; the references are dropped after \a walk.
    void deactivateAllSchedules(CancelWalk &walk) noexcept;
    //! The state change of deactivateSchedule(); true if the scope's reference is to be dropped.
    bool unlinkSchedule(ScheduleRecord *record) noexcept;

    // --- destruction
    //! Withdraws, orphans or (through \a walk) destroys every task of the dying scope.
    void destroyTasks(CancelWalk &walk) noexcept;
    void releaseJoinersOfDestroyedScope() noexcept;

    // --- tree
    //! See nestInParentScope() (src/core/nesting_p.h).
    static void nestInQObjectParent(Scope *scope);
    void attachTo(ScopePrivate **listHead) noexcept;
    void detach() noexcept;
    bool isWithin(const TaskRecord *record) const noexcept;
    //! True if this scope cannot end before \a record does: the record is a task of it, or of
    //! a scope that a task of it waits for (nested block scopes, joins in progress).
    bool waitsFor(const TaskRecord *record) const noexcept;

    //! Per-task signals, emitted only while connected (see Scope::connectNotify).
    enum HotSignal : quint32 {
        TaskStartedSignal = 1,
        TaskFinishedSignal = 2,
        PendingChangedSignal = 4,
        RunningChangedSignal = 8,
        ActiveChangedSignal = 16,
    };
    bool wants(HotSignal signal) const noexcept { return m_hotSignals.load(std::memory_order_relaxed) & signal; }
    static quint32 hotSignalBit(const QMetaMethod &signal);
    std::atomic<quint32> m_hotSignals{0};
    std::atomic<int> m_hotCounts[5] = {}; // receivers per hot signal

    int liveCount() const noexcept
    {
        return m_pending + m_running + m_heldSchedules + m_incoming.load(std::memory_order_relaxed);
    }
    //! The dynamic type of the QObject that owns the scope (its parent, not a Scope), as it was
    //! when it became the owner and again when the scope started (by then a scope made in a
    //! base class's constructor sees the whole owner): ~Scope compares it with the parent's type
    //! then, to tell
    //! whether the owner's own destructor has run already (see warnIfOutlivedOwnerMembers()).
    const std::type_info *m_ownerClass = nullptr;
    const QObject *m_owner = nullptr; // the owner m_ownerClass was read from
    //! Remembers \a owner's class (null: no owner).
    void watchOwner(const QObject *owner) noexcept;
    //! The unsafe binding: a scope with running tasks destroyed by its owner's ~QObject, after
    //! the owner's members (qayo.scope warning naming the scope, the owner's class and the fix).
    void warnIfOutlivedOwnerMembers() const;
    //! True if anything of the scope waits in its thread's queues (tasks, its armed timeout,
    //! schedules, joiners, the finish step): it cannot move to another thread then.
    bool holdsWorkOnItsThread() const noexcept
    {
        return liveCount() > 0 || m_timeout.isQueued() || firstSchedule || !m_joiners.empty()
            || m_finishNode.isQueued();
    }
    //! Spawns made on other threads and still on their way to this one.
    std::atomic<int> m_incoming{0};
    //! Registrations of handle waits from other threads on their way here (remotewait.cpp):
    //! addressed to this scope, so ~Scope takes them back (they are no live work).
    std::atomic<int> m_waitLetters{0};
    static void countWaitLetter(Scope *scope, int delta) noexcept
    {
        scope->d->m_waitLetters.fetch_add(delta, std::memory_order_relaxed);
    }
    void recordError(std::exception_ptr error);

    //! Set on the stack around code that emits signals: a slot may delete the scope.
    struct Guard
    {
        explicit Guard(ScopePrivate *d) : d(d), previous(d->m_guards) { d->m_guards = this; }
        ~Guard()
        {
            if (!destroyed)
                d->m_guards = previous;
        }
        ScopePrivate *d;
        Guard *previous;
        bool destroyed = false;
    };
    //! Emits taskFinished, runningChanged and activeChanged (those connected) after a task ended.
    void emitTaskEnded(const Guard &guard);

    struct TimeoutEntry : DeadlineEntry
    {
        TimeoutEntry() : DeadlineEntry(&TimeoutEntry::fired) {}
        static void fired(DeadlineEntry *entry) noexcept;
        ScopePrivate *d = nullptr;
    };
    //! A spawn made on another thread, on its way to the scope's thread (see spawnRecord).
    struct SpawnLetter : ReadyNode
    {
        SpawnLetter() : ReadyNode(&SpawnLetter::arrived) {}
        static void arrived(ReadyNode *node) noexcept;
        static void discard(ReadyNode *node) noexcept;
        Scope *scope = nullptr;
        TaskRecord *record = nullptr;
        Scope::SpawnKind kind = Scope::SpawnKind::Normal;
    };
    //! Cancels a task (TaskRecord::requestCancel()) where it is run: a later turn of the ready
    //! queue (StartState::abandon()) or the task's home thread, mailed there from another thread.
    //! Holds a reference to the task.
    struct CancelLetter final : ReadyNode
    {
        explicit CancelLetter(TaskRecord *task) noexcept : ReadyNode(&CancelLetter::run), task(task) {}
        static void run(ReadyNode *node) noexcept;
        //! The home thread ended before the delivery: nothing is left to cancel there.
        static void discard(ReadyNode *node) noexcept;
        TaskRecord *task;
    };
    struct FinishNode : ReadyNode
    {
        FinishNode() : ReadyNode(&FinishNode::run) {}
        static void run(ReadyNode *node) noexcept;
        ScopePrivate *d = nullptr;
    };

    Scope *q;
    ScopeOptions options;
    //! Guards options.name against the error messages of calls made on other threads (the
    //! scope's thread writes it under the lock; see labelFromAnyThread()).
    mutable QMutex nameMutex;
    //! The scope's name for a message made on any thread ("(unnamed)" without one).
    QString labelFromAnyThread() const;
    //! The shared state of options.limiter: outlives the Limiter object, so a spawn after the
    //! limiter was destroyed is refused instead of touching freed memory (docs/limits.md).
    std::shared_ptr<LimiterState> limiterState;
    //! The scope's thread id, for the cheap "same thread?" test; null after moveToThread()
    //! until the scope is first used on its new thread.
    std::atomic<Qt::HANDLE> threadId{nullptr};
    bool isOnScopeThread() noexcept
    {
        const Qt::HANDLE current = QThread::currentThreadId();
        const Qt::HANDLE known = threadId.load(std::memory_order_relaxed);
        if (current == known)
            return true;
        if (!known && QThread::currentThread() == q->thread()) {
            threadId.store(current, std::memory_order_relaxed);
            return true;
        }
        return false;
    }

    // tree: a scope hangs either below a task (block form) or below a scope (QObject parent)
    TaskRecord *parentTask = nullptr;
    ScopePrivate *parentScope = nullptr;
    ScopePrivate **ownerList = nullptr;
    ScopePrivate *prevSibling = nullptr;
    ScopePrivate *nextSibling = nullptr;
    ScopePrivate *firstChild = nullptr;

    // tasks: every record not yet done, in spawn order
    TaskRecord *firstTask = nullptr;
    TaskRecord *lastTask = nullptr;
    // Queued for a maxConcurrency slot, FIFO; a cancelled one leaves in O(1).
    WithdrawableQueue<TaskRecord, quint32, &TaskRecord::slotQueuePosition> m_waitingForSlot;
    ScheduleRecord *firstSchedule = nullptr; // active schedules
    int m_heldSchedules = 0;                 // active schedules that hold exit
    int m_pending = 0;
    int m_running = 0;
    int m_inFlight = 0; // counted tasks posted to start or running
    quint64 m_nextSequence = 0;

    std::vector<JoinAwaiter *> m_joiners;
    QList<std::exception_ptr> m_errors;
    std::vector<std::pair<quint64, QVariant>> m_results;
    TimeoutEntry m_timeout;
    FinishNode m_finishNode;
    Guard *m_guards = nullptr;

    bool m_started = false;
    bool m_cancelled = false;
    bool m_timedOut = false;
    bool m_deadlinePassed = false; // the timeout came while idle (see timeoutFired)
    bool m_joinRequested = false;
    // Atomic: the checks of spawns made on other threads read them (checkCanSpawn()); written
    // once each, on the scope's thread.
    std::atomic<bool> m_finished{false};
    std::atomic<bool> m_dying{false};
    bool m_errorsObserved = false;
};

//! The scope's name for messages ("(unnamed)" without one); on the scope's thread.
inline QString scopeLabel(const ScopePrivate *d)
{
    return d->options.name.isEmpty() ? QStringLiteral("(unnamed)") : d->options.name;
}

// The scope's task list: every record not yet done, in spawn order.
inline void linkRecord(ScopePrivate *d, TaskRecord *r) noexcept
{
    r->prevInScope = d->lastTask;
    r->nextInScope = nullptr;
    if (d->lastTask)
        d->lastTask->nextInScope = r;
    else
        d->firstTask = r;
    d->lastTask = r;
}

inline void unlinkRecord(ScopePrivate *d, TaskRecord *r) noexcept
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

// Root scopes (tree.cpp): listed process-wide for dumpTree().
void registerRootScope(ScopePrivate *d) noexcept;
void unregisterRootScope(ScopePrivate *d) noexcept;
bool isRootScope(const ScopePrivate *d) noexcept;

} // namespace QAyo::detail
