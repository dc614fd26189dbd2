// SPDX-License-Identifier: MIT
// What a scope keeps while it runs: its tasks ending (counts, results, errors, the signals of
// a task that ended) and finishing once nothing holds it open and a join asked for it.
#include <QAyo/scope.h>

#include "cancelwalk_p.h"
#include "errors_p.h"
#include "logging_p.h"
#include "scope_p.h"
#include "threadcontext_p.h"

namespace QAyo {

namespace detail {

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
    reportFailure(record->error, record);
}

void ScopePrivate::reportFailure(std::exception_ptr error, TaskRecord *ended) noexcept
{
    CancelWalk walk;
    const QString failure = describeException(error);
    try {
        recordError(std::move(error));
    } catch (...) { // no memory left to keep it: the taskFailed signal still says it
    }
    if (!options.supervise)
        markCancelled(walk);
    pumpQueue();
    if (ended)
        ended->deref(); // the scope's reference
    walk.releaseWork();

    Guard guard(this);
    Q_EMIT q->taskFailed(failure);
    if (guard.destroyed)
        return;
    walk.run(); // the cancel signals
    if (guard.destroyed)
        return;
    if (ended)
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

void ScopePrivate::checkJoin() noexcept
{
    if (m_joinRequested && !m_finished && liveCount() == 0)
        postReady(&m_finishNode); // finish on a later turn: no user code inside the caller
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
    {
        CancelWalk walk;
        deactivateAllSchedules(walk); // the ones that did not hold the exit end with the scope
    }

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

} // namespace detail

} // namespace QAyo
