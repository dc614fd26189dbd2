// SPDX-License-Identifier: MIT
// Bad input: every misuse raises a documented exception type whose message names the argument
// (or the scope) - never a crash, a hang or a silent no-op.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QCoreApplication>
#include <QTest>
#include <QThread>
#include <QThreadPool>
#include <QTimer>

#include <qcoro/qcorotask.h>

#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

using Misuse = std::function<void()>;

QAyo::Task<int> one()
{
    co_return 1;
}

//! A class with a member function, for member-pointer callables.
struct Counter
{
    int count = 0;
    int increment() { return ++count; }
};

//! Runs \a misuse; returns the name of the exception type it threw and stores its message.
QString classify(const Misuse &misuse, QString *message)
{
    try {
        misuse();
    } catch (const QAyo::InvalidArgument &e) {
        *message = e.message();
        return QStringLiteral("InvalidArgument");
    } catch (const QAyo::ScopeClosedError &e) {
        *message = e.message();
        return QStringLiteral("ScopeClosedError");
    } catch (const QAyo::InvalidStateError &e) {
        *message = e.message();
        return QStringLiteral("InvalidStateError");
    } catch (const QAyo::TaskCancelledError &e) {
        *message = e.message();
        return QStringLiteral("TaskCancelledError");
    } catch (const QAyo::TimeoutError &e) {
        *message = e.message();
        return QStringLiteral("TimeoutError");
    } catch (const QAyo::Error &e) {
        *message = e.message();
        return QStringLiteral("QAyo::Error");
    } catch (const std::exception &e) {
        *message = QString::fromUtf8(e.what());
        return QStringLiteral("std::exception");
    } catch (const QAyo::Cancelled &) {
        return QStringLiteral("QAyo::Cancelled");
    } catch (...) {
        return QStringLiteral("unknown exception");
    }
    return QStringLiteral("no exception");
}

//! Runs \a attempt, then \a cleanup whatever happened; rethrows what \a attempt threw.
void attemptThenCleanUp(const std::function<void()> &attempt, const std::function<void()> &cleanup)
{
    std::exception_ptr caught;
    try {
        attempt();
    } catch (...) {
        caught = std::current_exception();
    }
    cleanup();
    if (caught)
        std::rethrow_exception(caught);
}

//! co_awaits the task \a make returns from a QCoro::Task (so without a scope); rethrows its error.
void awaitFromQCoroTask(const std::function<QAyo::Task<int>()> &make)
{
    std::exception_ptr caught;
    bool done = false;
    auto driver = [&]() -> QCoro::Task<> {
        QAyo::Task<int> task = make();
        try {
            co_await std::move(task);
        } catch (...) {
            caught = std::current_exception();
        }
        done = true;
    };
    QCoro::Task<> running = driver();
    if (!spinUntil([&] { return done; }))
        throw std::runtime_error("the QCoro::Task did not finish");
    if (caught)
        std::rethrow_exception(caught);
}

//! A misuse done on a fresh scope.
Misuse inScope(std::function<void(QAyo::Scope &)> use)
{
    return [use = std::move(use)] {
        QAyo::Scope scope;
        use(scope);
    };
}

//! A scope named \a name that has been joined (closed).
std::unique_ptr<QAyo::Scope> joinedScope(const QString &name)
{
    auto scope = std::make_unique<QAyo::Scope>(QAyo::ScopeOptions{.name = name});
    scope->asap([] {});
    QAyo::Test::join(*scope);
    return scope;
}

//! Tries to spawn into its scope from its destructor, i.e. while the scope destroys the frame.
struct SpawnOnDestruction
{
    QAyo::Scope *scope;
    std::exception_ptr *caught;
    ~SpawnOnDestruction()
    {
        try {
            scope->asap([] {});
        } catch (...) {
            *caught = std::current_exception();
        }
    }
};

} // namespace

Q_DECLARE_METATYPE(Misuse)

class BadInputTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void misuseRaisesADocumentedError_data()
    {
        QTest::addColumn<Misuse>("misuse");
        QTest::addColumn<QString>("expectedType");
        QTest::addColumn<QStringList>("mentions");

        QTest::newRow("maxConcurrency < 0 in ScopeOptions")
            << Misuse([] { QAyo::Scope scope({.maxConcurrency = -1}); })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("maxConcurrency"), QStringLiteral("-1")};

        QTest::newRow("setMaxConcurrency(-3)")
            << Misuse([] {
                   QAyo::Scope scope;
                   scope.setMaxConcurrency(-3);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("maxConcurrency"), QStringLiteral("-3")};

        QTest::newRow("negative timeout")
            << Misuse([] { QAyo::Scope scope({.timeout = -5ms}); })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("timeout"), QStringLiteral("-5")};

        QTest::newRow("negative timeout in the block form")
            << Misuse([] {
                   auto body = []() -> QAyo::Task<> {
                       co_await QAyo::scope({.timeout = -7ms}, [](QAyo::Scope &) {});
                   };
                   QAyo::Test::run(body(), 3s);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("timeout"), QStringLiteral("-7")};

        QTest::newRow("maxConcurrency < 0 in the block form")
            << Misuse([] {
                   auto body = []() -> QAyo::Task<> {
                       co_await QAyo::scope({.maxConcurrency = -2}, [](QAyo::Scope &) {});
                   };
                   QAyo::Test::run(body(), 3s);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("maxConcurrency"), QStringLiteral("-2")};

        QTest::newRow("asap(task) into a joined scope")
            << Misuse([] { joinedScope(QStringLiteral("joined-1"))->asap(one()); })
            << QStringLiteral("ScopeClosedError") << QStringList{QStringLiteral("joined-1")};

        QTest::newRow("asap(callable) into a joined scope")
            << Misuse([] { joinedScope(QStringLiteral("joined-2"))->asap([] { return 2; }); })
            << QStringLiteral("ScopeClosedError") << QStringList{QStringLiteral("joined-2")};

        QTest::newRow("scope << task into a joined scope")
            << Misuse([] { *joinedScope(QStringLiteral("joined-3")) << one(); })
            << QStringLiteral("ScopeClosedError") << QStringList{QStringLiteral("joined-3")};

        QTest::newRow("asap(QCoro::Task) into a joined scope")
            << Misuse([] {
                   auto ready = []() -> QCoro::Task<int> { co_return 4; };
                   joinedScope(QStringLiteral("joined-4"))->asap(ready());
               })
            << QStringLiteral("ScopeClosedError") << QStringList{QStringLiteral("joined-4")};

        QTest::newRow("all() into a joined scope")
            << Misuse([] { joinedScope(QStringLiteral("joined-5"))->all(one(), one()); })
            << QStringLiteral("ScopeClosedError") << QStringList{QStringLiteral("joined-5")};

        QTest::newRow("spawn into a scope being destroyed")
            << Misuse([] {
                   std::exception_ptr caught;
                   auto owner = std::make_unique<QObject>();
                   auto *scope = new QAyo::Scope(QAyo::ScopeOptions{.name = QStringLiteral("dying")}, owner.get());
                   auto task = [scope, &caught]() -> QAyo::Task<> {
                       SpawnOnDestruction spawner{scope, &caught};
                       co_await QAyo::sleep(1h);
                   };
                   scope->asap(task);
                   if (!spinUntil([&] { return scope->runningCount() == 1; }))
                       throw std::runtime_error("the task did not start");
                   owner.reset(); // destroys the frame: ~SpawnOnDestruction spawns into the dying scope
                   if (caught)
                       std::rethrow_exception(caught);
               })
            << QStringLiteral("ScopeClosedError") << QStringList{QStringLiteral("dying")};

        QTest::newRow("spawn a moved-from task")
            << Misuse([] {
                   QAyo::Scope scope;
                   auto task = one();
                   auto other = std::move(task);
                   scope.asap(std::move(task));
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("task")};

        QTest::newRow("spawn a default-constructed task")
            << Misuse([] {
                   QAyo::Scope scope;
                   scope.asap(QAyo::Task<int>{});
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("task")};

        QTest::newRow("callable returns an empty task")
            << Misuse([] {
                   QAyo::Scope scope;
                   scope.asap([] { return QAyo::Task<int>{}; });
                   QAyo::Test::join(scope);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("task")};

        QTest::newRow("co_await an empty QAyo::Task in a QAyo::Task")
            << Misuse([] {
                   auto body = []() -> QAyo::Task<int> {
                       QAyo::Task<int> empty;
                       co_return co_await empty;
                   };
                   QAyo::Test::run(body(), 3s);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("task")};

        QTest::newRow("co_await a moved-from QAyo::Task in a QCoro::Task")
            << Misuse([] {
                   awaitFromQCoroTask([] {
                       auto task = one();
                       auto other = std::move(task);
                       return task; // the moved-from one
                   });
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("task")};

        QTest::newRow("Handle::result() before the task finished")
            << Misuse([] {
                   QAyo::Scope scope;
                   auto h = scope.asap(one());
                   h.setName(QStringLiteral("early"));
                   h.result();
               })
            << QStringLiteral("InvalidStateError")
            << QStringList{QStringLiteral("Handle::result()"), QStringLiteral("early")};

        QTest::newRow("Handle::result() of an invalid handle")
            << Misuse([] { QAyo::Handle<int>().result(); })
            << QStringLiteral("InvalidStateError") << QStringList{QStringLiteral("invalid handle")};

        QTest::newRow("co_await an invalid Handle")
            << Misuse([] {
                   auto body = []() -> QAyo::Task<int> {
                       QAyo::Handle<int> invalid;
                       co_return co_await invalid;
                   };
                   QAyo::Test::run(body(), 3s);
               })
            << QStringLiteral("InvalidStateError") << QStringList{QStringLiteral("invalid handle")};

        // --- QCoro tasks ---------------------------------------------------------------------

        QTest::newRow("asap(moved-from QCoro::Task)")
            << Misuse([] {
                   auto ready = []() -> QCoro::Task<int> { co_return 4; };
                   QAyo::Scope scope;
                   QCoro::Task<int> task = ready();
                   QCoro::Task<int> other = std::move(task);
                   scope.asap(std::move(task));
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("task"), QStringLiteral("QCoro::Task")};

        QTest::newRow("callable returns an empty QCoro::Task")
            << Misuse([] {
                   QAyo::Scope scope;
                   scope.asap([] { return QCoro::Task<int>{}; });
                   QAyo::Test::join(scope);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("task"), QStringLiteral("QCoro::Task")};

        // --- a QAyo::Task is awaited or spawned once ------------------------------------------

        QTest::newRow("co_await a QAyo::Task lvalue twice")
            << Misuse([] {
                   auto body = []() -> QAyo::Task<int> {
                       QAyo::Task<int> task = one();
                       const int first = co_await task;
                       co_return first + co_await task;
                   };
                   QAyo::Test::run(body(), 3s);
               })
            << QStringLiteral("InvalidStateError") << QStringList{QStringLiteral("co_await"), QStringLiteral("already awaited")};

        QTest::newRow("spawn a QAyo::Task that was awaited")
            << Misuse([] {
                   QAyo::Task<int> task = one();
                   auto body = [&task]() -> QAyo::Task<int> { co_return co_await task; };
                   QAyo::Test::run(body(), 3s);
                   QAyo::Scope scope;
                   scope.asap(std::move(task));
               })
            << QStringLiteral("InvalidStateError") << QStringList{QStringLiteral("asap"), QStringLiteral("already awaited")};

        QTest::newRow("co_await a QAyo::Task another task awaits")
            << Misuse([] {
                   auto slow = []() -> QAyo::Task<int> {
                       co_await QAyo::sleep(1h);
                       co_return 1;
                   };
                   QAyo::Task<int> task = slow();
                   QAyo::Scope scope;
                   scope.asap([&task]() -> QAyo::Task<> { co_await task; });
                   if (!spinUntil([&] { return scope.runningCount() == 1; }))
                       throw std::runtime_error("the first awaiter did not start");
                   auto second = [&task]() -> QAyo::Task<int> { co_return co_await task; };
                   attemptThenCleanUp([&] { QAyo::Test::run(second(), 3s); },
                                      [&] {
                                          scope.cancel();
                                          QAyo::Test::join(scope);
                                      });
               })
            << QStringLiteral("InvalidStateError") << QStringList{QStringLiteral("co_await"), QStringLiteral("already awaited")};

        // --- timeouts -------------------------------------------------------------------------

        QTest::newRow("signal(object, signal, negative timeout)")
            << Misuse([] {
                   QObject object;
                   auto wait = QAyo::signal(&object, &QObject::objectNameChanged, -5ms);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("signal"), QStringLiteral("-5")};

        QTest::newRow("withTimeout(-1ms)")
            << Misuse([] { QAyo::Test::run(QAyo::withTimeout(-1ms, one()), 3s); })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("timeout"), QStringLiteral("-1")};

        QTest::newRow("setTimeout(-5ms)")
            << Misuse([] {
                   QAyo::Scope scope;
                   scope.setTimeout(-5ms);
               })
            << QStringLiteral("InvalidArgument") << QStringList{QStringLiteral("timeout"), QStringLiteral("-5")};

        QTest::newRow("setTimeout after the scope started")
            << Misuse([] {
                   QAyo::Scope scope({.name = QStringLiteral("running-1")});
                   scope.asap([] {});
                   attemptThenCleanUp([&] { scope.setTimeout(1s); }, [&] { QAyo::Test::join(scope); });
               })
            << QStringLiteral("InvalidStateError") << QStringList{QStringLiteral("setTimeout"), QStringLiteral("running-1")};

        QTest::newRow("co_await QAyo::aside outside a task of a scope")
            << Misuse([] {
                   awaitFromQCoroTask([]() -> QAyo::Task<int> { co_return co_await QAyo::aside([] { return 1; }); });
               })
            << QStringLiteral("InvalidStateError") << QStringList{QStringLiteral("aside"), QStringLiteral("scope")};
    }

    void misuseRaisesADocumentedError()
    {
        QFETCH(Misuse, misuse);
        QFETCH(QString, expectedType);
        QFETCH(QStringList, mentions);
        QString message;
        const QString thrown = classify(misuse, &message);
        QVERIFY2(thrown == expectedType,
                 qPrintable(QStringLiteral("expected %1, got %2 (\"%3\")").arg(expectedType, thrown, message)));
        for (const QString &word : mentions)
            QVERIFY2(message.contains(word), qPrintable(QStringLiteral("\"%1\" does not mention %2").arg(message, word)));
    }

    void emptyCallableIsRejectedAtTheCall_data()
    {
        // Each call names itself and the argument: "<call>: the <argument> is empty ...".
        QTest::addColumn<Misuse>("misuse");
        QTest::addColumn<QString>("call");
        QTest::addColumn<QString>("argument");
        using Function = std::function<void()>;
        using TaskFunction = std::function<QAyo::Task<>()>;
        void (*nullFunction)() = nullptr;
        int (Counter::*nullMember)() = nullptr;
        const QString callable = QStringLiteral("callable");

        QTest::newRow("asap(std::function)") << inScope([](QAyo::Scope &s) { s.asap(TaskFunction{}); })
                                             << QStringLiteral("asap") << callable;
        QTest::newRow("asap(function pointer)") << inScope([=](QAyo::Scope &s) { s.asap(nullFunction); })
                                                << QStringLiteral("asap") << callable;
        QTest::newRow("asap(member pointer, object)") << inScope([=](QAyo::Scope &s) {
            Counter counter;
            s.asap(nullMember, &counter);
        }) << QStringLiteral("asap") << callable;
        QTest::newRow("asap(limiter, std::function)") << inScope([](QAyo::Scope &s) {
            QAyo::Limiter limiter(1);
            s.asap(&limiter, Function{});
        }) << QStringLiteral("asap") << callable;
        QTest::newRow("scope << std::function") << inScope([](QAyo::Scope &s) { s << TaskFunction{}; })
                                                << QStringLiteral("operator<<") << callable;
        QTest::newRow("fromCallable(function pointer)") << inScope([=](QAyo::Scope &s) { s.fromCallable(nullFunction); })
                                                        << QStringLiteral("fromCallable") << callable;
        QTest::newRow("map(std::function)")
            << inScope([](QAyo::Scope &s) { [[maybe_unused]] auto all = s.map(std::function<int(int)>{}, QList<int>{1, 2}); })
            << QStringLiteral("map") << callable;
        QTest::newRow("start(std::function)") << inScope([](QAyo::Scope &s) {
            [[maybe_unused]] auto starting = s.start(std::function<QAyo::Task<>(QAyo::Started<int>)>{});
        }) << QStringLiteral("start") << callable;
        QTest::newRow("after(std::function)") << inScope([](QAyo::Scope &s) { s.after(1s, Function{}); })
                                              << QStringLiteral("after") << callable;
        QTest::newRow("at(function pointer)")
            << inScope([=](QAyo::Scope &s) { s.at(QDateTime::currentDateTime(), nullFunction); })
            << QStringLiteral("at") << callable;
        QTest::newRow("every(std::function)") << inScope([](QAyo::Scope &s) { s.every(1s, Function{}); })
                                              << QStringLiteral("every") << callable;
        QTest::newRow("Scope::aside(std::function)") << inScope([](QAyo::Scope &s) { s.aside(Function{}); })
                                                     << QStringLiteral("aside") << callable;
        QTest::newRow("Scope::asideIn(pool, function pointer)")
            << inScope([=](QAyo::Scope &s) { s.asideIn(QThreadPool::globalInstance(), nullFunction); })
            << QStringLiteral("asideIn") << callable;
        QTest::newRow("Scope::aside(limiter, std::function)") << inScope([](QAyo::Scope &s) {
            QAyo::Limiter limiter(1);
            s.aside(&limiter, Function{});
        }) << QStringLiteral("aside") << callable;
        QTest::newRow("QAyo::aside(std::function)") << Misuse([] { [[maybe_unused]] auto request = QAyo::aside(Function{}); })
                                                    << QStringLiteral("aside") << callable;
        QTest::newRow("QAyo::asideIn(pool, function pointer)")
            << Misuse([=] { [[maybe_unused]] auto request = QAyo::asideIn(QThreadPool::globalInstance(), nullFunction); })
            << QStringLiteral("asideIn") << callable;
        QTest::newRow("QAyo::scope(body)")
            << Misuse([] { [[maybe_unused]] auto block = QAyo::scope(std::function<void(QAyo::Scope &)>{}); })
            << QStringLiteral("scope") << QStringLiteral("body");
        QTest::newRow("cancellable(awaitable, onCancel)")
            << Misuse([] { [[maybe_unused]] auto request = QAyo::cancellable(QAyo::sleep(1ms), Function{}); })
            << QStringLiteral("cancellable") << QStringLiteral("onCancel callback");
        QTest::newRow("Runner::addHook(std::function)") << Misuse([] {
            QAyo::Runner runner;
            runner.addHook(QAyo::Runner::Hook::Started, Function{});
        }) << QStringLiteral("Runner::addHook") << QStringLiteral("hook");
        QTest::newRow("Runner::start(std::function)") << Misuse([] {
            QAyo::Runner runner;
            runner.start(std::function<QAyo::Task<>(QAyo::Scope &)>{});
        }) << QStringLiteral("Runner::start") << QStringLiteral("main function");
    }

    void emptyCallableIsRejectedAtTheCall()
    {
        QFETCH(Misuse, misuse);
        QFETCH(QString, call);
        QFETCH(QString, argument);
        QString message;
        const QString thrown = classify(misuse, &message);
        QVERIFY2(thrown == QStringLiteral("InvalidArgument"),
                 qPrintable(QStringLiteral("expected InvalidArgument, got %1 (\"%2\")").arg(thrown, message)));
        const QString expected = QStringLiteral("%1: the %2 is empty").arg(call, argument);
        QVERIFY2(message.startsWith(expected), qPrintable(QStringLiteral("\"%1\" does not start with \"%2\"").arg(message, expected)));
    }

    void rejectedSetMaxConcurrencyKeepsTheLimit()
    {
        QAyo::Scope scope({.maxConcurrency = 4});
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, scope.setMaxConcurrency(-1));
        QCOMPARE(scope.maxConcurrency(), 4);
    }

    void scopeStaysUsableAfterARejectedSpawn()
    {
        QAyo::Scope scope;
        auto task = one();
        auto moved = std::move(task);
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, scope.asap(std::move(task)));
        QCOMPARE(scope.pendingCount(), 0);
        QVERIFY(!scope.isActive());
        auto h = scope.asap(std::move(moved));
        QAYO_TEST_JOIN(scope);
        QCOMPARE(h.result(), 1);
    }

    void spawnFromAnotherThreadIntoAJoinedScopeIsNotLost()
    {
        // Posted to the scope's thread, where the scope turns out to be closed: the handle must
        // still end (cancelled), never hang.
        auto scope = joinedScope(QStringLiteral("joined-remote"));
        QAyo::Handle<int> h;
        bool threw = false;
        std::unique_ptr<QThread> thread(QThread::create([&] {
            try {
                h = scope->asap([] { return 5; });
            } catch (const QAyo::ScopeClosedError &) {
                threw = true;
            }
        }));
        thread->start();
        QVERIFY(thread->wait(3000));
        QVERIFY(threw || spinUntil([&] { return h.isFinished(); }));
        if (!threw) {
            QVERIFY(h.isCancelled());
            QVERIFY_THROWS_EXCEPTION(QAyo::TaskCancelledError, h.result());
        }
    }

    void movingAScopeWithWorkToAnotherThreadIsRefused_data()
    {
        QTest::addColumn<QString>("holds");
        QTest::newRow("a sleeping task") << QStringLiteral("task");
        QTest::newRow("an armed timeout, no work") << QStringLiteral("timeout");
        QTest::newRow("a schedule that does not hold exit") << QStringLiteral("schedule");
        QTest::newRow("moved as the child of its owner") << QStringLiteral("child");
    }

    void movingAScopeWithWorkToAnotherThreadIsRefused()
    {
        // Its tasks, deadlines and schedules live in this thread's queues: Qt cannot be told to
        // refuse a move, so the scope refuses it by throwing from the ThreadChange event, before
        // Qt changed anything. The scope then goes on working where it is.
        QFETCH(QString, holds);
        QThread worker;
        worker.start();
        QObject owner;
        QAyo::ScopeOptions options{.name = QStringLiteral("busy-scope")};
        if (holds == QLatin1String("timeout"))
            options.timeout = 1h;
        auto *scope = new QAyo::Scope(options, holds == QLatin1String("child") ? &owner : nullptr);
        std::unique_ptr<QAyo::Scope> ownScope(holds == QLatin1String("child") ? nullptr : scope);
        bool cancelled = false;
        if (holds == QLatin1String("task") || holds == QLatin1String("child"))
            scope->asap(sleepForever(&cancelled));
        else if (holds == QLatin1String("timeout"))
            scope->asap([] {});
        else
            scope->every(1h, [] {}).dontHoldExit();
        spinUntil([&] { return scope->runningCount() > 0 || !scope->isActive(); });
        QObject *moved = holds == QLatin1String("child") ? &owner : static_cast<QObject *>(scope);
        try {
            moved->moveToThread(&worker);
            QFAIL("moveToThread() of a scope with work on its thread did not throw");
        } catch (const QAyo::InvalidStateError &error) {
            const QString message = QString::fromUtf8(error.what());
            QVERIFY2(message.contains(QLatin1String("moveToThread")), qPrintable(message));
            QVERIFY2(message.contains(QLatin1String("busy-scope")), qPrintable(message));
        }
        QCOMPARE(scope->thread(), QThread::currentThread());
        QCOMPARE(owner.thread(), QThread::currentThread());
        // Still fully usable where it is.
        auto h = scope->asap([] { return 7; });
        spinUntil([&] { return h.isFinished(); });
        QCOMPARE(h.result(), 7);
        scope->cancel();
        QAYO_TEST_JOIN(*scope);
        if (holds == QLatin1String("task") || holds == QLatin1String("child"))
            QVERIFY(cancelled);
        // Joined, it holds nothing here any more: now it may move.
        moved->moveToThread(&worker);
        QCOMPARE(scope->thread(), &worker);
        if (holds == QLatin1String("child")) {
            QMetaObject::invokeMethod(&owner, [&owner] { owner.moveToThread(QCoreApplication::instance()->thread()); },
                                      Qt::BlockingQueuedConnection);
        } else {
            QAyo::Scope *raw = ownScope.release();
            QMetaObject::invokeMethod(raw, [raw] { delete raw; }, Qt::BlockingQueuedConnection);
        }
        worker.quit();
        QVERIFY(worker.wait(5000));
    }

    void movingAnIdleScopeToAnotherThreadWorks()
    {
        // Never started: nothing of it lives in this thread's queues.
        QThread worker;
        worker.start();
        auto *scope = new QAyo::Scope;
        scope->moveToThread(&worker);
        QCOMPARE(scope->thread(), &worker);
        QAyo::Handle<int> h;
        QMetaObject::invokeMethod(scope, [&] { h = scope->asap([] { return 3; }); }, Qt::BlockingQueuedConnection);
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QCOMPARE(h.result(), 3);
        QMetaObject::invokeMethod(scope, [scope] { delete scope; }, Qt::BlockingQueuedConnection);
        worker.quit();
        QVERIFY(worker.wait(5000));
    }
};

QTEST_GUILESS_MAIN(BadInputTest)
#include "tst_badinput.moc"
