// SPDX-License-Identifier: MIT
// The cancellation toolkit: shield, cancellable, withTimeout/withTimeoutOr and QAyo::signal.
//
// QAyo's own timeouts and sleeps run on a virtual clock (exact, no real waiting); the signals
// are emitted by real QTimers.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <qcoro/qcorotimer.h>

#include <stdexcept>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {
class Emitter : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
Q_SIGNALS:
    void nothing();
    void one(int value);
    void two(int value, const QString &text);
};
} // namespace

class WaitsTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void signalReturnsArguments()
    {
        Emitter emitter;
        QTimer::singleShot(1ms, &emitter, [&] { Q_EMIT emitter.two(7, QStringLiteral("seven")); });
        auto body = [&]() -> QAyo::Task<std::tuple<int, QString>> {
            co_return co_await QAyo::signal(&emitter, &Emitter::two);
        };
        const auto [value, text] = QAyo::Test::run(body());
        QCOMPARE(value, 7);
        QCOMPARE(text, QStringLiteral("seven"));
        QCOMPARE(receiversOf(&emitter, SIGNAL(two(int, QString))), 0);
    }

    void signalSingleAndVoid()
    {
        Emitter emitter;
        // Each emission is armed by the task just before it waits, so a slow start (a loaded
        // machine, a sanitizer build) cannot make the task miss it.
        auto body = [&]() -> QAyo::Task<int> {
            QTimer::singleShot(1ms, &emitter, [&] { Q_EMIT emitter.nothing(); });
            co_await QAyo::signal(&emitter, &Emitter::nothing);
            QTimer::singleShot(1ms, &emitter, [&] { Q_EMIT emitter.one(3); });
            co_return co_await QAyo::signal(&emitter, &Emitter::one);
        };
        QCOMPARE(QAyo::Test::run(body()), 3);
    }

    void signalCancelledWakesAtOnceAndDisconnects()
    {
        Emitter emitter;
        QAyo::Scope scope;
        bool cancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::signal(&emitter, &Emitter::one);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        QCOMPARE(receiversOf(&emitter, SIGNAL(one(int))), 1);
        QCOMPARE(receiversOf(&emitter, SIGNAL(destroyed(QObject *))), 1);
        scope.cancel();
        QAYO_TEST_JOIN(scope);
        QVERIFY(cancelled);
        QCOMPARE(receiversOf(&emitter, SIGNAL(one(int))), 0);
        QCOMPARE(receiversOf(&emitter, SIGNAL(destroyed(QObject *))), 0);
    }

    void signalObjectDestroyedIsAnError()
    {
        auto *emitter = new Emitter;
        QTimer::singleShot(1ms, emitter, [emitter] { delete emitter; });
        QString message;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::signal(emitter, &Emitter::one);
            } catch (const QAyo::ObjectDestroyedError &e) {
                message = e.message();
            }
        };
        QAYO_TEST_RUN(body());
        QVERIFY(message.contains(QStringLiteral("destroyed")));
    }

    void signalWithTimeout()
    {
        const auto clock = installVirtualClock();
        Emitter emitter;
        auto body = [&]() -> QAyo::Task<bool> {
            auto value = co_await QAyo::signal(&emitter, &Emitter::one, 5ms);
            co_return value.has_value();
        };
        QCOMPARE(QAyo::Test::run(body()), false);
        QCOMPARE(clock->elapsed(), QAyo::Clock::Duration(5ms));
        QCOMPARE(receiversOf(&emitter, SIGNAL(one(int))), 0);
        QCOMPARE(QAyo::Clock::pendingDeadlines(), 0);
    }

    void waitingOnAScopeSignalDisconnectsWithoutDeadlock()
    {
        // The wait disconnects from a per-task signal of a Scope; Scope::disconnectNotify must
        // not call back into QObject (that deadlocked).
        QAyo::Scope watched;
        bool seen = false;
        auto body = [&]() -> QAyo::Task<> {
            watched.asap([]() -> QAyo::Task<> { co_await QAyo::sleep(1ms); });
            co_await QAyo::signal(&watched, &QAyo::Scope::activeChanged);
            seen = true;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(seen);
        QVERIFY(!watched.isActive());
    }

    void nullObjectIsRejected()
    {
        auto body = []() -> QAyo::Task<> { co_await QAyo::signal(static_cast<Emitter *>(nullptr), &Emitter::one); };
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, QAyo::Test::run(body()));
    }

    void shieldRunsToItsEndThenDeliversCancel()
    {
        const auto clock = installVirtualClock(QAyo::Test::VirtualClock::Mode::Manual);
        QAyo::Scope scope;
        QStringList log;
        scope.asap([&]() -> QAyo::Task<> {
            bool cancelled = false;
            try {
                co_await QAyo::sleep(1h);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
            }
            if (cancelled) {
                auto cleanup = [&]() -> QAyo::Task<> {
                    co_await QAyo::sleep(5ms); // would throw at once without the shield
                    log << QStringLiteral("cleanup done");
                };
                co_await QAyo::shield(cleanup()); // then the cancellation is delivered again
                log << QStringLiteral("not reached");
            }
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        scope.cancel();
        clock->advance(4ms);
        QVERIFY(log.isEmpty()); // the shielded sleep is still on
        clock->advance(1ms);
        QAYO_TEST_JOIN(scope);
        QCOMPARE(log, QStringList{QStringLiteral("cleanup done")});
    }

    void shieldDeliversCancelRightAfter()
    {
        const auto clock = installVirtualClock(QAyo::Test::VirtualClock::Mode::Manual);
        QAyo::Scope scope;
        QStringList log;
        scope.asap([&]() -> QAyo::Task<> {
            auto inner = [&]() -> QAyo::Task<> {
                co_await QAyo::sleep(20ms); // a cancel arriving now waits for the shield
                log << QStringLiteral("inner done");
            };
            co_await QAyo::shield(inner());
            log << QStringLiteral("after shield");
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        scope.cancel();
        clock->advance(20ms);
        QAYO_TEST_JOIN(scope);
        QCOMPARE(log, QStringList{QStringLiteral("inner done")});
    }

    void withTimeoutReturnsValueOrThrows()
    {
        const auto clock = installVirtualClock();
        auto quick = []() -> QAyo::Task<int> {
            co_await QAyo::sleep(1ms);
            co_return 5;
        };
        auto slow = []() -> QAyo::Task<int> {
            co_await QAyo::sleep(1h);
            co_return 6;
        };
        auto body = [&]() -> QAyo::Task<int> {
            const int a = co_await QAyo::withTimeout(1s, quick());
            try {
                co_await QAyo::withTimeout(10ms, slow());
            } catch (const QAyo::TimeoutError &) {
                co_return a + 100;
            }
            co_return a;
        };
        QCOMPARE(QAyo::Test::run(body()), 105);
        QCOMPARE(clock->elapsed(), QAyo::Clock::Duration(11ms)); // 1 ms, then the 10 ms timeout
    }

    void withTimeoutOrGivesEmptyOptional()
    {
        const auto clock = installVirtualClock();
        auto slow = []() -> QAyo::Task<int> {
            co_await QAyo::sleep(1h);
            co_return 6;
        };
        auto body = [&]() -> QAyo::Task<int> {
            auto missing = co_await QAyo::withTimeoutOr(10ms, slow());
            auto present = co_await QAyo::withTimeoutOr(1s, QAyo::sleep(1ms));
            co_return (missing ? 1 : 0) + (present ? 10 : 0);
        };
        QCOMPARE(QAyo::Test::run(body()), 10);
        QCOMPARE(clock->elapsed(), QAyo::Clock::Duration(11ms)); // the 10 ms timeout, then 1 ms
    }

    void nestedWithTimeout()
    {
        const auto clock = installVirtualClock();
        auto body = []() -> QAyo::Task<QString> {
            try {
                co_await QAyo::withTimeout(1s, QAyo::withTimeout(10ms, QAyo::sleep(1h)));
            } catch (const QAyo::TimeoutError &e) {
                co_return e.message();
            }
            co_return QString();
        };
        QVERIFY(QAyo::Test::run(body()).contains(QStringLiteral("10 ms")));
        QCOMPARE(clock->elapsed(), QAyo::Clock::Duration(10ms));
    }

    void cancellableRunsOnCancelThenDelivers_data()
    {
        QTest::addColumn<bool>("onCancelThrows");
        QTest::newRow("onCancel returns") << false;
        QTest::newRow("onCancel throws: logged with its message, cancellation goes on") << true;
    }

    void cancellableRunsOnCancelThenDelivers()
    {
        QFETCH(bool, onCancelThrows);
        QAyo::Scope scope;
        QTimer timer;
        timer.setSingleShot(true);
        timer.start(1h);
        bool onCancelRan = false;
        bool cancelled = false;
        MessageCapture capture;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::cancellable(&timer, [&] {
                    onCancelRan = true;
                    timer.start(0ms); // make the foreign wait complete now
                    if (onCancelThrows)
                        throw std::runtime_error("boom in onCancel");
                });
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        scope.cancel();
        QAYO_TEST_JOIN(scope);
        QVERIFY(cancelled);
        QVERIFY(onCancelRan);
        QVERIFY(scope.errors().isEmpty()); // a throwing onCancel is not an error of the task
        const QStringList logged = capture.messages("qayo.cancel").filter(QStringLiteral("onCancel"));
        if (onCancelThrows) {
            QCOMPARE(logged.size(), 1);
            QVERIFY2(logged.first().contains(QStringLiteral("boom in onCancel")), qPrintable(logged.first()));
        } else {
            QVERIFY2(logged.isEmpty(), qPrintable(logged.join(u'\n')));
        }
    }

    void swallowedCancelIsReportedOnce()
    {
        QAyo::Scope scope({.name = QStringLiteral("stubborn")});
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("caught QAyo::Cancelled and awaited again")));
        int swallowed = 0;
        scope.asap([&]() -> QAyo::Task<> {
            for (int i = 0; i < 3; ++i) {
                try {
                    co_await QAyo::sleep(1h);
                } catch (const QAyo::Cancelled &) {
                    ++swallowed; // wrong on purpose
                }
            }
        });
        QVERIFY(spinUntil([&] { return scope.runningCount() == 1; }));
        scope.cancel();
        QAYO_TEST_JOIN(scope);
        QCOMPARE(swallowed, 3);
    }
};

QTEST_GUILESS_MAIN(WaitsTest)
#include "tst_waits.moc"
