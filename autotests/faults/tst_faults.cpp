// SPDX-License-Identifier: MIT
// Fault injection: the same scenario - a scope with a sibling asleep for an hour and one piece of
// user code that throws - once for every position user code can throw from. Each time the
// documented outcome (docs/scopes.md "Errors", docs/time.md, docs/threads.md) must hold:
// - the join rethrows that very error (or, in supervise mode, does not throw),
// - errors() holds it exactly once and taskFailed reported it once,
// - the sibling was cancelled (not in supervise mode) and unwound its frame,
// - no task and no frame is left.
// Runner hooks, whose documented outcome is the exit code 1, have their own test below.
// QML callbacks (after/every with JS functions) are covered by the QML module's suite.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Runner>
#include <QAyo/Test>

#include <QCoreApplication>
#include <QSignalSpy>
#include <QTest>

#include <qcoro/qcorotask.h>
#include <qcoro/qcorotimer.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <stdexcept>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

//! The injected error: the test recognises it by its message.
class Fault : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

//! Where the fault is thrown from.
enum class Position {
    TaskBeforeFirstAwait,
    TaskAfterAwait,
    TaskAfterForeignAwait,
    InlineAwaitedTask,
    CallableAtStart,
    CallableFactoryBeforeCoroutine,
    QCoroTaskAfterAwait,
    CleanupCatchingCancelled,
    CleanupAfterShield,
    AfterCallback,
    AfterCoroutineCallback,
    AtCallback,
    EveryCallbackThirdTick,
    AsideFunction,
    AsideFunctionAfterStopRequest,
    MapFunctionSecondItem,
    BlockBodyPlain,
    BlockBodyCoroutineAfterAwait,
    BlockChildTask,
    NestedScopeChild,
    WithTimeoutInner,
};

//! Every position, its row name and the message of the error thrown there.
struct FaultPoint
{
    Position position;
    const char *row;
    const char *what;
};
const FaultPoint faultPoints[] = {
    { Position::TaskBeforeFirstAwait, "task before first await", "fault: task before first await" },
    { Position::TaskAfterAwait, "task after an await", "fault: task after an await" },
    { Position::TaskAfterForeignAwait, "task after a foreign await", "fault: task after a foreign await" },
    { Position::InlineAwaitedTask, "inline awaited task", "fault: inline awaited task" },
    { Position::CallableAtStart, "callable at start", "fault: callable at start" },
    { Position::CallableFactoryBeforeCoroutine, "callable before its coroutine", "fault: callable before its coroutine" },
    { Position::QCoroTaskAfterAwait, "QCoro task after an await", "fault: QCoro task after an await" },
    { Position::CleanupCatchingCancelled, "cleanup catching Cancelled", "fault: cleanup catching Cancelled" },
    { Position::CleanupAfterShield, "shielded cleanup", "fault: shielded cleanup" },
    { Position::AfterCallback, "after callback", "fault: after callback" },
    { Position::AfterCoroutineCallback, "after coroutine callback", "fault: after coroutine callback" },
    { Position::AtCallback, "at callback", "fault: at callback" },
    { Position::EveryCallbackThirdTick, "every callback third tick", "fault: every callback third tick" },
    { Position::AsideFunction, "aside function", "fault: aside function" },
    { Position::AsideFunctionAfterStopRequest, "aside function after a stop request", "fault: aside function after a stop request" },
    { Position::MapFunctionSecondItem, "map function second item", "fault: map function second item" },
    { Position::BlockBodyPlain, "block body plain", "fault: block body plain" },
    { Position::BlockBodyCoroutineAfterAwait, "block body coroutine after an await", "fault: block body coroutine after an await" },
    { Position::BlockChildTask, "child of a block scope", "fault: child of a block scope" },
    { Position::NestedScopeChild, "child of a nested Scope", "fault: child of a nested Scope" },
    { Position::WithTimeoutInner, "inside withTimeout", "fault: inside withTimeout" },
};

//! Counts the frames of the test's tasks: zero once everything unwound.
int liveFrames = 0;
//! Set when the fault of a cancellation-path scenario waits for the cancel (then the test cancels).
std::atomic<bool> waitingForCancel { false };

QAyo::Task<> throwNow(const char *what)
{
    LiveCounter frame(&liveFrames);
    throw Fault(what);
    co_return;
}

QAyo::Task<> throwAfterSleep(const char *what)
{
    LiveCounter frame(&liveFrames);
    co_await QAyo::sleep(2ms);
    throw Fault(what);
}

//! A parameter, not a lambda capture: the frame outlives a temporary lambda.
QCoro::Task<> qcoroThrowAfterSleep(const char *what)
{
    LiveCounter frame(&liveFrames);
    co_await QCoro::sleepFor(2ms);
    throw Fault(what);
}

//! Arms the fault in \a scope. \a cancelScope is set when the scenario needs the test to
//! cancel the scope (the fault is in a cancellation path).
void arm(QAyo::Scope &scope, Position position, const char *what, bool *cancelScope)
{
    switch (position) {
    case Position::TaskBeforeFirstAwait:
        scope.asap(throwNow(what));
        break;
    case Position::TaskAfterAwait:
        scope.asap(throwAfterSleep(what));
        break;
    case Position::TaskAfterForeignAwait:
        scope.asap([what]() -> QAyo::Task<> {
            LiveCounter frame(&liveFrames);
            co_await QCoro::sleepFor(1ms); // a foreign awaitable (not cancellation-aware)
            throw Fault(what);
        });
        break;
    case Position::InlineAwaitedTask:
        scope.asap([what]() -> QAyo::Task<> {
            LiveCounter frame(&liveFrames);
            co_await throwAfterSleep(what);
        });
        break;
    case Position::CallableAtStart:
        scope.asap([what] { throw Fault(what); });
        break;
    case Position::CallableFactoryBeforeCoroutine:
        scope.asap([what]() -> QAyo::Task<> {
            throw Fault(what); // no co_await/co_return: a plain function, throwing when called
        });
        break;
    case Position::QCoroTaskAfterAwait:
        scope.asap(qcoroThrowAfterSleep(what)); // eager: running already
        break;
    case Position::CleanupCatchingCancelled:
        *cancelScope = true;
        scope.asap([what]() -> QAyo::Task<> {
            LiveCounter frame(&liveFrames);
            try {
                waitingForCancel = true;
                co_await QAyo::sleep(1h);
            } catch (const QAyo::Cancelled &) {
                // Cleanup next to the destructors of the unwinding frame fails: the error
                // replaces the cancellation and must be reported, not swallowed.
                throw Fault(what);
            }
        });
        break;
    case Position::CleanupAfterShield:
        *cancelScope = true;
        scope.asap([what]() -> QAyo::Task<> {
            LiveCounter frame(&liveFrames);
            bool cancelled = false;
            try {
                waitingForCancel = true;
                co_await QAyo::sleep(1h);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
            }
            if (cancelled)
                co_await QAyo::shield(throwAfterSleep(what)); // awaiting cleanup, shielded, fails
        });
        break;
    case Position::AfterCallback:
        scope.after(2ms, [what] { throw Fault(what); });
        break;
    case Position::AfterCoroutineCallback:
        scope.after(2ms, [what] { return throwAfterSleep(what); });
        break;
    case Position::AtCallback:
        scope.at(QDateTime::currentDateTime().addMSecs(2), [what] { throw Fault(what); });
        break;
    case Position::EveryCallbackThirdTick:
        scope.every(1ms, [what, ticks = 0]() mutable {
            if (++ticks == 3)
                throw Fault(what);
        });
        break;
    case Position::AsideFunction:
        scope.aside([what] { throw Fault(what); });
        break;
    case Position::AsideFunctionAfterStopRequest:
        *cancelScope = true;
        scope.aside([what](QAyo::StopToken stop) {
            waitingForCancel = true;
            while (!stop.stop_requested())
                QThread::yieldCurrentThread();
            throw Fault(what);
        });
        break;
    case Position::MapFunctionSecondItem:
        static_cast<void>(scope.map(
            [what](int item) -> QAyo::Task<int> {
                LiveCounter frame(&liveFrames);
                co_await QAyo::sleep(1ms);
                if (item == 2)
                    throw Fault(what);
                co_return item;
            },
            QList<int> { 1, 2, 3 }));
        break;
    case Position::BlockBodyPlain:
    case Position::BlockBodyCoroutineAfterAwait:
    case Position::BlockChildTask:
    case Position::NestedScopeChild:
    case Position::WithTimeoutInner:
        scope.asap([position, what]() -> QAyo::Task<> {
            LiveCounter frame(&liveFrames);
            bool innerCancelled = false;
            if (position == Position::BlockBodyPlain) {
                co_await QAyo::scope([&](QAyo::Scope &s) {
                    s << sleepForever(&innerCancelled);
                    throw Fault(what);
                });
            } else if (position == Position::BlockBodyCoroutineAfterAwait) {
                co_await QAyo::scope([&](QAyo::Scope &s) -> QAyo::Task<> {
                    s << sleepForever(&innerCancelled);
                    co_await QAyo::sleep(1ms);
                    throw Fault(what);
                });
            } else if (position == Position::BlockChildTask) {
                co_await QAyo::scope([&](QAyo::Scope &s) {
                    s << sleepForever(&innerCancelled) << throwAfterSleep(what);
                });
            } else if (position == Position::NestedScopeChild) {
                QAyo::Scope inner;
                inner << sleepForever(&innerCancelled) << throwAfterSleep(what);
                co_await inner;
            } else {
                innerCancelled = true; // nothing inside to cancel
                co_await QAyo::withTimeout(1h, throwAfterSleep(what));
            }
            if (!innerCancelled)
                throw std::logic_error("the inner sibling was not cancelled");
        });
        break;
    }
}

} // namespace

Q_DECLARE_METATYPE(Position)

class tst_Faults : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup()
    {
        QAYO_VERIFY_NO_TASKS_LEFT();
        QCOMPARE(liveFrames, 0);
    }

    void throwFromEveryPosition_data()
    {
        QTest::addColumn<Position>("position");
        QTest::addColumn<bool>("supervise");
        for (const FaultPoint &point : faultPoints) {
            QTest::addRow("%s", point.row) << point.position << false;
            QTest::addRow("%s, supervise", point.row) << point.position << true;
        }
    }

    void throwFromEveryPosition()
    {
        QFETCH(Position, position);
        QFETCH(bool, supervise);
        const auto *point = std::find_if(std::begin(faultPoints), std::end(faultPoints),
                                         [position](const FaultPoint &p) { return p.position == position; });
        const QString expected = QString::fromUtf8(point->what);
        QAyo::Scope scope({ .supervise = supervise, .name = QStringLiteral("faults") });
        QSignalSpy failed(&scope, &QAyo::Scope::taskFailed);
        bool siblingCancelled = false;
        bool cancelScope = false;
        waitingForCancel = false;
        bool siblingSurvivedTheError = false;
        std::exception_ptr joinError;
        auto driver = [&]() -> QAyo::Task<> {
            auto sibling = scope.asap(sleepForever(&siblingCancelled));
            arm(scope, position, point->what, &cancelScope);
            if (cancelScope) {
                while (!waitingForCancel || !sibling.isValid() || scope.runningCount() < 2)
                    co_await QAyo::sleep(1ms); // until everything is started and waiting
                scope.cancel();
            } else if (supervise) {
                // Supervising, the error cancels nothing: once it is recorded, the test ends the
                // sibling that sleeps on.
                while (scope.errors().isEmpty())
                    co_await QAyo::sleep(1ms);
                co_await QAyo::sleep(2ms);
                siblingSurvivedTheError = !siblingCancelled;
                scope.cancel(); // (an every() would tick on for ever)
            }
            try {
                co_await scope;
            } catch (...) {
                joinError = std::current_exception();
            }
        };
        std::exception_ptr escaped;
        try {
            QAyo::Test::run(driver(), 10s);
        } catch (...) {
            escaped = std::current_exception();
        }
        if (escaped)
            QFAIL(qPrintable(QStringLiteral("the driver threw: ") + QAyo::Test::describe(escaped)));

        // The join: rethrows the error - or, supervising, does not throw.
        if (supervise) {
            QVERIFY2(!joinError, qPrintable(QAyo::Test::describe(joinError)));
        } else {
            QVERIFY2(joinError, "the join did not rethrow the error");
            QCOMPARE(QAyo::Test::describe(joinError), expected);
        }
        // Kept exactly once, reported once.
        const QList<std::exception_ptr> errors = scope.errors();
        QCOMPARE(errors.size(), 1);
        QCOMPARE(QAyo::Test::describe(errors.first()), expected);
        QCOMPARE(failed.size(), 1);
        QVERIFY(failed.first().first().toString().contains(expected));
        // The error cancelled the sibling - unless supervising (then the test did, later).
        QVERIFY(scope.isCancelled());
        QVERIFY(siblingCancelled);
        if (supervise && !cancelScope)
            QVERIFY2(siblingSurvivedTheError, "supervising, the error cancelled the sibling");
    }

    //! The documented outcome of a hook that throws: the program's exit code is 1 (the error
    //! goes to stderr) and the program still runs main and ends normally. Before the fix found
    //! here, a plain hook of starting, loopAdopted, loopStarted, started or loopClosed let its
    //! exception escape exec() (through Qt's event loop for the two in the loop).
    void throwFromEveryRunnerHook_data()
    {
        QTest::addColumn<QAyo::Runner::Hook>("hook");
        QTest::addColumn<bool>("coroutine");
        using Hook = QAyo::Runner::Hook;
        for (Hook hook : { Hook::Starting, Hook::LoopAdopted, Hook::LoopStarted, Hook::Started, Hook::Stopping,
                           Hook::Stopped, Hook::LoopClosed })
            QTest::addRow("%s", QMetaEnum::fromType<Hook>().valueToKey(int(hook))) << hook << false;
        for (Hook hook : { Hook::Started, Hook::Stopping, Hook::Stopped })
            QTest::addRow("%s, coroutine", QMetaEnum::fromType<Hook>().valueToKey(int(hook))) << hook << true;
    }

    void throwFromEveryRunnerHook()
    {
        QFETCH(QAyo::Runner::Hook, hook);
        QFETCH(bool, coroutine);
        QAyo::Runner runner;
        if (coroutine) {
            runner.addHook(hook, []() -> QAyo::Task<> {
                co_await QAyo::sleep(1ms);
                throw Fault("coroutine hook");
            });
        } else {
            runner.addHook(hook, [] { throw Fault("hook"); });
        }
        bool mainRan = false;
        int argc = 1;
        char name[] = "tst_faults";
        char *argv[] = { name, nullptr };
        int code = -1;
        try {
            code = runner.exec(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
                mainRan = true;
                co_return;
            });
        } catch (const std::exception &e) {
            QFAIL(qPrintable(QStringLiteral("the hook's error escaped exec(): ") + QString::fromUtf8(e.what())));
        }
        QCOMPARE(code, 1);
        QVERIFY(!runner.isRunning());
        QVERIFY(mainRan);
    }
};

QTEST_GUILESS_MAIN(tst_Faults)
#include "tst_faults.moc"
