// SPDX-License-Identifier: MIT
#include <QAyo/detail/record.h>
#include <QAyo/handle.h>
#include <QAyo/limiter.h>

#include "errors_p.h"
#include "intrusivelist_p.h"
#include "logging_p.h"
#include "scope_p.h"

#include <QMutex>

namespace QAyo::detail {

namespace {
// Tasks created and not yet ended, over all threads: QAyo::Test checks it returns to zero.
// Counted per thread and summed when asked: one shared atomic counter cost two read-modify-
// writes per task. A task may end on another thread than the one that made it, so a thread's
// count may be negative; only the sum means something.
struct ThreadTaskCount
{
    std::atomic<long> count{0}; // written by its own thread only (load and store, no RMW)
    ThreadTaskCount *next = nullptr;
    ThreadTaskCount *prev = nullptr;
};
QBasicMutex countsMutex;
ThreadTaskCount *firstCount = nullptr; // the live threads' counts (under countsMutex)
std::atomic<long> endedThreadsCount{0}; // ended threads' counts, and changes made while ending
ThreadTaskCount endedThreadMarker;      // tlsCount of a thread whose count was folded in

// initial-exec: one pointer of static TLS, read twice per task.
thread_local ThreadTaskCount *tlsCount __attribute__((tls_model("initial-exec"))) = nullptr;

struct ThreadTaskCountOwner
{
    ~ThreadTaskCountOwner()
    {
        ThreadTaskCount *mine = std::exchange(tlsCount, &endedThreadMarker);
        QMutexLocker lock(&countsMutex);
        endedThreadsCount.fetch_add(mine->count.load(std::memory_order_relaxed), std::memory_order_relaxed);
        (mine->prev ? mine->prev->next : firstCount) = mine->next;
        if (mine->next)
            mine->next->prev = mine->prev;
        delete mine;
    }
};

Q_NEVER_INLINE void addUnfinishedSlow(long delta) noexcept
{
    if (tlsCount == &endedThreadMarker) { // the thread is ending
        endedThreadsCount.fetch_add(delta, std::memory_order_relaxed);
        return;
    }
    static thread_local ThreadTaskCountOwner owner; // folds the count in when the thread ends
    static_cast<void>(owner);
    auto *mine = new ThreadTaskCount;
    mine->count.store(delta, std::memory_order_relaxed);
    QMutexLocker lock(&countsMutex);
    mine->next = firstCount;
    if (firstCount)
        firstCount->prev = mine;
    firstCount = mine;
    tlsCount = mine;
}

inline void addUnfinished(long delta) noexcept
{
    ThreadTaskCount *mine = tlsCount;
    if (Q_LIKELY(mine && mine != &endedThreadMarker))
        mine->count.store(mine->count.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
    else
        addUnfinishedSlow(delta);
}
} // namespace

int unfinishedTaskCount() noexcept
{
    QMutexLocker lock(&countsMutex);
    long sum = endedThreadsCount.load(std::memory_order_relaxed);
    for (const ThreadTaskCount *count = firstCount; count; count = count->next)
        sum += count->count.load(std::memory_order_relaxed);
    return int(sum);
}

TaskRecord::TaskRecord() noexcept : ReadyNode(&TaskRecord::runStart)
{
    addUnfinished(1);
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

// markDone() and settle() share this body, inlined in both: settle() is on every task's path.
Q_ALWAYS_INLINE void TaskRecord::markDoneHere(Outcome result, std::exception_ptr &failure) noexcept
{
    addUnfinished(-1);
    outcome = result;
    error = std::move(failure);
    stage.store(Stage::Done, std::memory_order_release);
    if (limiterTicket)
        releaseTicket(std::exchange(limiterTicket, nullptr)); // the slot goes to the next waiter
    while (CompletionWaiter *waiter = firstWaiter) {
        removeWaiter(waiter);
        waiter->recordCompleted();
    }
}

void TaskRecord::settle(Outcome result, std::exception_ptr failure) noexcept
{
    markDoneHere(result, failure);
    releaseWork();
}

void TaskRecord::markDone(Outcome result, std::exception_ptr failure) noexcept
{
    markDoneHere(result, failure);
}

void TaskRecord::addWaiter(CompletionWaiter *waiter) noexcept
{
    pushFront<&CompletionWaiter::prevWaiter, &CompletionWaiter::nextWaiter>(firstWaiter, waiter);
    waiter->isWaiting = true;
}

void TaskRecord::removeWaiter(CompletionWaiter *waiter) noexcept
{
    if (!waiter->isWaiting)
        return;
    unlinkFrom<&CompletionWaiter::prevWaiter, &CompletionWaiter::nextWaiter>(firstWaiter, waiter);
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
    if (!record->isDone())
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
