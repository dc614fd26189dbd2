// SPDX-License-Identifier: MIT
// Nested event loops (DESIGN.md §2 "Owners, teardown and nested event loops"): a loop started from
// QAyo work or from a slot QAyo calls - QDialog::exec(), QMessageBox, QAyo::waitFor - keeps every
// other ready QAyo work running. Ready work runs in batches; a nested loop started inside a batch
// continues that batch, so nothing woken together with the code that opened the loop waits for
// the loop to close.
//
// A nested loop here is a QEventLoop, exactly what QDialog::exec() runs. Each loop has a watchdog
// (a generous real-time bound) that closes it and records that it had to: a frozen batch fails
// the test instead of hanging it.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Runner>
#include <QAyo/Test>

#include <QEventLoop>
#include <QTest>
#include <QTimer>

#include <stdexcept>

using namespace std::chrono_literals;
using namespace TestHelpers;

namespace {

//! A modal loop, as QDialog::exec() runs one: it closes when \a done() holds (checked on every
//! turn of a 1 ms timer) or, failing that, after 5 s, and then sets *watchdogFired.
void runModalLoopUntil(const std::function<bool()> &done, bool *watchdogFired)
{
    QEventLoop loop;
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (done())
            loop.quit();
    });
    poll.start(1ms);
    QTimer watchdog;
    watchdog.setSingleShot(true);
    QObject::connect(&watchdog, &QTimer::timeout, &loop, [&] {
        *watchdogFired = true;
        loop.quit();
    });
    watchdog.start(5s);
    loop.exec();
}

} // namespace

class tst_NestedLoops : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void modalLoopInATaskFailedSlotKeepsTheBatchRunning()
    {
        // A Widgets app shows a QMessageBox from taskFailed. The tasks that started in the same
        // turn as the failed one must run while the box is open.
        QAyo::Scope scope({.supervise = true});
        int ranDuringTheLoop = 0;
        bool inLoop = false;
        bool watchdogFired = false;
        QStringList failures;
        connect(&scope, &QAyo::Scope::taskFailed, this, [&](const QString &message) {
            failures << message;
            inLoop = true;
            runModalLoopUntil([&] { return ranDuringTheLoop == 3; }, &watchdogFired);
            inLoop = false;
        });
        scope.asap([]() -> QAyo::Task<> { throw std::runtime_error("boom"); });
        for (int i = 0; i < 3; ++i)
            scope.asap([&] {
                if (inLoop)
                    ++ranDuringTheLoop;
            });
        QAyo::Test::join(scope);
        QCOMPARE(failures.size(), 1);
        QVERIFY2(!watchdogFired, "the tasks started with the failed one stood still until the modal loop closed");
        QCOMPARE(ranDuringTheLoop, 3);
    }

    void modalLoopInATaskKeepsTasksWokenWithItRunning()
    {
        // A task opens a dialog (exec()) right after a sleep; its siblings woke from the same
        // deadline and run while the dialog is open.
        QAyo::Scope scope;
        int siblingsDone = 0;
        bool watchdogFired = false;
        scope.asap([&]() -> QAyo::Task<> {
            co_await QAyo::sleep(20ms);
            runModalLoopUntil([&] { return siblingsDone == 2; }, &watchdogFired);
        });
        for (int i = 0; i < 2; ++i) {
            scope.asap([&]() -> QAyo::Task<> {
                co_await QAyo::sleep(20ms);
                ++siblingsDone;
            });
        }
        QAyo::Test::join(scope);
        QVERIFY2(!watchdogFired, "tasks woken in the same batch as the dialog's task waited for the dialog");
        QCOMPARE(siblingsDone, 2);
    }

    void waitForInsideATaskRunsTheRestOfItsBatch()
    {
        // QAyo::waitFor() from a task: the task it waits for needs a sibling that started in
        // the same turn. Without continuing the batch, this is a deadlock.
        QAyo::Scope scope;
        bool released = false;
        bool watchdogFired = false;
        QTimer watchdog;
        watchdog.setSingleShot(true);
        connect(&watchdog, &QTimer::timeout, this, [&] {
            watchdogFired = true;
            released = true;
        });
        watchdog.start(5s);
        scope.asap([&] {
            QAyo::waitFor([](const bool *flag) -> QAyo::Task<> {
                while (!*flag)
                    co_await QAyo::sleep(1ms);
            }(&released));
        });
        scope.asap([&] { released = true; });
        QAyo::Test::join(scope);
        QVERIFY2(!watchdogFired, "waitFor() inside a task never ran the sibling started in the same turn");
    }

    void nestedLoopKeepsFifoOrderOfTheBatch()
    {
        // The batch goes on in its own order inside the nested loop, and nothing of it runs twice.
        QAyo::Scope scope;
        QList<int> order;
        bool watchdogFired = false;
        scope.asap([&] {
            order << 0;
            runModalLoopUntil([&] { return order.size() == 4; }, &watchdogFired);
            order << 99;
        });
        for (int i = 1; i < 4; ++i)
            scope.asap([&order, i] { order << i; });
        QAyo::Test::join(scope);
        QVERIFY(!watchdogFired);
        QCOMPARE(order, (QList<int>{0, 1, 2, 3, 99}));
    }
};

QTEST_MAIN(tst_NestedLoops)
#include "tst_nestedloops.moc"
