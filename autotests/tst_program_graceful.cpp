// SPDX-License-Identifier: MIT
// End to end: examples/graceful driven with QProcess and real Unix signals.
#include <QProcess>
#include <QTest>

#include <csignal>

#include <sys/types.h>
#include <unistd.h>

#ifndef QAYO_GRACEFUL_EXAMPLE
#error "QAYO_GRACEFUL_EXAMPLE (the path of examples/graceful) must be defined by CMake"
#endif

class tst_ProgramGraceful : public QObject
{
    Q_OBJECT

    //! Starts graceful with \a args and waits until every worker has started.
    bool startWorking(QProcess &process, const QStringList &args)
    {
        process.setProgram(QStringLiteral(QAYO_GRACEFUL_EXAMPLE));
        process.setArguments(args);
        process.start();
        if (!process.waitForStarted(10000))
            return false;
        return waitForOutput(process, "worker 3: started");
    }

    static bool waitForOutput(QProcess &process, const char *text)
    {
        QByteArray seen;
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < 20000) {
            seen += process.readAllStandardOutput();
            if (seen.contains(text)) {
                m_output += seen;
                return true;
            }
            if (process.state() == QProcess::NotRunning)
                break;
            process.waitForReadyRead(200);
        }
        m_output += seen;
        return false;
    }

    static void sendSignal(const QProcess &process, int signalNumber)
    {
        ::kill(pid_t(process.processId()), signalNumber);
    }

    static inline QByteArray m_output;

private Q_SLOTS:
    void init() { m_output.clear(); }

    void sigintRunsCleanupAndExits130()
    {
        QProcess process;
        QVERIFY(startWorking(process, {}));
        sendSignal(process, SIGINT);
        QVERIFY(process.waitForFinished(20000));
        m_output += process.readAllStandardOutput();
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 130);
        for (const char *line : {"worker 1: cleanup done", "worker 2: cleanup done", "worker 3: cleanup done"})
            QVERIFY2(m_output.contains(line), m_output.constData());
        QVERIFY(!m_output.contains("finished"));
        QVERIFY(process.readAllStandardError().contains("received SIGINT"));
    }

    void sigtermExits143()
    {
        QProcess process;
        QVERIFY(startWorking(process, {}));
        sendSignal(process, SIGTERM);
        QVERIFY(process.waitForFinished(20000));
        m_output += process.readAllStandardOutput();
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 143);
        QVERIFY2(m_output.contains("worker 1: cleanup done"), m_output.constData());
    }

    void secondSigintExitsAtOnce()
    {
        // The cleanup would take a minute: only the immediate exit ends the process in time.
        QProcess process;
        QVERIFY(startWorking(process, {QStringLiteral("--cleanup-ms"), QStringLiteral("60000")}));
        sendSignal(process, SIGINT);
        QVERIFY(waitForOutput(process, "worker 3: cancelled, cleaning up"));
        QElapsedTimer timer;
        timer.start();
        sendSignal(process, SIGINT);
        QVERIFY(process.waitForFinished(20000));
        QVERIFY2(timer.elapsed() < 20000, "the second SIGINT did not end the process");
        m_output += process.readAllStandardOutput();
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 130);
        QVERIFY(!m_output.contains("cleanup done"));
    }

    void demoFlagStopsByItself()
    {
        QProcess process;
        process.start(QStringLiteral(QAYO_GRACEFUL_EXAMPLE), {QStringLiteral("--demo")});
        QVERIFY(process.waitForFinished(20000));
        QCOMPARE(process.exitCode(), 130);
        QVERIFY(process.readAllStandardOutput().contains("worker 3: cleanup done"));
    }
};

QTEST_GUILESS_MAIN(tst_ProgramGraceful)
#include "tst_program_graceful.moc"
