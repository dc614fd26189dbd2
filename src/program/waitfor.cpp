// SPDX-License-Identifier: MIT
// QAyo::waitFor(): a task run to completion from plain code, on a nested event loop.
#include <QAyo/runner.h>

#include <QCoreApplication>
#include <QEventLoop>

namespace QAyo::detail {

namespace {
struct WaitState
{
    bool done = false;
    std::exception_ptr error;
    QEventLoop *loop = nullptr;
};

// Catches the error inside the task, so it reaches the caller at once (QCoro 0.8's waitFor
// hangs on a throwing task instead).
Task<> runToEnd(Task<> task, WaitState *state)
{
    try {
        co_await std::move(task);
    } catch (...) {
        state->error = std::current_exception();
    }
    state->done = true;
    state->loop->quit();
}
} // namespace

void waitForTask(Task<> task)
{
    if (!QCoreApplication::instance())
        throw InvalidStateError(QStringLiteral("waitFor: needs a QCoreApplication (create it first)"));
    if (!task.isValid())
        throw InvalidArgument(QStringLiteral("waitFor: the task is empty (moved-from)"));
    WaitState state;
    QEventLoop loop;
    state.loop = &loop;
    Scope scope({.name = QStringLiteral("QAyo::waitFor")});
    scope.asap(runToEnd(std::move(task), &state));
    loop.exec();
    // exec() also returns when someone quits every loop (QCoreApplication::exit): keep going.
    while (!state.done)
        loop.processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
    if (state.error)
        std::rethrow_exception(state.error);
}

} // namespace QAyo::detail
