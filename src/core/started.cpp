// SPDX-License-Identifier: MIT
// The start handshake's shared state (see include/QAyo/started.h).
#include <QAyo/started.h>

#include "errors_p.h"
#include "limiter_p.h"
#include "logging_p.h"
#include "scope_p.h"

#include <QThread>

#include <algorithm>
#include <vector>

namespace QAyo::detail {

// The letter abandon() posts is made here, where a failed allocation fails the start() call:
// abandon() runs in destructors and cancels, which must not throw.
StartState::StartState()
    : m_cancelLetter(new ScopePrivate::CancelLetter(nullptr)), m_thread(QThread::currentThreadId())
{
}

StartState::~StartState()
{
    dropTask();
    delete static_cast<ScopePrivate::CancelLetter *>(m_cancelLetter); // never posted
}

void StartState::setTask(TaskRecord *record) noexcept
{
    dropTask();
    record->ref();
    m_task = record;
    record->addWaiter(this);
}

void StartState::dropTask() noexcept
{
    if (TaskRecord *task = std::exchange(m_task, nullptr)) {
        task->removeWaiter(this);
        task->deref(); // inside settle() (recordCompleted) the caller of settle() holds another
    }
}

void StartState::checkCanStart() const
{
    if (QThread::currentThreadId() != m_thread)
        throw InvalidStateError(QStringLiteral("Started::started(): called from another thread than the scope's"));
    if (m_phase == Phase::Started)
        throw InvalidStateError(QStringLiteral("Started::started(): called a second time"));
    if (m_phase == Phase::Failed)
        throw InvalidStateError(QStringLiteral(
            "Started::started(): the start has ended already (the task failed, was cancelled or finished first)"));
}

void StartState::resolve(Phase phase) noexcept
{
    m_phase = phase;
    dropTask(); // from now on the task belongs to its scope alone
    if (StartWaiter *waiter = std::exchange(m_waiter, nullptr))
        waiter->resolved();
}

void StartState::markStarted() noexcept
{
    if (m_phase == Phase::Starting)
        resolve(Phase::Started);
    else if (m_phase == Phase::Abandoned)
        m_phase = Phase::Started; // nobody waits any more; the task was cancelled with the caller
}

bool StartState::bodyEnded(const std::exception_ptr &failure) noexcept
{
    if (m_phase != Phase::Starting)
        return bool(failure); // after started() (or the caller left): the scope's business
    if (!failure) {
        // A task that was cancelled and ended without started() - a plain callable has no
        // checkpoint, a coroutine may have swallowed Cancelled - was cancelled, not forgetful.
        if (m_task && m_task->cancelRequested) {
            m_error = std::make_exception_ptr(
                TaskCancelledError(QStringLiteral("start: the task was cancelled before it called started()")));
        } else {
            m_error = std::make_exception_ptr(
                StartError(QStringLiteral("start: the task finished without calling started()")));
        }
        resolve(Phase::Failed);
        return false;
    }
    if (isCancellation(failure)) {
        m_error = std::make_exception_ptr(
            TaskCancelledError(QStringLiteral("start: the task was cancelled before it called started()")));
        resolve(Phase::Failed);
        return true; // the task itself ends as cancelled
    }
    qCDebug(lcScope) << "start: the task failed before started():" << describeException(failure);
    m_error = failure; // rethrown at start(), not also a scope error
    m_taskError = true;
    resolve(Phase::Failed);
    return false;
}

void StartState::abandon() noexcept
{
    if (m_phase != Phase::Starting)
        return;
    m_phase = Phase::Abandoned;
    if (TaskRecord *task = std::exchange(m_task, nullptr)) {
        task->removeWaiter(this);
        // On the next ready-queue turn: abandon() runs inside cancels and frame destructions
        // that walk a scope's task list, where no task may be unlinked under their feet.
        auto *letter = static_cast<ScopePrivate::CancelLetter *>(std::exchange(m_cancelLetter, nullptr));
        letter->task = task; // takes over the reference
        postReady(letter);
    }
}

void StartState::recordCompleted() noexcept
{
    if (m_phase != Phase::Starting)
        return;
    // Dropped before it ran (its scope was cancelled or destroyed) or its frame destroyed with
    // its scope: bodyEnded() never ran, so the caller learns it here.
    m_error = std::make_exception_ptr(
        TaskCancelledError(QStringLiteral("start: the task was cancelled before it called started()")));
    resolve(Phase::Failed);
}

void StartState::throwIfFailed() const
{
    if (m_phase == Phase::Failed)
        std::rethrow_exception(m_error);
}

void StartState::rethrowTaskError() const
{
    if (m_phase == Phase::Failed && m_taskError)
        std::rethrow_exception(m_error);
}

void StartState::checkCanProgress(TaskRecord *caller) const
{
    // The rule (docs/limits.md): refuse only what can never make progress. The start's task
    // waits for a slot; if every slot it could get is held by the caller or by a task the caller
    // is nested in (each of which waits, directly or through nested joins, for this start),
    // nobody can give one back. Anything else - another task holding a slot, a token held
    // elsewhere - may free one, and the start waits as usual.
    TaskRecord *task = m_task;
    if (m_phase != Phase::Starting || !task || !caller || !task->scope
        || !task->isUnstarted())
        return;
    // The caller and the tasks it is nested in (through block scopes, which they join).
    std::vector<TaskRecord *> chain;
    for (TaskRecord *r = caller; r; r = r->scope ? r->scope->parentTask : nullptr)
        chain.push_back(r);

    ScopePrivate *d = task->scope;
    const QString scopeName = d->options.name.isEmpty() ? QStringLiteral("(unnamed)") : d->options.name;
    if (d->m_waitingForSlot.contains(task) && d->m_inFlight <= 1) {
        for (TaskRecord *r : chain) {
            if (r->scope == d && r->counted && r->stage.load(std::memory_order_relaxed) == TaskRecord::Stage::Running) {
                throw InvalidStateError(
                    QStringLiteral("start: would wait forever: task '%1' holds the only running slot of scope %2 "
                                   "(maxConcurrency %3) and waits for the start, whose task can only run once that "
                                   "slot is free. Start it from a task of another scope, or raise maxConcurrency first")
                        .arg(r->displayName(), scopeName)
                        .arg(d->options.maxConcurrency));
            }
        }
    }
    if (task->limiterTicket) {
        const std::vector<LimiterTicket *> held = slotsHeldBy(caller);
        QString limiter;
        int capacity = 0;
        if (!held.empty() && waitsOnlyForHolders(task->limiterTicket, held, &limiter, &capacity)) {
            throw InvalidStateError(
                QStringLiteral("start: would wait forever: task '%1' (or a task it is nested in) holds every slot "
                               "of %2 (capacity %3) and waits for the start, whose task in scope %4 needs one of "
                               "them to run. Start it from a task that holds no slot, or raise the capacity first")
                    .arg(caller->displayName(), limiter)
                    .arg(capacity)
                    .arg(scopeName));
        }
    }
}

} // namespace QAyo::detail
