// SPDX-License-Identifier: MIT
// QAyo::Scope: start order, concurrency limit, lazy spawning, results, handles, errors,
// supervision, the join, signals and properties, and the block form QAyo::scope().
//
// Tests whose tasks sleep to finish in a scrambled order run on an autojump virtual clock: the
// order is exact and costs no real time.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QSignalSpy>
#include <QTest>

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

// Coroutine frames of countedTask(): made, alive now, most alive at once.
int g_framesCreated = 0;
int g_framesAlive = 0;
int g_maxFramesAlive = 0;

//! Lives in a coroutine frame as a parameter: counts the frame from creation to destruction.
class FrameToken
{
public:
    FrameToken()
    {
        ++g_framesCreated;
        g_maxFramesAlive = std::max(g_maxFramesAlive, ++g_framesAlive);
    }
    // The parameter is moved into the frame: only one of the two copies counts.
    FrameToken(FrameToken &&other) noexcept : m_counts(std::exchange(other.m_counts, false)) {}
    FrameToken(const FrameToken &) = delete;
    FrameToken &operator=(const FrameToken &) = delete;
    FrameToken &operator=(FrameToken &&) = delete;
    ~FrameToken()
    {
        if (m_counts)
            --g_framesAlive;
    }

private:
    bool m_counts = true;
};

QAyo::Task<int> countedTask(FrameToken token, int value)
{
    Q_UNUSED(token);
    co_await QAyo::checkpoint(); // a real suspension: frames could overlap if started eagerly
    co_return value;
}

QAyo::Task<int> valueAfter(std::chrono::milliseconds delay, int value)
{
    co_await QAyo::sleep(delay);
    co_return value;
}

} // namespace

class ScopeTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    // --- starting -------------------------------------------------------------------------

    void startsInFifoOrder_data()
    {
        QTest::addColumn<int>("limit");
        QTest::newRow("unlimited") << 0;
        QTest::newRow("limit 1") << 1;
        QTest::newRow("limit 3") << 3;
    }

    void startsInFifoOrder()
    {
        QFETCH(int, limit);
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.maxConcurrency = limit});
        QList<int> started;
        QList<int> finished;
        auto job = [&started, &finished](int i) -> QAyo::Task<> {
            started.append(i);
            // Scrambled durations: the finishing order differs from the start order.
            co_await QAyo::sleep(std::chrono::milliseconds((i * 7) % 5 + 1));
            finished.append(i);
        };
        for (int i = 0; i < 10; ++i)
            scope.asap(job, i);
        QAYO_TEST_JOIN(scope);
        QCOMPARE(started, (QList<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    }

    void startIsNeverInsideTheSpawningCall()
    {
        QAyo::Scope scope;
        bool taskRan = false;
        bool callableRan = false;
        bool chainedRan = false;
        auto h = scope.asap([&taskRan]() -> QAyo::Task<> {
            taskRan = true;
            co_return;
        });
        QVERIFY(!taskRan);
        scope.asap([&callableRan] { callableRan = true; });
        QVERIFY(!callableRan);
        scope << [&chainedRan] { chainedRan = true; };
        QVERIFY(!chainedRan);
        QCOMPARE(scope.pendingCount(), 3);
        QAYO_TEST_JOIN(scope);
        QVERIFY(taskRan);
        QVERIFY(callableRan);
        QVERIFY(chainedRan);
    }

    void spawnFromInsideATaskStartsLater()
    {
        QAyo::Scope scope;
        bool childRan = false;
        bool childRanInsideSpawn = true;
        bool childRanAfterYield = false;
        scope.asap([&]() -> QAyo::Task<> {
            scope.asap([&childRan] { childRan = true; });
            childRanInsideSpawn = childRan;
            while (!childRan)
                co_await QAyo::checkpoint();
            childRanAfterYield = childRan;
        });
        QAYO_TEST_JOIN(scope);
        QVERIFY(!childRanInsideSpawn);
        QVERIFY(childRanAfterYield);
    }

    void maxConcurrencyIsNeverExceeded_data()
    {
        QTest::addColumn<int>("tasks");
        QTest::addColumn<int>("limit");
        QTest::newRow("20 tasks, limit 10") << 20 << 10;
        QTest::newRow("10 tasks, limit 1") << 10 << 1;
        QTest::newRow("12 tasks, limit 3") << 12 << 3;
        QTest::newRow("6 tasks, unlimited") << 6 << 0;
    }

    void maxConcurrencyIsNeverExceeded()
    {
        QFETCH(int, tasks);
        QFETCH(int, limit);
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.maxConcurrency = limit});
        int running = 0;
        int maxRunning = 0;
        int maxReportedRunning = 0;
        int done = 0;
        connect(&scope, &QAyo::Scope::taskStarted, this,
                [&] { maxReportedRunning = std::max(maxReportedRunning, scope.runningCount()); });
        auto job = [&](int i) -> QAyo::Task<> {
            maxRunning = std::max(maxRunning, ++running);
            co_await QAyo::sleep(std::chrono::milliseconds(i % 3 + 1));
            --running;
            ++done;
        };
        for (int i = 0; i < tasks; ++i)
            scope.asap(job, i);
        QAYO_TEST_JOIN(scope);
        QCOMPARE(done, tasks);
        const int expected = limit == 0 ? tasks : std::min(limit, tasks);
        // Never above the limit, and the limit is used: all slots fill in the first turn.
        QCOMPARE(maxRunning, expected);
        QVERIFY2(maxReportedRunning <= expected, qPrintable(QString::number(maxReportedRunning)));
    }

    void raisingMaxConcurrencyStartsQueuedWork()
    {
        QAyo::Scope scope({.maxConcurrency = 1});
        bool release = false;
        int started = 0;
        auto job = [&]() -> QAyo::Task<> {
            ++started;
            co_await waitUntil(&release);
        };
        for (int i = 0; i < 3; ++i)
            scope.asap(job);
        QVERIFY(spinUntil([&] { return started == 1; }));
        QCOMPARE(scope.pendingCount(), 2);
        QSignalSpy changed(&scope, &QAyo::Scope::maxConcurrencyChanged);
        scope.setMaxConcurrency(3);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(scope.maxConcurrency(), 3);
        QVERIFY(spinUntil([&] { return started == 3; }));
        QCOMPARE(scope.runningCount(), 3);
        release = true;
        QAYO_TEST_JOIN(scope);
    }

    void lazyCallablesCreateNoFrameUntilASlotIsFree()
    {
        g_framesCreated = g_framesAlive = g_maxFramesAlive = 0;
        constexpr int count = 1000;
        QAyo::Scope scope({.maxConcurrency = 1});
        auto make = [](int i) { return countedTask(FrameToken{}, i); };
        QList<QAyo::Handle<int>> handles;
        for (int i = 0; i < count; ++i)
            handles.append(scope.asap(make, i));
        QCOMPARE(g_framesCreated, 0); // spawning stored callables only
        QCOMPARE(scope.pendingCount(), count);
        QAYO_TEST_JOIN(scope);
        QCOMPARE(g_framesCreated, count);
        QCOMPARE(g_framesAlive, 0);
        QVERIFY2(g_maxFramesAlive <= 2, qPrintable(QString::number(g_maxFramesAlive)));
        long long sum = 0;
        for (const auto &h : handles)
            sum += h.result();
        QCOMPARE(sum, (long long)count * (count - 1) / 2);
    }

    void fromCallableIsAsap()
    {
        QAyo::Scope scope;
        auto h = scope.fromCallable([](int a, int b) { return a + b; }, 2, 3);
        static_assert(std::is_same_v<decltype(h), QAyo::Handle<int>>);
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QCOMPARE(h.result(), 5);
    }

    void callableArgumentsAreCopied()
    {
        QAyo::Scope scope;
        QString text = QStringLiteral("before");
        auto h = scope.asap([](QString s) { return s; }, text);
        text = QStringLiteral("after");
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QCOMPARE(h.result(), QStringLiteral("before"));
    }

    // --- results and handles ---------------------------------------------------------------

    void resultsAreInSpawnOrder()
    {
        const auto clock = installVirtualClock();
        QAyo::Scope scope;
        QList<int> finished;
        auto job = [&finished](int i) -> QAyo::Task<int> {
            co_await QAyo::sleep(std::chrono::milliseconds((5 - i) * 10));
            finished.append(i);
            co_return i * 10;
        };
        for (int i = 0; i < 5; ++i) {
            scope.asap(job, i);
            if (i == 2)
                scope.asap([]() -> QAyo::Task<> { co_return; }); // void: no entry in results()
        }
        QAYO_TEST_JOIN(scope);
        QCOMPARE(finished, (QList<int>{4, 3, 2, 1, 0})); // the premise: reverse finishing
        const QVariantList expected{0, 10, 20, 30, 40};
        QCOMPARE(scope.results(), expected);
        QCOMPARE(scope.property("results").toList(), expected);
    }

    void collectResultsOffKeepsNoResults()
    {
        QAyo::Scope scope({.collectResults = false});
        auto h = scope.asap(valueAfter(1ms, 7));
        QAYO_TEST_JOIN(scope);
        QCOMPARE(h.result(), 7);
        QVERIFY(scope.results().isEmpty());
    }

    void mapReturnsResultsInInputOrder()
    {
        const auto clock = installVirtualClock();
        auto square = [](int x) -> QAyo::Task<int> {
            co_await QAyo::sleep(std::chrono::milliseconds((6 - x) * 5)); // later ones end first
            co_return x * x;
        };
        QList<int> squares;
        QList<int> plusOne;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Scope scope({.maxConcurrency = 3});
            // Named lists: GCC 12 rejects initializer lists inside a co_await expression.
            const QList<int> small{1, 2, 3, 4, 5};
            const std::vector<int> more{5, 6, 7};
            squares = co_await scope.map(square, small);
            plusOne = co_await scope.map([](int x) { return x + 1; }, more);
            co_await scope;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(squares, (QList<int>{1, 4, 9, 16, 25}));
        QCOMPARE(plusOne, (QList<int>{6, 7, 8}));
    }

    void allReturnsHandles()
    {
        auto text = []() -> QAyo::Task<QString> { co_return QStringLiteral("x"); };
        QAyo::Scope scope;
        auto [a, b, c] = scope.all(valueAfter(2ms, 1), text(), [] { return 3; });
        static_assert(std::is_same_v<decltype(a), QAyo::Handle<int>>);
        static_assert(std::is_same_v<decltype(b), QAyo::Handle<QString>>);
        static_assert(std::is_same_v<decltype(c), QAyo::Handle<int>>);

        std::vector<QAyo::Task<int>> tasks;
        for (int i = 0; i < 4; ++i)
            tasks.push_back(valueAfter(std::chrono::milliseconds(4 - i), i * 100));
        QList<QAyo::Handle<int>> handles = scope.all(tasks);
        QCOMPARE(handles.size(), 4);
        QVERIFY(std::none_of(tasks.begin(), tasks.end(), [](const auto &t) { return t.isValid(); }));

        QAYO_TEST_JOIN(scope);
        QCOMPARE(a.result(), 1);
        QCOMPARE(b.result(), QStringLiteral("x"));
        QCOMPARE(c.result(), 3);
        for (int i = 0; i < 4; ++i)
            QCOMPARE(handles.at(i).result(), i * 100);
    }

    void handleReportsResultStateAndName()
    {
        QAyo::Scope scope;
        bool release = false;
        auto h = scope.asap([&release]() -> QAyo::Task<int> {
            co_await waitUntil(&release);
            co_return 42;
        });
        QVERIFY(h.isValid());
        QVERIFY(!h.isFinished());
        QVERIFY2(h.name().startsWith(QLatin1String("task#")), qPrintable(h.name()));
        h.setName(QStringLiteral("answer"));
        QCOMPARE(h.name(), QStringLiteral("answer"));
        const QAyo::Handle<int> copy = h; // shares the task
        QCOMPARE(copy.name(), QStringLiteral("answer"));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, h.result());

        release = true;
        QVERIFY(spinUntil([&] { return copy.isFinished(); }));
        QCOMPARE(h.result(), 42);
        QCOMPARE(copy.result(), 42);
        QVERIFY(!h.isCancelled());
        QVERIFY(!h.isFailed());

        h.cancel(); // harmless on a finished task
        QCOMPARE(h.result(), 42);
        QVERIFY(!h.isCancelled());
        QVERIFY(!scope.isCancelled());

        const QAyo::Handle<int> invalid;
        QVERIFY(!invalid.isValid());
        QVERIFY(!invalid.isFinished());
        QCOMPARE(invalid.name(), QString());
        invalid.cancel(); // harmless
    }

    void handleOfFailedTaskRethrowsItsError()
    {
        QAyo::Scope scope({.supervise = true});
        auto h = scope.asap([]() -> QAyo::Task<int> {
            co_await QAyo::checkpoint();
            throw std::invalid_argument("bad input");
        });
        QVERIFY(spinUntil([&] { return h.isFinished(); }));
        QVERIFY(h.isFailed());
        QVERIFY(!h.isCancelled());
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, h.result());
        QCOMPARE(scope.errorMessages(), QStringList{QStringLiteral("bad input")});
    }

    void handleOutlivesItsScope()
    {
        QAyo::Handle<int> h;
        {
            QAyo::Scope scope;
            h = scope.asap(valueAfter(1ms, 5));
            QVERIFY(spinUntil([&] { return h.isFinished(); }));
        }
        QVERIFY(h.isValid());
        QCOMPARE(h.result(), 5);
    }

    // --- errors ----------------------------------------------------------------------------

    void errorInChildCancelsSiblings()
    {
        QAyo::Scope scope({.maxConcurrency = 2});
        bool siblingCancelled = false;
        bool queuedRan = false;
        auto sibling = scope.asap(sleepForever(&siblingCancelled));
        scope.asap(failAfter(5ms, QStringLiteral("boom")));
        auto queued = scope.asap([&queuedRan] { queuedRan = true; }); // waits for a slot
        QCOMPARE(joinError<std::runtime_error>(scope), QStringLiteral("boom"));
        QVERIFY(siblingCancelled);
        QVERIFY(sibling.isCancelled());
        QVERIFY(!queuedRan);
        QVERIFY(queued.isCancelled());
        QVERIFY(scope.isCancelled());
    }

    void firstErrorIsRethrownAndLaterErrorsAreKept()
    {
        QAyo::Scope scope;
        QSignalSpy failed(&scope, &QAyo::Scope::taskFailed);
        scope.asap(failAfter(5ms, QStringLiteral("first")));
        scope.asap([]() -> QAyo::Task<> {
            try {
                co_await QAyo::sleep(1h);
            } catch (const QAyo::Cancelled &) {
                throw std::logic_error("second"); // fails while being cancelled
            }
        });
        // A std::runtime_error: the original exception, not a copy of its message.
        QCOMPARE(joinError<std::runtime_error>(scope), QStringLiteral("first"));
        const auto errors = scope.errors();
        QCOMPARE(errors.size(), 2);
        QCOMPARE(QAyo::Test::describe(errors.at(0)), QStringLiteral("first"));
        QCOMPARE(QAyo::Test::describe(errors.at(1)), QStringLiteral("second"));
        QVERIFY_THROWS_EXCEPTION(std::logic_error, std::rethrow_exception(errors.at(1)));
        QCOMPARE(scope.errorMessages(), (QStringList{QStringLiteral("first"), QStringLiteral("second")}));
        QCOMPARE(failed.count(), 2);
        QCOMPARE(failed.at(0).at(0).toString(), QStringLiteral("first"));
        QCOMPARE(failed.at(1).at(0).toString(), QStringLiteral("second"));
    }

    void superviseKeepsSiblingsRunning()
    {
        const auto clock = installVirtualClock();
        QAyo::Scope scope({.supervise = true});
        QVERIFY(scope.isSupervising());
        QSignalSpy failed(&scope, &QAyo::Scope::taskFailed);
        bool siblingDone = false;
        scope.asap(failAfter(2ms, QStringLiteral("a")));
        scope.asap(failAfter(6ms, QStringLiteral("b")));
        auto sibling = scope.asap([&siblingDone]() -> QAyo::Task<int> {
            co_await QAyo::sleep(30ms);
            siblingDone = true;
            co_return 1;
        });
        QAYO_TEST_JOIN(scope); // supervise: the errors are not rethrown
        QVERIFY(siblingDone);
        QCOMPARE(sibling.result(), 1);
        QVERIFY(!scope.isCancelled());
        QCOMPARE(scope.errorMessages(), (QStringList{QStringLiteral("a"), QStringLiteral("b")}));
        QCOMPARE(failed.count(), 2);
        QCOMPARE(failed.at(0).at(0).toString(), QStringLiteral("a"));
        QCOMPARE(failed.at(1).at(0).toString(), QStringLiteral("b"));
    }

    void plainCallableThrowingIsAnError()
    {
        QAyo::Scope scope;
        scope.asap([]() -> int { throw std::runtime_error("plain"); });
        QCOMPARE(joinError(scope), QStringLiteral("plain"));
        QCOMPARE(scope.errorMessages(), QStringList{QStringLiteral("plain")});
    }

    // --- join ------------------------------------------------------------------------------

    void joinClosesTheScope()
    {
        QAyo::Scope scope({.name = QStringLiteral("closing")});
        scope.asap([] {});
        QAYO_TEST_JOIN(scope);
        QVERIFY(scope.isFinished());
        QVERIFY(scope.property("finished").toBool());
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, scope.asap([] {}));
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, scope << [] {});
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, scope.asap(valueAfter(1ms, 1)));
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError, scope.fromCallable([] { return 1; }));
    }

    void joiningAnEmptyScopeFinishesAtOnce()
    {
        QAyo::Scope scope;
        QSignalSpy started(&scope, &QAyo::Scope::started);
        QSignalSpy finished(&scope, &QAyo::Scope::finished);
        QAYO_TEST_JOIN(scope);
        QVERIFY(scope.isFinished());
        QVERIFY(scope.isStarted());
        QCOMPARE(finished.count(), 1);
        QCOMPARE(started.count(), 1); // "the scope started (its first spawn or join)"
    }

    void joiningAgainReturnsAtOnce()
    {
        QAyo::Scope scope;
        scope.asap(valueAfter(1ms, 1));
        int joins = 0;
        auto body = [&]() -> QAyo::Task<> {
            co_await scope;
            ++joins;
            co_await scope;
            ++joins;
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(joins, 2);
    }

    void severalJoinersAreAllReleased()
    {
        QAyo::Scope scope;
        scope.asap(valueAfter(5ms, 1));
        int released = 0;
        QAyo::Scope joiners;
        for (int i = 0; i < 3; ++i) {
            joiners.asap([&]() -> QAyo::Task<> {
                co_await scope;
                ++released;
            });
        }
        QVERIFY(spinUntil([&] { return !joiners.isActive(); }));
        QCOMPARE(released, 3);
    }

    void tasksSpawnedWhileJoiningAreWaitedFor()
    {
        QAyo::Scope scope;
        bool lateDone = false;
        scope.asap([&]() -> QAyo::Task<> {
            co_await QAyo::sleep(5ms); // the join is waiting by now
            scope.asap([&lateDone]() -> QAyo::Task<> {
                co_await QAyo::sleep(10ms);
                lateDone = true;
            });
        });
        bool lateDoneAtJoin = false;
        auto body = [&]() -> QAyo::Task<> {
            co_await scope;
            lateDoneAtJoin = lateDone;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(lateDoneAtJoin);
    }

    void taskSpawnedWhenTheScopeGoesIdleIsWaitedFor()
    {
        // The last task ends while a join waits; a slot spawns more work at that very moment.
        QAyo::Scope scope;
        bool lateDone = false;
        bool spawnedLate = false;
        connect(&scope, &QAyo::Scope::activeChanged, this, [&] {
            if (scope.isActive() || spawnedLate)
                return;
            spawnedLate = true;
            scope.asap([&lateDone]() -> QAyo::Task<> {
                co_await QAyo::sleep(5ms);
                lateDone = true;
            });
        });
        scope.asap(valueAfter(2ms, 1));
        bool lateDoneAtJoin = false;
        auto body = [&]() -> QAyo::Task<> {
            co_await scope;
            lateDoneAtJoin = lateDone;
        };
        QAYO_TEST_RUN(body());
        QVERIFY(spawnedLate);
        QVERIFY(lateDoneAtJoin);
    }

    // --- signals and properties ------------------------------------------------------------

    void signalsAndPropertiesFollowTheLifecycle()
    {
        QAyo::Scope scope({.maxConcurrency = 2, .name = QStringLiteral("life")});
        QSignalSpy started(&scope, &QAyo::Scope::started);
        QSignalSpy taskStarted(&scope, &QAyo::Scope::taskStarted);
        QSignalSpy taskFinished(&scope, &QAyo::Scope::taskFinished);
        QSignalSpy finished(&scope, &QAyo::Scope::finished);
        QSignalSpy activeChanged(&scope, &QAyo::Scope::activeChanged);
        QSignalSpy runningChanged(&scope, &QAyo::Scope::runningChanged);
        QSignalSpy pendingChanged(&scope, &QAyo::Scope::pendingChanged);

        QCOMPARE(scope.property("name").toString(), QStringLiteral("life"));
        QVERIFY(!scope.isStarted());
        QVERIFY(!scope.property("active").toBool());
        QCOMPARE(scope.property("running").toInt(), 0);
        QCOMPARE(scope.property("pending").toInt(), 0);

        bool release = false;
        for (int i = 0; i < 3; ++i)
            scope.asap(waitUntil(&release));
        QCOMPARE(started.count(), 1);
        QVERIFY(scope.isStarted());
        QCOMPARE(scope.property("pending").toInt(), 3);
        QCOMPARE(scope.property("running").toInt(), 0);
        QVERIFY(scope.property("active").toBool());
        QCOMPARE(activeChanged.count(), 1);
        QVERIFY(pendingChanged.count() >= 1);

        QVERIFY(spinUntil([&] { return taskStarted.count() == 2; }));
        QCOMPARE(scope.runningCount(), 2);
        QCOMPARE(scope.pendingCount(), 1);
        QVERIFY(runningChanged.count() >= 2);
        QCOMPARE(taskFinished.count(), 0);

        release = true;
        QAYO_TEST_JOIN(scope);
        QCOMPARE(started.count(), 1);
        QCOMPARE(taskStarted.count(), 3);
        QCOMPARE(taskFinished.count(), 3);
        QCOMPARE(finished.count(), 1);
        QCOMPARE(activeChanged.count(), 2);
        QCOMPARE(scope.runningCount(), 0);
        QCOMPARE(scope.pendingCount(), 0);
        QVERIFY(!scope.isActive());
        QVERIFY(scope.isFinished());
        QVERIFY(!scope.property("cancelled").toBool());
        QVERIFY(!scope.property("timedOut").toBool());
    }

    void namePropertyNotifies()
    {
        QAyo::Scope scope;
        QSignalSpy nameChanged(&scope, &QAyo::Scope::nameChanged);
        QVERIFY(scope.setProperty("name", QStringLiteral("renamed")));
        QCOMPARE(scope.name(), QStringLiteral("renamed"));
        QCOMPARE(nameChanged.count(), 1);
        scope.setName(QStringLiteral("renamed"));
        QCOMPARE(nameChanged.count(), 1); // unchanged: no signal
    }

    // --- block form ------------------------------------------------------------------------

    void blockFormWithPlainBody()
    {
        bool ranInsideBody = true;
        bool allFinishedAtReturn = false;
        QAyo::ScopeOutcome outcome;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Handle<int> a;
            QAyo::Handle<int> b;
            outcome = co_await QAyo::scope([&](QAyo::Scope &s) {
                a = s.asap(valueAfter(5ms, 1));
                b = s.asap(valueAfter(1ms, 2));
                ranInsideBody = a.isFinished() || b.isFinished();
            });
            allFinishedAtReturn = a.isFinished() && b.isFinished();
        };
        QAYO_TEST_RUN(body());
        QVERIFY(!ranInsideBody);
        QVERIFY(allFinishedAtReturn);
        QCOMPARE(outcome.results, (QVariantList{1, 2}));
        QVERIFY(!outcome.timedOut);
        QVERIFY(!outcome.cancelled);
        QVERIFY(outcome.errors.isEmpty());
    }

    void blockFormWithCoroutineBody()
    {
        bool allFinishedAtReturn = false;
        int sum = 0;
        QAyo::ScopeOutcome outcome;
        auto body = [&]() -> QAyo::Task<> {
            QAyo::Handle<int> a;
            QAyo::Handle<int> late;
            outcome = co_await QAyo::scope([&](QAyo::Scope &s) -> QAyo::Task<> {
                a = s.asap(valueAfter(2ms, 10));
                sum += co_await a;
                late = s.asap(valueAfter(5ms, 20)); // spawned after awaiting: still joined
            });
            allFinishedAtReturn = a.isFinished() && late.isFinished();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(sum, 10);
        QVERIFY(allFinishedAtReturn);
        QCOMPARE(outcome.results, (QVariantList{10, 20})); // the body itself has no result
    }

    void coroutineBodyDoesNotCountAgainstMaxConcurrency()
    {
        QList<int> values;
        auto body = [&]() -> QAyo::Task<> {
            co_await QAyo::scope({.maxConcurrency = 1}, [&](QAyo::Scope &s) -> QAyo::Task<> {
                auto a = s.asap(valueAfter(1ms, 1));
                auto b = s.asap(valueAfter(1ms, 2));
                values.append(co_await a); // would never start if the body held the only slot
                values.append(co_await b);
            });
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(values, (QList<int>{1, 2}));
    }

    void plainBodyThrowingCancelsTheOthersAndRethrows()
    {
        bool sleeperCancelled = false;
        bool sleeperFinishedAtReturn = false;
        QAyo::Handle<void> sleeper;
        QString caught;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::scope([&](QAyo::Scope &s) {
                    sleeper = s.asap(sleepForever(&sleeperCancelled));
                    throw std::runtime_error("body failed");
                });
            } catch (const std::runtime_error &e) {
                caught = QString::fromUtf8(e.what());
            }
            sleeperFinishedAtReturn = sleeper.isFinished();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(caught, QStringLiteral("body failed"));
        QVERIFY(sleeperFinishedAtReturn);
        QVERIFY(sleeper.isCancelled()); // queued when the body threw: dropped
    }

    void coroutineBodyThrowingCancelsTheOthersAndRethrows()
    {
        bool sleeperCancelled = false;
        bool sleeperFinishedAtReturn = false;
        QAyo::Handle<void> sleeper;
        QString caught;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::scope([&](QAyo::Scope &s) -> QAyo::Task<> {
                    sleeper = s.asap(sleepForever(&sleeperCancelled));
                    co_await QAyo::sleep(5ms); // the sleeper runs by now
                    throw std::runtime_error("body failed");
                });
            } catch (const std::runtime_error &e) {
                caught = QString::fromUtf8(e.what());
            }
            sleeperFinishedAtReturn = sleeper.isFinished();
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(caught, QStringLiteral("body failed"));
        QVERIFY(sleeperCancelled); // it was running: its cleanup ran
        QVERIFY(sleeperFinishedAtReturn);
        QVERIFY(sleeper.isCancelled());
    }

    void scopeOutcomeReportsWhatHappened()
    {
        const auto clock = installVirtualClock();
        QAyo::ScopeOutcome supervised;
        QAyo::ScopeOutcome cancelled;
        QAyo::ScopeOutcome timedOut;
        bool dummy = false;
        auto body = [&]() -> QAyo::Task<> {
            supervised = co_await QAyo::scope({.supervise = true}, [](QAyo::Scope &s) {
                s << failAfter(1ms, QStringLiteral("oops"));
                s << valueAfter(5ms, 7);
            });
            cancelled = co_await QAyo::scope([&](QAyo::Scope &s) -> QAyo::Task<> {
                s.asap(sleepForever(&dummy));
                co_await QAyo::sleep(1ms);
                s.cancel();
            });
            timedOut = co_await QAyo::scope({.timeout = 10ms}, [&](QAyo::Scope &s) {
                s.asap(sleepForever(&dummy));
            });
        };
        QAYO_TEST_RUN(body());
        QVERIFY(!supervised.timedOut);
        QVERIFY(!supervised.cancelled);
        QCOMPARE(supervised.results, QVariantList{7});
        QCOMPARE(supervised.errors.size(), 1);
        QCOMPARE(QAyo::Test::describe(supervised.errors.first()), QStringLiteral("oops"));

        QVERIFY(cancelled.cancelled);
        QVERIFY(!cancelled.timedOut);
        QVERIFY(cancelled.errors.isEmpty());

        QVERIFY(timedOut.timedOut);
        QVERIFY(timedOut.cancelled);
        QVERIFY(timedOut.errors.isEmpty());
    }

    void nestedBlockScopes()
    {
        QStringList log;
        QAyo::Scope *outerScope = nullptr;
        QAyo::Scope *innerParent = nullptr;
        QString caught;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::scope([&](QAyo::Scope &outer) -> QAyo::Task<> {
                    outerScope = &outer;
                    outer.asap([&log]() -> QAyo::Task<> {
                        try {
                            co_await QAyo::sleep(1h);
                        } catch (const QAyo::Cancelled &) {
                            log << QStringLiteral("outer sibling cancelled");
                            throw;
                        }
                    });
                    try {
                        co_await QAyo::scope([&](QAyo::Scope &inner) {
                            innerParent = inner.parentScope();
                            inner << failAfter(2ms, QStringLiteral("inner"));
                        });
                    } catch (const std::runtime_error &) {
                        log << QStringLiteral("inner error reached the outer body");
                        throw;
                    }
                });
            } catch (const std::runtime_error &e) {
                caught = QString::fromUtf8(e.what());
            }
        };
        QAYO_TEST_RUN(body());
        QCOMPARE(caught, QStringLiteral("inner"));
        QCOMPARE(innerParent, outerScope);
        QCOMPARE(log, (QStringList{QStringLiteral("inner error reached the outer body"),
                                   QStringLiteral("outer sibling cancelled")}));
    }

    // --- a join that would wait for itself ---------------------------------------------------

    void joiningTheOwnScopeFromItsTaskThrows()
    {
        QString caught;
        QAyo::Scope scope({.name = QStringLiteral("self")});
        auto handle = scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await scope;
            } catch (const QAyo::InvalidStateError &e) {
                caught = e.message();
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(handle.isFinished(), 5000); // hung forever before
        QVERIFY2(caught.contains(QStringLiteral("join: a task of scope 'self' cannot wait for its own scope to end")),
                 qPrintable(caught));
        QAYO_TEST_JOIN(scope); // the scope is not closed by the refused join
        QCOMPARE(scope.errors().size(), 0);
    }

    void joiningTheOwnBlockScopeFromItsBodyThrows()
    {
        QString caught;
        auto body = [&]() -> QAyo::Task<> {
            co_await QAyo::scope({.name = QStringLiteral("block")}, [&](QAyo::Scope &block) -> QAyo::Task<> {
                try {
                    co_await block.join();
                } catch (const QAyo::InvalidStateError &e) {
                    caught = e.message();
                }
            });
        };
        QAYO_TEST_RUN(body());
        QVERIFY2(caught.contains(QStringLiteral("'block'")) && caught.contains(QStringLiteral("its own scope")),
                 qPrintable(caught));
    }

    void joiningAnEnclosingScopeFromANestedScopeThrows()
    {
        // The task of outer waits for the block scope, which waits for its task: that task
        // cannot wait for outer.
        QString caught;
        QAyo::Scope outer({.name = QStringLiteral("outer")});
        outer.asap([&]() -> QAyo::Task<> {
            co_await QAyo::scope([&](QAyo::Scope &inner) {
                inner.asap([&]() -> QAyo::Task<> {
                    try {
                        co_await outer;
                    } catch (const QAyo::InvalidStateError &e) {
                        caught = e.message();
                    }
                });
            });
        });
        QTRY_VERIFY_WITH_TIMEOUT(!outer.isActive(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("'outer'")) && caught.contains(QStringLiteral("its own scope")),
                 qPrintable(caught));
        QAYO_TEST_JOIN(outer);
    }

    void joiningAScopeThatWaitsForTheJoinerThroughAJoinThrows()
    {
        // A task of outer joins a scope of its own making; a task of that scope joins outer.
        QString caught;
        QAyo::Scope outer({.name = QStringLiteral("outer")});
        outer.asap([&]() -> QAyo::Task<> {
            QAyo::Scope local({.name = QStringLiteral("local")});
            local.asap([&]() -> QAyo::Task<> {
                try {
                    co_await outer;
                } catch (const QAyo::InvalidStateError &e) {
                    caught = e.message();
                }
            });
            co_await local;
        });
        QTRY_VERIFY_WITH_TIMEOUT(!outer.isActive(), 5000);
        QVERIFY2(caught.contains(QStringLiteral("'outer'")), qPrintable(caught));
        QAYO_TEST_JOIN(outer);
    }

    void joiningAnotherScopeFromATaskStillWaits()
    {
        // Not a cycle: a task of one scope joins a sibling scope, and a nested scope joins
        // nothing of its parents.
        QAyo::Scope other({.name = QStringLiteral("other")});
        other << valueAfter(10ms, 1);
        bool joined = false;
        QAyo::Scope scope;
        scope.asap([&]() -> QAyo::Task<> {
            co_await other;
            joined = true;
        });
        QAYO_TEST_JOIN(scope);
        QVERIFY(joined);
        QVERIFY(other.isFinished());
    }

    void ayoChaining()
    {
        QAyo::Scope run;
        run << valueAfter(3ms, 1) << valueAfter(1ms, 2) << [] { return 3; };
        QCOMPARE(run.pendingCount(), 3);
        QAYO_TEST_JOIN(run);
        QCOMPARE(run.results(), (QVariantList{1, 2, 3}));
    }
};

QTEST_GUILESS_MAIN(ScopeTest)
#include "tst_scope.moc"
