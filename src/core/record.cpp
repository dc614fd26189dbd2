// SPDX-License-Identifier: MIT
#include <QAyo/detail/record.h>
#include <QAyo/handle.h>
#include <QAyo/limiter.h>

#include "errors_p.h"
#include "logging_p.h"
#include "scope_p.h"

namespace QAyo::detail {

namespace {
// Tasks created and not yet ended, all threads: QAyo::Test checks it returns to zero.
std::atomic<int> unfinishedTasks{0};
} // namespace

int unfinishedTaskCount() noexcept
{
    return unfinishedTasks.load(std::memory_order_relaxed);
}

TaskRecord::TaskRecord() noexcept : ReadyNode(&TaskRecord::runStart)
{
    unfinishedTasks.fetch_add(1, std::memory_order_relaxed);
}

TaskRecord::~TaskRecord()
{
    Q_ASSERT_X(!frame, "TaskRecord", "destroyed while its frame is alive");
    if (limiterTicket) // never queued (e.g. a spawn that failed before it reached its scope)
        releaseTicket(limiterTicket);
}

void TaskRecord::runStart(ReadyNode *node) noexcept
{
    ScopePrivate::runStart(static_cast<TaskRecord *>(node));
}

void TaskRecord::startFrame(std::coroutine_handle<> root) noexcept
{
    frame = root;
    root.resume();
}

void TaskRecord::rootFinished(std::exception_ptr failure) noexcept
{
    // Called from the root frame's final awaiter: the frame is suspended for good, so it may be
    // destroyed here. Its locals (and the callable it borrowed) die before the outcome is told.
    const std::coroutine_handle<> finished = std::exchange(frame, {});
    finished.destroy();
    complete(std::move(failure));
}

void TaskRecord::complete(std::exception_ptr failure) noexcept
{
    hook = nullptr;
    if (!failure)
        settle(Outcome::Succeeded);
    else if (cancelRequested && isCancellation(failure))
        settle(Outcome::Cancelled);
    else
        settle(Outcome::Failed, std::move(failure));

    if (scope) {
        scope->taskDone(this); // drops the scope's reference
        return;
    }
    // Orphaned (its scope was destroyed while it ran on: aside work, an adopted QCoro task, a
    // task suspended on a foreign awaitable). No join will see its error: say so, never drop it
    // silently.
    if (outcome == Outcome::Failed) {
        qCWarning(lcScope).noquote() << "task" << displayName()
                                     << "failed after its scope was destroyed (no join can report it):"
                                     << describeException(error);
    }
    deref(); // the reference the dead scope left behind
}

void TaskRecord::settle(Outcome result, std::exception_ptr failure) noexcept
{
    unfinishedTasks.fetch_sub(1, std::memory_order_relaxed);
    outcome = result;
    error = std::move(failure);
    state.store(State::Done, std::memory_order_release);
    if (limiterTicket)
        releaseTicket(std::exchange(limiterTicket, nullptr)); // the slot goes to the next waiter
    releaseWork();
    while (CompletionWaiter *waiter = firstWaiter) {
        removeWaiter(waiter);
        waiter->recordCompleted();
    }
}

void TaskRecord::addWaiter(CompletionWaiter *waiter) noexcept
{
    waiter->prevWaiter = nullptr;
    waiter->nextWaiter = firstWaiter;
    if (firstWaiter)
        firstWaiter->prevWaiter = waiter;
    firstWaiter = waiter;
    waiter->isWaiting = true;
}

void TaskRecord::removeWaiter(CompletionWaiter *waiter) noexcept
{
    if (!waiter->isWaiting)
        return;
    if (waiter->prevWaiter)
        waiter->prevWaiter->nextWaiter = waiter->nextWaiter;
    else
        firstWaiter = waiter->nextWaiter;
    if (waiter->nextWaiter)
        waiter->nextWaiter->prevWaiter = waiter->prevWaiter;
    waiter->prevWaiter = waiter->nextWaiter = nullptr;
    waiter->isWaiting = false;
}

void TaskRecord::warnCancelSwallowed() const
{
    qCWarning(lcCancel).noquote()
        << "task" << displayName()
        << "caught QAyo::Cancelled and awaited again after its scope was cancelled."
        << "Cancellation is level-triggered: let Cancelled propagate (rethrow it), and run"
        << "awaiting cleanup inside QAyo::shield().";
}

QString TaskRecord::displayName() const
{
    return name.isEmpty() ? QStringLiteral("task#%1").arg(sequence) : name;
}

void throwUnlessSucceeded(const TaskRecord *record, const char *operation)
{
    if (!record)
        throw InvalidStateError(QStringLiteral("%1: invalid handle").arg(QLatin1String(operation)));
    if (record->state.load(std::memory_order_acquire) != TaskRecord::State::Done)
        throw InvalidStateError(QStringLiteral("%1: task '%2' has not finished")
                                    .arg(QLatin1String(operation), record->displayName()));
    switch (record->outcome) {
    case TaskRecord::Outcome::Failed:
        std::rethrow_exception(record->error);
    case TaskRecord::Outcome::Cancelled:
        throw TaskCancelledError(QStringLiteral("%1: task '%2' was cancelled")
                                     .arg(QLatin1String(operation), record->displayName()));
    default:
        return;
    }
}

} // namespace QAyo::detail
