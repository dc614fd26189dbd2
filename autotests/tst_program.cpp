// SPDX-License-Identifier: MIT
// runAsMain, Runner hooks, diagnostics, dumpTree and waitFor. The runner adopts this test's
// QCoreApplication; what needs a fresh application runs in program_helper.
#include "helpers.h"

#include <QAyo/Diagnostics>
#include <QAyo/Runner>

#include <QCoreApplication>
#include <QMutex>
#include <QProcess>
#include <QTest>
#include <QThread>
#include <QThreadPool>
#include <QTimer>

#include <atomic>
#include <csignal>
#include <memory>

#include <stdexcept>
#include <thread>

#ifndef QAYO_PROGRAM_HELPER
#error "QAYO_PROGRAM_HELPER (the path of program_helper) must be defined by CMake"
#endif

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

struct HelperResult
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

HelperResult runHelper(const QString &mode)
{
    QProcess process;
    process.start(QStringLiteral(QAYO_PROGRAM_HELPER), {mode});
    HelperResult result;
    if (!process.waitForFinished(20000)) {
        process.kill();
        process.waitForFinished();
        return result;
    }
    result.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    result.out = process.readAllStandardOutput();
    result.err = process.readAllStandardError();
    return result;
}

int argc = 1;
char arg0[] = "tst_program";
char *argv[] = {arg0, nullptr};

} // namespace

class tst_Program : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    // --- exit codes --------------------------------------------------------------------------

    void exitCodeIsZeroForTaskOfVoid()
    {
        bool ran = false;
        const int code = QAyo::runAsMain(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            co_await QAyo::sleep(5ms);
            ran = true;
        });
        QCOMPARE(code, 0);
        QVERIFY(ran);
    }

    void exitCodeIsMainsInt()
    {
        const int code = QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<int> {
            co_await QAyo::sleep(5ms);
            co_return 7;
        });
        QCOMPARE(code, 7);
    }

    void escapedErrorGivesOne()
    {
        const int code = QAyo::runAsMain(argc, argv, [](QAyo::Scope &run) -> QAyo::Task<> {
            run << [] () -> QAyo::Task<> { co_await QAyo::sleep(1h); }; // cancelled by the error
            co_await QAyo::sleep(5ms);
            throw std::runtime_error("boom");
        });
        QCOMPARE(code, 1);
    }

    void escapedErrorIsPrintedToStderr()
    {
        const HelperResult result = runHelper(QStringLiteral("error"));
        QCOMPARE(result.exitCode, 1);
        QVERIFY2(result.err.contains("the disk is on fire"), result.err.constData());
    }

    void programWaitsForEverythingMainSpawned()
    {
        bool childDone = false;
        const int code = QAyo::runAsMain(argc, argv, [&](QAyo::Scope &run) -> QAyo::Task<> {
            run << [&]() -> QAyo::Task<> {
                co_await QAyo::sleep(30ms);
                childDone = true;
            };
            co_return;
        });
        QCOMPARE(code, 0);
        QVERIFY(childDone);
    }

    // --- adopt vs create ---------------------------------------------------------------------

    void adoptsTheExistingApplication()
    {
        QCoreApplication *before = QCoreApplication::instance();
        QAyo::Runner runner;
        int created = 0;
        int adopted = 0;
        connect(&runner, &QAyo::Runner::loopCreated, this, [&] { ++created; });
        connect(&runner, &QAyo::Runner::loopAdopted, this, [&] { ++adopted; });
        QCoreApplication *seen = nullptr;
        QCOMPARE(runner.exec(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            seen = QCoreApplication::instance();
            co_return;
        }), 0);
        QCOMPARE(created, 0);
        QCOMPARE(adopted, 1);
        QCOMPARE(seen, before);
        QCOMPARE(QCoreApplication::instance(), before);
    }

    void createsTheApplicationWhenThereIsNone()
    {
        const HelperResult result = runHelper(QStringLiteral("create"));
        QCOMPARE(result.exitCode, 5);
        QVERIFY2(result.out.contains("loopCreated"), result.out.constData());
        QVERIFY(!result.out.contains("loopAdopted"));
        QVERIFY(result.out.contains("app exists"));
    }

    // --- hooks -------------------------------------------------------------------------------

    void hooksComeInOrder()
    {
        QAyo::Runner runner;
        QStringList order;
        const auto record = [&](const char *name) { return [&order, name] { order << QString::fromLatin1(name); }; };
        connect(&runner, &QAyo::Runner::starting, this, record("starting"));
        connect(&runner, &QAyo::Runner::loopCreated, this, record("loopCreated"));
        connect(&runner, &QAyo::Runner::loopAdopted, this, record("loopAdopted"));
        connect(&runner, &QAyo::Runner::loopStarted, this, record("loopStarted"));
        connect(&runner, &QAyo::Runner::started, this, record("started"));
        connect(&runner, &QAyo::Runner::stopping, this, record("stopping"));
        connect(&runner, &QAyo::Runner::stopped, this, record("stopped"));
        connect(&runner, &QAyo::Runner::loopClosed, this, record("loopClosed"));
        QCOMPARE(runner.exec(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            order << QStringLiteral("main");
            co_return;
        }), 0);
        QCOMPARE(order, (QStringList{"starting", "loopAdopted", "loopStarted", "started", "main", "stopping",
                                     "stopped", "loopClosed"}));
    }

    void asyncStoppingHookIsAwaitedWithTheRootScopeUsable()
    {
        QAyo::Runner runner;
        QStringList order;
        runner.addHook(QAyo::Runner::Hook::Stopping, [&](QAyo::Scope &root) -> QAyo::Task<> {
            for (int i = 3; i > 0; --i) {
                order << QString::number(i);
                co_await QAyo::sleep(10ms);
            }
            root << [&]() -> QAyo::Task<> { // the root scope still takes work
                co_await QAyo::sleep(10ms);
                order << QStringLiteral("spawned by the hook");
            };
            order << QStringLiteral("Good bye");
        });
        connect(&runner, &QAyo::Runner::stopped, this, [&] { order << QStringLiteral("stopped"); });
        QCOMPARE(runner.exec(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            order << QStringLiteral("main");
            co_return;
        }), 0);
        QCOMPARE(order, (QStringList{"main", "3", "2", "1", "Good bye", "spawned by the hook", "stopped"}));
    }

    void failingHookGivesOne()
    {
        QAyo::Runner runner;
        runner.addHook(QAyo::Runner::Hook::Stopped, []() -> QAyo::Task<> {
            co_await QAyo::sleep(1ms);
            throw std::runtime_error("hook failed");
        });
        QCOMPARE(runner.exec(argc, argv, [](QAyo::Scope &) -> QAyo::Task<int> { co_return 0; }), 1);
    }

    void coroutineHookBeforeTheLoopIsRejected()
    {
        QAyo::Runner runner;
        bool threw = false;
        try {
            runner.addHook(QAyo::Runner::Hook::Starting, []() -> QAyo::Task<> { co_return; });
        } catch (const QAyo::InvalidArgument &) {
            threw = true;
        }
        QVERIFY(threw);
    }

    void hooksCanBeTurnedOffOneByOne()
    {
        QAyo::Runner runner;
        QStringList order;
        connect(&runner, &QAyo::Runner::stopping, this, [&] { order << QStringLiteral("stopping"); });
        connect(&runner, &QAyo::Runner::stopped, this, [&] { order << QStringLiteral("stopped"); });
        const int a = runner.addHook(QAyo::Runner::Hook::Stopped, [&] { order << QStringLiteral("a"); });
        runner.addHook(QAyo::Runner::Hook::Stopped, [&] { order << QStringLiteral("b"); });
        runner.setHookEnabled(QAyo::Runner::Hook::Stopping, false);
        runner.setHookEnabled(a, false);
        QVERIFY(!runner.isHookEnabled(QAyo::Runner::Hook::Stopping));
        QCOMPARE(runner.exec(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> { co_return; }), 0);
        QCOMPARE(order, (QStringList{"stopped", "b"}));
    }

    void hooksCanBeTurnedOffAllAtOnce()
    {
        QAyo::Runner runner;
        int calls = 0;
        connect(&runner, &QAyo::Runner::starting, this, [&] { ++calls; });
        connect(&runner, &QAyo::Runner::stopped, this, [&] { ++calls; });
        runner.addHook(QAyo::Runner::Hook::Stopping, [&]() -> QAyo::Task<> {
            ++calls;
            co_return;
        });
        runner.setHooksEnabled(false);
        QCOMPARE(runner.exec(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> { co_return; }), 0);
        QCOMPARE(calls, 0);
    }

    void stopCancelsTheRootScope()
    {
        QAyo::Runner runner;
        bool cancelled = false;
        QCOMPARE(runner.exec(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            QTimer::singleShot(10ms, &runner, &QAyo::Runner::stop);
            co_await sleepForever(&cancelled);
        }), 0);
        QVERIFY(cancelled);
    }

    void stopBeforeExecStopsTheRunAtOnce()
    {
        // The documented behaviour: the root scope is cancelled at once, so main never runs;
        // the hooks still come in order and exec() returns 0.
        QAyo::Runner runner;
        QStringList order;
        connect(&runner, &QAyo::Runner::starting, this, [&] { order << QStringLiteral("starting"); });
        connect(&runner, &QAyo::Runner::stopping, this, [&] { order << QStringLiteral("stopping"); });
        connect(&runner, &QAyo::Runner::stopped, this, [&] { order << QStringLiteral("stopped"); });
        runner.stop();
        QVERIFY(runner.root().isCancelled());
        bool mainRan = false;
        QCOMPARE(runner.exec(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            mainRan = true;
            co_return;
        }), 0);
        QVERIFY(!mainRan);
        QCOMPARE(order, (QStringList{"starting", "stopping", "stopped"}));
        QVERIFY(runner.root().isFinished());
        runner.stop(); // after the run: harmless
    }

    // --- bad input -----------------------------------------------------------------------------

    void setHookEnabledWithAnUnknownIdThrows()
    {
        QAyo::Runner runner;
        const int id = runner.addHook(QAyo::Runner::Hook::Stopped, [] {});
        runner.setHookEnabled(id, false); // known: fine
        try {
            runner.setHookEnabled(id + 100, false);
            QFAIL("no exception");
        } catch (const QAyo::InvalidArgument &e) {
            QVERIFY2(e.message().contains(QString::number(id + 100)), qPrintable(e.message()));
        }
        runner.removeHook(id);
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, runner.setHookEnabled(id, true)); // removed
    }

    void anUnknownHookKindThrows_data()
    {
        QTest::addColumn<int>("value");
        QTest::newRow("8 (one past LoopClosed)") << 8;
        QTest::newRow("31") << 31;
        QTest::newRow("40 (past the width of the mask)") << 40;
        QTest::newRow("-1") << -1;
    }

    void anUnknownHookKindThrows()
    {
        QFETCH(int, value);
        const auto hook = QAyo::Runner::Hook(value);
        QAyo::Runner runner;
        try {
            runner.setHookEnabled(hook, false);
            QFAIL("setHookEnabled: no exception");
        } catch (const QAyo::InvalidArgument &e) {
            QVERIFY2(e.message().contains(QString::number(value)), qPrintable(e.message()));
        }
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, static_cast<void>(runner.isHookEnabled(hook)));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, runner.addHook(hook, [] {}));
        for (int kind = 0; kind <= int(QAyo::Runner::Hook::LoopClosed); ++kind)
            QVERIFY(runner.isHookEnabled(QAyo::Runner::Hook(kind))); // nothing else was turned off
    }

    void aRunnerRunsOnce()
    {
        QAyo::Runner runner;
        QString during;
        QCOMPARE(runner.exec(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            try {
                runner.exec(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> { co_return; });
            } catch (const QAyo::InvalidStateError &e) {
                during = e.message();
            }
            co_return;
        }), 0);
        QVERIFY2(during.contains(QStringLiteral("runs already")), qPrintable(during));
        try {
            runner.exec(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> { co_return; });
            QFAIL("a second exec(): no exception");
        } catch (const QAyo::InvalidStateError &e) {
            QVERIFY2(e.message().contains(QStringLiteral("runs once")), qPrintable(e.message()));
        }
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError,
                                 runner.start([](QAyo::Scope &) -> QAyo::Task<> { co_return; }));
    }

    void startWithoutAnApplicationThrows()
    {
        const HelperResult result = runHelper(QStringLiteral("startwithoutapp"));
        QCOMPARE(result.exitCode, 0);
        QVERIFY2(result.out.contains("InvalidStateError: Runner::start: there is no QCoreApplication"),
                 result.out.constData());
    }

    void signalCancelsGracefullyInProcess()
    {
        bool cancelled = false;
        const int code = QAyo::runAsMain(argc, argv, [&](QAyo::Scope &) -> QAyo::Task<> {
            QTimer::singleShot(10ms, [] { ::raise(SIGTERM); });
            co_await sleepForever(&cancelled);
        });
        QCOMPARE(code, 143);
        QVERIFY(cancelled);
    }

    // --- diagnostics -------------------------------------------------------------------------

    void warnsWhenTheApplicationQuitsWithTasksRunning()
    {
        MessageCapture capture;
        const int code = QAyo::runAsMain(argc, argv, [](QAyo::Scope &run) -> QAyo::Task<> {
            auto sleepy = run.asap([]() -> QAyo::Task<> { co_await QAyo::sleep(1h); });
            sleepy.setName(QStringLiteral("sleepy"));
            co_await QAyo::sleep(5ms);
            QCoreApplication::quit(); // someone ends the loop under the program
            co_await QAyo::sleep(1h);
        });
        QCOMPARE(code, 0);
        const QStringList warnings = capture.messages("qayo.program");
        QVERIFY2(warnings.size() == 1 && warnings.first().contains(QLatin1String("quits with"))
                     && warnings.first().contains(QLatin1String("\"sleepy\"")),
                 qPrintable(warnings.join(u'\n')));
    }

    void quitWarningCanBeSwitchedOff()
    {
        MessageCapture capture;
        QAyo::setDiagnosticEnabled(QAyo::Diagnostic::QuitWithTasksRunning, false);
        QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
            QCoreApplication::quit();
            co_await QAyo::sleep(1h);
        });
        QAyo::setDiagnosticEnabled(QAyo::Diagnostic::QuitWithTasksRunning, true);
        QVERIFY(capture.messages("qayo.program").isEmpty());
    }

    void warnsOnceWhenSpawningWhereNoLoopRuns()
    {
        MessageCapture capture;
        std::thread([] {
            QAyo::Scope scope({.name = QStringLiteral("loopless")});
            scope << []() -> QAyo::Task<> { co_return; };
            scope << []() -> QAyo::Task<> { co_return; };
        }).join();
        const QStringList warnings = capture.messages("qayo.scope");
        QCOMPARE(warnings.size(), 1);
        QVERIFY(warnings.first().contains(QLatin1String("loopless")));
        QVERIFY(warnings.first().contains(QLatin1String("no event loop")));
    }

    void noLoopWarningCanBeSwitchedOff()
    {
        MessageCapture capture;
        QAyo::setDiagnosticEnabled(QAyo::Diagnostic::SpawnWithoutEventLoop, false);
        std::thread([] {
            QAyo::Scope scope({.name = QStringLiteral("loopless")});
            scope << []() -> QAyo::Task<> { co_return; };
        }).join();
        QAyo::setDiagnosticEnabled(QAyo::Diagnostic::SpawnWithoutEventLoop, true);
        QVERIFY(capture.messages("qayo.scope").isEmpty());
    }

    void noWarningWhenAQThreadSpawnsBeforeItsLoopStarts()
    {
        // The usual worker pattern: a plain QThread whose started() handler spawns. The loop is
        // not running yet (started() comes before exec()), but QThread's own run() is about to
        // start it, so the work will run: no warning.
        MessageCapture capture;
        QThread thread;
        std::atomic<int> ran{0};
        std::unique_ptr<QAyo::Scope> scope;
        QObject::connect(&thread, &QThread::started, &thread, [&] {
            scope = std::make_unique<QAyo::Scope>(QAyo::ScopeOptions{.name = QStringLiteral("worker")});
            *scope << [&ran]() -> QAyo::Task<> {
                ran.fetch_add(1);
                co_return;
            };
        }, Qt::DirectConnection);
        thread.start();
        QVERIFY(spinUntil([&] { return ran.load() == 1; }));
        QMetaObject::invokeMethod(scope.get(), [&] { scope.reset(); }, Qt::BlockingQueuedConnection);
        thread.quit();
        QVERIFY(thread.wait(10000));
        QVERIFY2(capture.messages("qayo.scope").isEmpty(), qPrintable(capture.messages("qayo.scope").join(u'\n')));
    }

    void warnsWhenAThreadPoolThreadSpawns()
    {
        // A pool thread never runs an event loop: work spawned there would wait forever.
        MessageCapture capture;
        QThreadPool pool;
        pool.start([] {
            QAyo::Scope scope({.name = QStringLiteral("pooled")});
            scope << []() -> QAyo::Task<> { co_return; };
        });
        QVERIFY(pool.waitForDone(10000));
        const QStringList warnings = capture.messages("qayo.scope");
        QCOMPARE(warnings.size(), 1);
        QVERIFY(warnings.first().contains(QLatin1String("pooled")));
    }

    void noWarningWhenSpawningOnTheApplicationThread()
    {
        MessageCapture capture;
        QAyo::Scope scope;
        scope << []() -> QAyo::Task<> { co_return; };
        QVERIFY(spinUntil([&] { return !scope.isActive(); }));
        QVERIFY(capture.messages("qayo.scope").isEmpty());
    }

    void warnsWhenTheApplicationDiesBeforeTheRootScope()
    {
        const HelperResult result = runHelper(QStringLiteral("appdestroyed"));
        QCOMPARE(result.exitCode, 0);
        QVERIFY2(result.err.contains("destroyed before the root scope finished"), result.err.constData());
        QVERIFY2(result.err.contains("\"main\""), result.err.constData());
    }

    // --- dumpTree ----------------------------------------------------------------------------

    void dumpTreeShowsScopesTasksAndStates()
    {
        QAyo::Scope outer({.maxConcurrency = 2, .name = QStringLiteral("outer")});
        auto sleeper = outer.asap([]() -> QAyo::Task<> { co_await QAyo::sleep(1h); });
        sleeper.setName(QStringLiteral("sleeper"));
        auto nester = outer.asap([]() -> QAyo::Task<> {
            co_await QAyo::scope({.name = QStringLiteral("inner")}, [](QAyo::Scope &inner) {
                inner.asap([]() -> QAyo::Task<> { co_await QAyo::sleep(1h); }).setName(QStringLiteral("deep"));
            });
        });
        nester.setName(QStringLiteral("nester"));
        auto waiting = outer.asap([]() -> QAyo::Task<> { co_return; });
        waiting.setName(QStringLiteral("waiting"));
        QVERIFY(spinUntil([&] { return outer.runningCount() == 2; }));
        QVERIFY(spinUntil([&] { return QAyo::treeText(&outer).contains(QLatin1String("\"deep\" awaiting")); }));

        MessageCapture capture;
        outer.dumpTree();
        const QString text = capture.messages("qayo.tree").join(u'\n');
        QVERIFY2(text.contains(QLatin1String("scope \"outer\" running=2 pending=1")), qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("  task \"sleeper\" awaiting SleepAwaiter")), qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("  task \"waiting\" queued")), qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("    scope \"inner\"")), qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("      task \"deep\" awaiting SleepAwaiter")), qPrintable(text));

        // The free function walks every root scope of the thread.
        QVERIFY(QAyo::treeText().contains(QLatin1String("scope \"outer\"")));

        outer.cancel();
        const QString cancelled = QAyo::treeText(&outer);
        QVERIFY2(cancelled.contains(QLatin1String("cancelled")), qPrintable(cancelled));
        QVERIFY(spinUntil([&] { return !outer.isActive(); }));
        QVERIFY(!QAyo::treeText(&outer).contains(QLatin1String("sleeper")));
    }

    void destroyedRootScopesLeaveTheRegistry()
    {
        {
            QAyo::Scope gone({.name = QStringLiteral("gone")});
            QVERIFY(QAyo::treeText().contains(QLatin1String("\"gone\"")));
        }
        QVERIFY(!QAyo::treeText().contains(QLatin1String("\"gone\"")));
    }

    // --- waitFor -----------------------------------------------------------------------------

    void waitForReturnsTheValue()
    {
        auto answer = []() -> QAyo::Task<int> {
            co_await QAyo::sleep(5ms);
            co_return 42;
        };
        QCOMPARE(QAyo::waitFor(answer()), 42);
    }

    void waitForRethrowsAtOnce()
    {
        QElapsedTimer timer;
        timer.start();
        QString message;
        try {
            QAyo::waitFor([]() -> QAyo::Task<> {
                co_await QAyo::scope([](QAyo::Scope &run) {
                    run << failAfter(5ms, QStringLiteral("fast fail"));
                });
            }());
        } catch (const std::exception &e) {
            message = QString::fromUtf8(e.what());
        }
        QVERIFY2(message.contains(QLatin1String("fast fail")), qPrintable(message));
        QVERIFY(timer.elapsed() < 10000);
    }
};

QTEST_GUILESS_MAIN(tst_Program)
#include "tst_program.moc"
