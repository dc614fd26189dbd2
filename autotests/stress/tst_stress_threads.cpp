// SPDX-License-Identifier: MIT
// Randomized stress across threads: three runs at once - on the main thread and on two worker
// threads, each with its own scopes, real clock, aside work on the shared global pool and
// spawns, after() calls and cancels made from helper threads. Every run must keep the
// invariants of stress.h. Part of the ThreadSanitizer set (scripts/test --tsan).
//
// QAYO_STRESS_LONG=1 makes each run 100 000 operations instead of 10 000;
// QAYO_STRESS_OPERATIONS=n makes it n, QAYO_STRESS_SEED=s adds s to the three seeds.
#include "stress.h"

#include <QEventLoop>
#include <QTest>
#include <QTimer>

#include <memory>

using namespace std::chrono_literals;

namespace {

//! What a run on a worker thread reports back (read after QThread::wait()).
struct Report
{
    QStringList violations;
    QString summary;
    qint64 thrown = 0;
    QString escaped;
};

void runHere(quint64 seed, qint64 operations, Report *report);

//! The same inside a running event loop of a worker thread (as a real worker would run).
void runInLoop(quint64 seed, qint64 operations, Report *report)
{
    QEventLoop loop;
    QTimer::singleShot(0, &loop, [&] {
        runHere(seed, operations, report);
        loop.quit();
    });
    loop.exec();
}

void runHere(quint64 seed, qint64 operations, Report *report)
{
    Stress::Run run({ .seed = seed, .operations = operations, .realClock = true, .maxLiveFrames = 600, .soleRun = false });
    try {
        QAyo::Test::run(run.drive(), 10min);
    } catch (...) {
        report->escaped = QAyo::Test::describe(std::current_exception());
    }
    if (!run.settle())
        report->violations << QStringLiteral("seed %1: orphaned work did not end").arg(seed);
    run.finalChecks();
    report->violations << run.violations();
    report->summary = run.summary();
    report->thrown = run.errorsThrown();
}

} // namespace

class tst_StressThreads : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void runsOnThreeThreadsKeepTheInvariants()
    {
        qint64 operations = qEnvironmentVariableIntValue("QAYO_STRESS_LONG") != 0 ? 100000 : 10000;
        if (const int asked = qEnvironmentVariableIntValue("QAYO_STRESS_OPERATIONS"); asked > 0)
            operations = asked;
        const quint64 base = quint64(qEnvironmentVariableIntValue("QAYO_STRESS_SEED"));
        const quint64 seeds[] = { base + 101, base + 202, base + 303 };
        Report reports[3];
        std::unique_ptr<QThread> workers[2];
        for (int i = 0; i < 2; ++i) {
            workers[i].reset(QThread::create(runInLoop, seeds[i + 1], operations, &reports[i + 1]));
            workers[i]->start();
        }
        runHere(seeds[0], operations, &reports[0]);
        for (auto &worker : workers)
            QVERIFY(worker->wait(QDeadlineTimer(std::chrono::minutes(10))));
        for (const Report &report : reports) {
            qInfo().noquote() << report.summary;
            QVERIFY2(report.escaped.isEmpty(), qPrintable(QStringLiteral("the driver threw: ") + report.escaped));
            QVERIFY2(report.violations.isEmpty(), qPrintable(report.violations.mid(0, 30).join(QLatin1Char('\n'))));
            QVERIFY(report.thrown > 0);
        }
    }
};

QTEST_GUILESS_MAIN(tst_StressThreads)
#include "tst_stress_threads.moc"
