// SPDX-License-Identifier: MIT
// Randomized stress on one thread (plus spawns from helper threads and aside work on the pool),
// under the virtual clock in autojump mode: every seed below runs its quota of operations and
// must end with no invariant of DESIGN.md section 2 broken (stress.h lists them).
//
// Short mode (scripts/test): four seeds, 200 000 operations in all.
// Long mode: QAYO_STRESS_LONG=1 runs 16 seeds of 500 000 operations (8 million in all);
// QAYO_STRESS_SEED=<n> runs that one seed only (to reproduce a failure), QAYO_STRESS_OPS=<n>
// sets the operations per seed.
#include "stress.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QTest>
#include <QTimer>

using namespace std::chrono_literals;

class tst_Stress : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup() { QAYO_VERIFY_NO_TASKS_LEFT(); }

    void randomizedRunKeepsTheInvariants_data()
    {
        QTest::addColumn<quint64>("seed");
        QTest::addColumn<qint64>("operations");
        const bool longMode = qEnvironmentVariableIntValue("QAYO_STRESS_LONG") != 0;
        qint64 perSeed = longMode ? 500000 : 50000;
        if (qEnvironmentVariableIsSet("QAYO_STRESS_OPS"))
            perSeed = qEnvironmentVariable("QAYO_STRESS_OPS").toLongLong();
        QList<quint64> seeds;
        if (qEnvironmentVariableIsSet("QAYO_STRESS_SEED"))
            seeds << qEnvironmentVariable("QAYO_STRESS_SEED").toULongLong();
        else if (longMode)
            for (quint64 s = 1; s <= 16; ++s)
                seeds << s * 7919;
        else
            seeds << 1 << 2 << 3 << 20260611;
        for (quint64 seed : seeds)
            QTest::addRow("seed %llu", seed) << seed << perSeed;
    }

    void randomizedRunKeepsTheInvariants()
    {
        QFETCH(quint64, seed);
        QFETCH(qint64, operations);
        QAyo::Test::VirtualClock clock(QAyo::Test::VirtualClock::Mode::AutoJump);
        clock.install();
        QElapsedTimer elapsed;
        elapsed.start();
        // A run that takes far longer than it should prints the live tree once (qayo.tree).
        QTimer slowRun;
        slowRun.setSingleShot(true);
        Stress::Run run({ .seed = seed, .operations = operations });
        connect(&slowRun, &QTimer::timeout, this, [&run] {
            run.dumpSchedules();
            QLoggingCategory::setFilterRules(QStringLiteral("qayo.tree.debug=true"));
            qWarning("the run is slow: the live tree follows");
            QAyo::dumpTree();
        });
        slowRun.start(qEnvironmentVariableIsSet("QAYO_STRESS_DUMP_MS")
                          ? std::chrono::milliseconds(qEnvironmentVariableIntValue("QAYO_STRESS_DUMP_MS"))
                          : qEnvironmentVariableIntValue("QAYO_STRESS_LONG") != 0 ? 20min : 2min);
        std::exception_ptr escaped;
        try {
            QAyo::Test::run(run.drive(), 30min);
        } catch (...) {
            escaped = std::current_exception();
        }
        if (escaped)
            QFAIL(qPrintable(QStringLiteral("the driver threw: ") + QAyo::Test::describe(escaped)));
        QVERIFY2(run.settle(), "orphaned work did not end");
        run.finalChecks();
        qInfo().noquote() << run.summary() << QStringLiteral("in %1 ms").arg(elapsed.elapsed());
        const QStringList violations = run.violations();
        QVERIFY2(violations.isEmpty(), qPrintable(violations.mid(0, 30).join(QLatin1Char('\n'))));
        QVERIFY(run.errorsThrown() > 0); // the run did exercise the error paths
    }
};

QTEST_GUILESS_MAIN(tst_Stress)
#include "tst_stress.moc"
