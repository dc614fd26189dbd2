// SPDX-License-Identifier: MIT
#include <QAyo/test.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QTimer>

namespace QAyo::Test::detail {

bool spinUntil(const std::function<bool()> &done, std::chrono::milliseconds deadline)
{
    QDeadlineTimer timer(deadline, Qt::PreciseTimer);
    // A timer makes sure the blocking processEvents() below returns at the deadline. No time
    // limit is passed to processEvents(): with one it keeps processing while events keep
    // coming (a busy task) and would not return to check `done`.
    QTimer wakeUp;
    wakeUp.setSingleShot(true);
    wakeUp.setTimerType(Qt::PreciseTimer);
    while (!done()) {
        if (timer.hasExpired())
            return false;
        if (!wakeUp.isActive()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(timer.remainingTimeAsDuration());
            wakeUp.start(std::max(left, std::chrono::milliseconds(1)));
        }
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
    }
    return true;
}

void finishOrThrow(Scope &runner, const std::function<bool()> &finished,
                   std::chrono::milliseconds deadline, const QString &what)
{
    if (!spinUntil(finished, deadline)) {
        runner.cancel();
        spinUntil(finished, std::chrono::milliseconds(1000));
        throw TimeoutError(QStringLiteral("%1 did not finish within %2 ms").arg(what).arg(deadline.count()));
    }
    // Let the scope settle (its signals and counters) before it goes out of scope.
    spinUntil([&] { return !runner.isActive(); }, std::chrono::milliseconds(1000));
    static_cast<void>(runner.errors()); // observed: the caller rethrows the task's error
}

} // namespace QAyo::Test::detail

namespace {

//! co_await *scope. A function taking a pointer, not a capturing lambda: its frame owns nothing
//! temporary.
QAyo::Task<> joinOf(QAyo::Scope *scope)
{
    co_await *scope;
}

} // namespace

namespace QAyo::Test {

void join(Scope &scope, std::chrono::milliseconds deadline)
{
    Scope runner({.name = QStringLiteral("QAyo::Test::join")});
    Handle<void> handle = runner.asap(joinOf(&scope));
    detail::finishOrThrow(runner, [&] { return handle.isFinished(); }, deadline,
                          QStringLiteral("QAyo::Test::join: the join of scope \"%1\"").arg(scope.name()));
    handle.result();
}

int waitForNoTasks(std::chrono::milliseconds grace)
{
    detail::spinUntil([] { return unfinishedTasks() == 0; }, grace);
    return unfinishedTasks();
}

QString describe(std::exception_ptr error)
{
    if (!error)
        return QStringLiteral("(no error)");
    try {
        std::rethrow_exception(error);
    } catch (const QAyo::Error &e) {
        return e.message();
    } catch (const std::exception &e) {
        return QString::fromUtf8(e.what());
    } catch (const QAyo::Cancelled &) {
        return QStringLiteral("QAyo::Cancelled");
    } catch (...) {
        return QStringLiteral("an exception not derived from std::exception");
    }
}

} // namespace QAyo::Test
