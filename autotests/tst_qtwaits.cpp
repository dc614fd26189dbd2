// SPDX-License-Identifier: MIT
// The cancellation-aware waits for Qt types (<QAyo/Waits>): QAyo::future, processStarted,
// processFinished, readyRead, bytesWritten. For each: completes normally; a cancel wakes it at
// once and leaves no connection, timer or process behind; the object waited on deleted mid-wait.
#include "helpers.h"

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QElapsedTimer>
#include <QFuture>
#include <QPromise>
#include <QProcess>
#include <QTemporaryFile>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QtConcurrent>

#include <qcoro/qcorotimer.h>

#include <memory>
#include <stdexcept>

using namespace std::chrono_literals;
using TestHelpers::LiveCounter;
using TestHelpers::receiversOf;

namespace {

//! A sequential device the test drives by hand: data "arrives" with receive(), written data
//! "goes out" with send().
class FakeDevice : public QIODevice
{
    Q_OBJECT
public:
    explicit FakeDevice(OpenMode mode = ReadWrite)
    {
        if (mode != NotOpen)
            open(mode | Unbuffered);
    }
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override
    {
        return m_incoming.size() + QIODevice::bytesAvailable();
    }
    qint64 bytesToWrite() const override { return m_outgoing.size(); }

    void receive(const QByteArray &data)
    {
        m_incoming += data;
        Q_EMIT readyRead();
    }
    void finishReading() { Q_EMIT readChannelFinished(); }
    void send(qint64 count)
    {
        m_outgoing.remove(0, count);
        Q_EMIT bytesWritten(count);
    }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = qMin(maxSize, qint64(m_incoming.size()));
        memcpy(data, m_incoming.constData(), size_t(n));
        m_incoming.remove(0, n);
        return n;
    }
    qint64 writeData(const char *data, qint64 size) override
    {
        m_outgoing.append(data, size);
        return size;
    }

private:
    QByteArray m_incoming;
    QByteArray m_outgoing;
};

int ioReceivers(const QIODevice *device)
{
    return receiversOf(device, SIGNAL(readyRead()))
        + receiversOf(device, SIGNAL(readChannelFinished()))
        + receiversOf(device, SIGNAL(aboutToClose()))
        + receiversOf(device, SIGNAL(bytesWritten(qint64)))
        + receiversOf(device, SIGNAL(destroyed(QObject *)));
}

int processReceivers(const QProcess *process)
{
    return ioReceivers(process) + receiversOf(process, SIGNAL(stateChanged(QProcess::ProcessState)))
        + receiversOf(process, SIGNAL(finished(int, QProcess::ExitStatus)));
}

bool hasTimerChild(const QObject *object)
{
    return !object->findChildren<QTimer *>().isEmpty();
}

//! Ends a test's process for good (a QProcess destroyed while running warns).
void reap(QProcess &process)
{
    if (process.state() != QProcess::NotRunning) {
        process.kill();
        process.waitForFinished(5000);
    }
}

const QString Shell = QStringLiteral("sh");

} // namespace

class QtWaitsTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // --- QFuture ---------------------------------------------------------------------------

    void futureReturnsResult()
    {
        QPromise<int> promise;
        promise.start();
        QTimer::singleShot(5ms, [&] {
            promise.addResult(42);
            promise.finish();
        });
        auto body = [&]() -> QAyo::Task<int> { co_return co_await QAyo::future(promise.future()); };
        QCOMPARE(QAyo::Test::run(body()), 42);
    }

    void futureOfVoid()
    {
        QPromise<void> promise;
        promise.start();
        QTimer::singleShot(5ms, [&] { promise.finish(); });
        bool done = false;
        auto body = [&]() -> QAyo::Task<> {
            co_await QAyo::future(promise.future());
            done = true;
        };
        QAyo::Test::run(body());
        QVERIFY(done);
    }

    void finishedFutureReturnsAtOnce()
    {
        auto body = []() -> QAyo::Task<QString> {
            co_return co_await QAyo::future(QtFuture::makeReadyFuture(QStringLiteral("ready")));
        };
        QCOMPARE(QAyo::Test::run(body()), QStringLiteral("ready"));
    }

    void futureResumesOnTheAwaitingThread()
    {
        QThread *workerThread = nullptr;
        QThread *resumedOn = nullptr;
        auto body = [&]() -> QAyo::Task<int> {
            const int value = co_await QAyo::future(QtConcurrent::run([&workerThread] {
                workerThread = QThread::currentThread();
                return 9;
            }));
            resumedOn = QThread::currentThread();
            co_return value;
        };
        QCOMPARE(QAyo::Test::run(body()), 9);
        QVERIFY(workerThread != nullptr);
        QVERIFY(workerThread != QThread::currentThread());
        QCOMPARE(resumedOn, QThread::currentThread());
    }

    void futureRethrowsItsException()
    {
        QPromise<int> promise;
        promise.start();
        QTimer::singleShot(5ms, [&] {
            promise.setException(std::make_exception_ptr(std::runtime_error("disk on fire")));
            promise.finish();
        });
        QString message;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::future(promise.future());
            } catch (const std::runtime_error &e) {
                message = QString::fromUtf8(e.what());
            }
        };
        QAyo::Test::run(body());
        QCOMPARE(message, QStringLiteral("disk on fire"));
    }

    void futureCancelledElsewhereIsTaskCancelledError()
    {
        QPromise<int> promise;
        promise.start();
        QTimer::singleShot(5ms, [&] {
            promise.future().cancel();
            promise.finish();
        });
        auto body = [&]() -> QAyo::Task<int> { co_return co_await QAyo::future(promise.future()); };
        QVERIFY_THROWS_EXCEPTION(QAyo::TaskCancelledError, QAyo::Test::run(body()));
    }

    void futureWithoutResultIsInvalidState()
    {
        QPromise<int> promise;
        promise.start();
        QTimer::singleShot(5ms, [&] { promise.finish(); });
        auto body = [&]() -> QAyo::Task<int> { co_return co_await QAyo::future(promise.future()); };
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidStateError, QAyo::Test::run(body()));
    }

    void invalidFutureIsRejected()
    {
        QString message;
        try {
            auto task = QAyo::future(QFuture<int>());
        } catch (const QAyo::InvalidArgument &e) {
            message = e.message();
        }
        QVERIFY2(message.startsWith(QStringLiteral("future:")), qPrintable(message));
    }

    void cancelWhileWaitingOnFutureCancelsItAtOnce()
    {
        QPromise<int> promise;
        promise.start();
        QAyo::Scope scope;
        bool cancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::future(promise.future());
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QTRY_COMPARE(scope.runningCount(), 1);
        QVERIFY(!promise.isCanceled());
        scope.cancel();
        QTRY_VERIFY(cancelled); // woken at once: the promise never finishes
        QVERIFY(promise.isCanceled());
        QTRY_COMPARE(scope.runningCount(), 0);
        QCOMPARE(QAyo::Clock::pendingDeadlines(), 0);
        promise.finish();
    }

    void futureWaitDestroyedWithItsScopeCancelsTheFuture()
    {
        QPromise<int> promise;
        promise.start();
        int live = 0;
        auto scope = std::make_unique<QAyo::Scope>();
        scope->asap([&]() -> QAyo::Task<> {
            LiveCounter counter(&live);
            co_await QAyo::future(promise.future());
        });
        QTRY_COMPARE(live, 1);
        scope.reset(); // destroys the suspended frame: destructors run, no catch block does
        QCOMPARE(live, 0);
        QVERIFY(promise.isCanceled());
        promise.finish();
    }

    void futureTimeoutCancelsTheFuture()
    {
        QPromise<int> promise;
        promise.start();
        auto body = [&]() -> QAyo::Task<bool> {
            auto value = co_await QAyo::withTimeoutOr(20ms, QAyo::future(promise.future()));
            co_return value.has_value();
        };
        QCOMPARE(QAyo::Test::run(body()), false);
        QVERIFY(promise.isCanceled());
        promise.finish();
    }

    // --- QProcess --------------------------------------------------------------------------

    void processStartedThenFinishedWithExitCode()
    {
        QProcess process;
        QStringList log;
        auto body = [&]() -> QAyo::Task<int> {
            process.start(Shell, {QStringLiteral("-c"), QStringLiteral("exit 3")});
            co_await QAyo::processStarted(&process);
            log << QStringLiteral("started");
            const int code = co_await QAyo::processFinished(&process);
            log << QStringLiteral("finished");
            co_return code;
        };
        QCOMPARE(QAyo::Test::run(body()), 3);
        QCOMPARE(log, (QStringList{QStringLiteral("started"), QStringLiteral("finished")}));
        QCOMPARE(processReceivers(&process), 0);
    }

    void finishedProcessReturnsAtOnce()
    {
        QProcess process;
        process.start(Shell, {QStringLiteral("-c"), QStringLiteral("exit 5")});
        QVERIFY(process.waitForFinished(5000));
        auto body = [&]() -> QAyo::Task<int> {
            co_return co_await QAyo::processFinished(&process);
        };
        QCOMPARE(QAyo::Test::run(body()), 5);
    }

    void processThatFailsToStartIsAnError()
    {
        QProcess process;
        QString startMessage;
        QString finishMessage;
        auto body = [&]() -> QAyo::Task<> {
            process.start(QStringLiteral("/nonexistent/qayo-no-such-program"), {});
            try {
                co_await QAyo::processStarted(&process);
            } catch (const QAyo::ProcessError &e) {
                startMessage = e.message();
            }
            try {
                co_await QAyo::processFinished(&process);
            } catch (const QAyo::ProcessError &e) {
                finishMessage = e.message();
            }
        };
        QAyo::Test::run(body());
        QVERIFY2(startMessage.contains(QStringLiteral("qayo-no-such-program"))
                     && startMessage.contains(QStringLiteral("failed to start")),
                 qPrintable(startMessage));
        QVERIFY2(finishMessage.startsWith(QStringLiteral("processFinished:")),
                 qPrintable(finishMessage));
    }

    void crashedProcessIsAnError()
    {
        QProcess process;
        QString message;
        auto body = [&]() -> QAyo::Task<> {
            process.start(Shell, {QStringLiteral("-c"), QStringLiteral("kill -KILL $$")});
            try {
                co_await QAyo::processFinished(&process);
            } catch (const QAyo::ProcessError &e) {
                message = e.message();
            }
        };
        QAyo::Test::run(body());
        QVERIFY2(message.contains(QStringLiteral("crashed")), qPrintable(message));
    }

    void cancelTerminatesTheProcessBeforeCancelledGoesOn()
    {
        QProcess process;
        process.start(QStringLiteral("sleep"), {QStringLiteral("30")});
        QVERIFY(process.waitForStarted(5000));
        QAyo::Scope scope;
        bool cancelled = false;
        QProcess::ProcessState stateWhenCancelled = QProcess::Running;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::processFinished(&process, 20s);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                stateWhenCancelled = process.state();
                throw;
            }
        });
        QTRY_COMPARE(scope.runningCount(), 1);
        QCOMPARE(receiversOf(&process, SIGNAL(stateChanged(QProcess::ProcessState))), 1);
        QElapsedTimer clock;
        clock.start();
        scope.cancel();
        QTRY_VERIFY(cancelled);
        // terminate() ended it: far sooner than the 20 s grace after which it would be killed
        QVERIFY2(clock.elapsed() < 10000, qPrintable(QString::number(clock.elapsed())));
        QCOMPARE(stateWhenCancelled, QProcess::NotRunning); // gone before Cancelled went on
        QCOMPARE(process.exitStatus(), QProcess::CrashExit);  // by SIGTERM
        QTRY_COMPARE(scope.runningCount(), 0);
        QTRY_VERIFY(!hasTimerChild(&process)); // the kill timer went with the process
        QCOMPARE(processReceivers(&process), 0);
        QCOMPARE(QAyo::Clock::pendingDeadlines(), 0);
    }

    void processIgnoringTerminateIsKilledAfterGrace()
    {
        // The shell ignores SIGTERM, says so, then becomes `sleep` (which keeps ignoring it).
        QProcess process;
        process.start(Shell, {QStringLiteral("-c"),
                              QStringLiteral("trap '' TERM; echo ready; exec sleep 30")});
        QVERIFY(process.waitForStarted(5000));
        QTRY_VERIFY(process.canReadLine());
        QAyo::Scope scope;
        bool cancelled = false;
        QProcess::ProcessState stateWhenCancelled = QProcess::Running;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::processFinished(&process, 300ms);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                stateWhenCancelled = process.state();
                throw;
            }
        });
        QTRY_COMPARE(scope.runningCount(), 1);
        QElapsedTimer clock;
        clock.start();
        scope.cancel();
        QTRY_VERIFY_WITH_TIMEOUT(cancelled, 10000);
        QVERIFY2(clock.elapsed() >= 300, qPrintable(QString::number(clock.elapsed())));
        QCOMPARE(stateWhenCancelled, QProcess::NotRunning);
        QCOMPARE(process.exitStatus(), QProcess::CrashExit);
        QTRY_VERIFY(!hasTimerChild(&process));
        QCOMPARE(processReceivers(&process), 0);
    }

    void processWaitDestroyedWithItsScopeTerminatesTheProcess()
    {
        QProcess process;
        process.start(QStringLiteral("sleep"), {QStringLiteral("30")});
        QVERIFY(process.waitForStarted(5000));
        int live = 0;
        auto scope = std::make_unique<QAyo::Scope>();
        scope->asap([&]() -> QAyo::Task<> {
            LiveCounter counter(&live);
            co_await QAyo::processFinished(&process);
        });
        QTRY_COMPARE(live, 1);
        scope.reset();
        QCOMPARE(live, 0);
        QTRY_COMPARE(process.state(), QProcess::NotRunning);
        QCOMPARE(process.exitStatus(), QProcess::CrashExit);
        QTRY_VERIFY(!hasTimerChild(&process));
        QCOMPARE(processReceivers(&process), 0);
    }

    void processWaitCancelledBeforeItBeganStopsTheProcess()
    {
        QProcess process;
        process.start(QStringLiteral("sleep"), {QStringLiteral("30")});
        QVERIFY(process.waitForStarted(5000));
        QAyo::Scope scope;
        bool cancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            scope.cancel(); // this task is cancelled now: the next await throws at once
            try {
                co_await QAyo::processFinished(&process);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QTRY_VERIFY(cancelled);
        QTRY_COMPARE(process.state(), QProcess::NotRunning);
        QTRY_VERIFY(!hasTimerChild(&process));
    }

    void processDeletedWhileWaitingIsAnError()
    {
        auto *process = new QProcess;
        process->start(QStringLiteral("sleep"), {QStringLiteral("30")});
        QVERIFY(process->waitForStarted(5000));
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("Destroyed while process")));
        QTimer::singleShot(5ms, [process] { delete process; });
        QString message;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::processFinished(process);
            } catch (const QAyo::ObjectDestroyedError &e) {
                message = e.message();
            }
        };
        QAyo::Test::run(body());
        QVERIFY2(message.startsWith(QStringLiteral("processFinished:"))
                     && message.contains(QStringLiteral("destroyed")),
                 qPrintable(message));
    }

    void processWaitsRejectBadArguments()
    {
        QProcess process;
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, QAyo::processFinished(nullptr));
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, QAyo::processStarted(nullptr));
        QString message;
        try {
            auto task = QAyo::processFinished(&process, -1ms);
        } catch (const QAyo::InvalidArgument &e) {
            message = e.message();
        }
        QVERIFY2(message.contains(QStringLiteral("grace"))
                     && message.contains(QStringLiteral("-1")),
                 qPrintable(message));
    }

    // --- QIODevice -------------------------------------------------------------------------

    void readyReadReturnsAtOnceWhenDataIsThere()
    {
        FakeDevice device;
        device.receive("abc");
        auto body = [&]() -> QAyo::Task<qint64> { co_return co_await QAyo::readyRead(&device); };
        QCOMPARE(QAyo::Test::run(body()), qint64(3));
        QCOMPARE(ioReceivers(&device), 0);
    }

    void readyReadWaitsForData()
    {
        FakeDevice device;
        QTimer::singleShot(5ms, &device, [&] { device.receive("hello"); });
        QByteArray read;
        auto body = [&]() -> QAyo::Task<qint64> {
            const qint64 n = co_await QAyo::readyRead(&device);
            read = device.readAll();
            co_return n;
        };
        QCOMPARE(QAyo::Test::run(body()), qint64(5));
        QCOMPARE(read, QByteArray("hello"));
        QCOMPARE(ioReceivers(&device), 0);
    }

    void readyReadReturnsZeroAtTheEndOfTheStream()
    {
        FakeDevice device;
        QTimer::singleShot(5ms, &device, [&] { device.finishReading(); });
        auto body = [&]() -> QAyo::Task<qint64> { co_return co_await QAyo::readyRead(&device); };
        QCOMPARE(QAyo::Test::run(body()), qint64(0));

        FakeDevice closing;
        QTimer::singleShot(5ms, &closing, [&] { closing.close(); });
        auto body2 = [&]() -> QAyo::Task<qint64> { co_return co_await QAyo::readyRead(&closing); };
        QCOMPARE(QAyo::Test::run(body2()), qint64(0));
        QCOMPARE(ioReceivers(&device) + ioReceivers(&closing), 0);
    }

    void readyReadOnAFileDoesNotWait()
    {
        QTemporaryFile file;
        QVERIFY(file.open());
        file.write("1234");
        file.seek(1);
        auto body = [&]() -> QAyo::Task<qint64> { co_return co_await QAyo::readyRead(&file); };
        QCOMPARE(QAyo::Test::run(body()), qint64(3));
    }

    void cancelWhileWaitingForDataDisconnects()
    {
        FakeDevice device;
        QAyo::Scope scope;
        bool cancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::readyRead(&device);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QTRY_COMPARE(scope.runningCount(), 1);
        QCOMPARE(receiversOf(&device, SIGNAL(readyRead())), 1);
        QCOMPARE(receiversOf(&device, SIGNAL(destroyed(QObject *))), 1);
        scope.cancel();
        QTRY_VERIFY(cancelled);
        QCOMPARE(ioReceivers(&device), 0);
        QTRY_COMPARE(scope.runningCount(), 0);
    }

    void deviceDeletedWhileWaitingForDataIsAnError()
    {
        auto *device = new FakeDevice;
        QTimer::singleShot(5ms, [device] { delete device; });
        QString message;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::readyRead(device);
            } catch (const QAyo::ObjectDestroyedError &e) {
                message = e.message();
            }
        };
        QAyo::Test::run(body());
        QVERIFY2(message.startsWith(QStringLiteral("readyRead:")), qPrintable(message));
    }

    void readyReadFollowsAProcessToItsEnd()
    {
        QProcess process;
        process.start(QStringLiteral("cat"), {});
        QVERIFY(process.waitForStarted(5000));
        QByteArray echoed;
        qint64 last = -1;
        auto body = [&]() -> QAyo::Task<> {
            process.write("ping");
            while (echoed.size() < 4) {
                co_await QAyo::readyRead(&process);
                echoed += process.readAll();
            }
            process.closeWriteChannel(); // cat ends
            last = co_await QAyo::readyRead(&process);
        };
        QAyo::Test::run(body());
        QCOMPARE(echoed, QByteArray("ping"));
        QCOMPARE(last, qint64(0));
        QTRY_COMPARE(process.state(), QProcess::NotRunning);
        QCOMPARE(processReceivers(&process), 0);
    }

    void readyReadRejectsBadDevices()
    {
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, QAyo::readyRead(nullptr));
        FakeDevice writeOnly(QIODevice::WriteOnly);
        QString message;
        try {
            auto task = QAyo::readyRead(&writeOnly);
        } catch (const QAyo::InvalidArgument &e) {
            message = e.message();
        }
        QVERIFY2(message.contains(QStringLiteral("not readable")), qPrintable(message));
        FakeDevice readOnly(QIODevice::ReadOnly);
        QVERIFY_THROWS_EXCEPTION(QAyo::InvalidArgument, QAyo::bytesWritten(&readOnly));
    }

    void bytesWrittenWaitsUntilEverythingIsOut()
    {
        FakeDevice device;
        QStringList log;
        device.write("0123456789");
        QTimer::singleShot(5ms, &device, [&] {
            log << QStringLiteral("sent 4");
            device.send(4);
        });
        QTimer::singleShot(15ms, &device, [&] {
            log << QStringLiteral("sent 6");
            device.send(6);
        });
        auto body = [&]() -> QAyo::Task<bool> {
            const bool all = co_await QAyo::bytesWritten(&device);
            log << QStringLiteral("done");
            co_return all;
        };
        QCOMPARE(QAyo::Test::run(body()), true);
        QCOMPARE(log, (QStringList{QStringLiteral("sent 4"), QStringLiteral("sent 6"),
                                   QStringLiteral("done")}));
        QCOMPARE(ioReceivers(&device), 0);
    }

    void bytesWrittenWithNothingPendingIsTrueAtOnce()
    {
        FakeDevice device;
        auto body = [&]() -> QAyo::Task<bool> { co_return co_await QAyo::bytesWritten(&device); };
        QCOMPARE(QAyo::Test::run(body()), true);
    }

    void bytesWrittenIsFalseWhenTheDeviceCloses()
    {
        FakeDevice device;
        device.write("pending");
        QTimer::singleShot(5ms, &device, [&] { device.close(); });
        auto body = [&]() -> QAyo::Task<bool> { co_return co_await QAyo::bytesWritten(&device); };
        QCOMPARE(QAyo::Test::run(body()), false);
        QCOMPARE(ioReceivers(&device), 0);
    }

    void cancelWhileWaitingForBytesWrittenDisconnects()
    {
        FakeDevice device;
        device.write("stuck");
        QAyo::Scope scope;
        bool cancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::bytesWritten(&device);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QTRY_COMPARE(scope.runningCount(), 1);
        QCOMPARE(receiversOf(&device, SIGNAL(bytesWritten(qint64))), 1);
        scope.cancel();
        QTRY_VERIFY(cancelled);
        QCOMPARE(ioReceivers(&device), 0);
    }

    void deviceDeletedWhileWaitingForBytesWrittenIsAnError()
    {
        auto *device = new FakeDevice;
        device->write("stuck");
        QTimer::singleShot(5ms, [device] { delete device; });
        QString message;
        auto body = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::bytesWritten(device);
            } catch (const QAyo::ObjectDestroyedError &e) {
                message = e.message();
            }
        };
        QAyo::Test::run(body());
        QVERIFY2(message.startsWith(QStringLiteral("bytesWritten:")), qPrintable(message));
    }

    void bytesWrittenToAProcess()
    {
        QProcess process;
        process.start(QStringLiteral("cat"), {});
        QVERIFY(process.waitForStarted(5000));
        const QByteArray payload(1 << 20, 'x'); // more than a pipe holds: written in pieces
        QByteArray echoed;
        auto body = [&]() -> QAyo::Task<bool> {
            process.write(payload);
            // cat echoes what it reads; keep reading so it never blocks on a full stdout pipe
            QAyo::Scope reader;
            reader.asap([&]() -> QAyo::Task<> {
                while (co_await QAyo::readyRead(&process) > 0)
                    echoed += process.readAll();
            });
            const bool all = co_await QAyo::bytesWritten(&process);
            process.closeWriteChannel();
            co_await reader;
            co_return all;
        };
        QVERIFY(QAyo::Test::run(body(), 20s));
        QCOMPARE(echoed.size(), payload.size());
        QTRY_COMPARE(process.state(), QProcess::NotRunning);
        reap(process);
    }

    // --- QCoro::Task: not interruptible, unless wrapped -------------------------------------

    void qcoroTaskBecomesInterruptibleWithCancellable()
    {
        QTimer timer;
        timer.setSingleShot(true);
        auto qcoroWait = [&timer]() -> QCoro::Task<> {
            timer.start(1h);
            co_await timer;
        };
        QAyo::Scope scope;
        bool cancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::cancellable(qcoroWait(), [&timer] { timer.start(0ms); });
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QTRY_COMPARE(scope.runningCount(), 1);
        scope.cancel();
        QTRY_VERIFY(cancelled);
        QTRY_COMPARE(scope.runningCount(), 0);
    }
};

QTEST_GUILESS_MAIN(QtWaitsTest)
#include "tst_qtwaits.moc"
