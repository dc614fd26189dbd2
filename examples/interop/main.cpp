// SPDX-License-Identifier: MIT
// Mixing QAyo with plain QCoro and Qt code:
//
//   1. a QAyo::Task awaits what QCoro makes awaitable: a QTimer, a signal through qCoro(), a
//      QFuture from QtConcurrent, a QCoro::Task;
//   2. a QCoro::Task awaits a QAyo::Task (it then runs without a scope);
//   3. a scope adopts a QCoro::Task that runs already: it waits for it, but cannot interrupt it;
//   4. cancelling a foreign wait: it ends when the wait completes, unless wrapped in
//      QAyo::cancellable(awaitable, onCancel).
#include <QAyo/QAyo>

#include <QElapsedTimer>
#include <QTextStream>
#include <QTimer>
#include <QtConcurrent/QtConcurrentRun>

#include <qcoro/qcorofuture.h>
#include <qcoro/qcorosignal.h>
#include <qcoro/qcorotimer.h>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);

//! Something with a signal of its own.
class Thermometer : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void measured(double celsius);
};

void say(const QString &line)
{
    out << line << "\n";
    out.flush();
}

//! Plain QCoro: eager (it runs from the call), not cancellable.
QCoro::Task<int> qcoroAnswer(std::chrono::milliseconds delay)
{
    QTimer timer;
    timer.setSingleShot(true);
    timer.start(delay);
    co_await &timer;
    co_return 42;
}

QAyo::Task<QString> qayoGreeting()
{
    co_await QAyo::sleep(10ms);
    co_return QStringLiteral("hello from a QAyo::Task");
}

QAyo::Task<> qtThingsInAQAyoTask()
{
    QTimer timer;
    timer.setSingleShot(true);
    timer.start(10ms);
    co_await &timer; // QCoro's QTimer awaiter
    say(QStringLiteral("1. a QTimer fired"));

    Thermometer thermometer;
    QTimer::singleShot(10ms, &thermometer, [&thermometer] { Q_EMIT thermometer.measured(21.5); });
    const double celsius = co_await qCoro(&thermometer, &Thermometer::measured); // any signal
    say(QStringLiteral("   a signal arrived through qCoro(): %1 degrees").arg(celsius));

    const int sum = co_await QtConcurrent::run([] { return 20 + 22; }); // a QFuture
    say(QStringLiteral("   a QFuture from QtConcurrent::run gave %1").arg(sum));

    const int answer = co_await qcoroAnswer(10ms); // a QCoro::Task
    say(QStringLiteral("   a QCoro::Task gave %1").arg(answer));
}

QCoro::Task<> qcoroCallingQAyo()
{
    const QString greeting = co_await qayoGreeting();
    say(QStringLiteral("2. a QCoro::Task awaited a QAyo::Task: ") + greeting);
}

//! Waits for a QTimer of one hour through QCoro (a foreign wait QAyo cannot interrupt), made
//! cancellable: on cancel, onCancel makes the timer fire now.
QAyo::Task<> waitAnHour(QTimer *timer)
{
    timer->setSingleShot(true);
    timer->start(1h);
    co_await QAyo::cancellable(timer, [timer] { timer->start(0ms); }); // QCoro's QTimer awaiter
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        co_await qtThingsInAQAyoTask();
        co_await qcoroCallingQAyo();

        QElapsedTimer clock;
        clock.start();
        auto adopted = co_await QAyo::scope({.timeout = 20ms}, [](QAyo::Scope &run) {
            run.asap(qcoroAnswer(100ms)); // runs already; cannot be interrupted
        });
        say(QStringLiteral("3. an adopted QCoro::Task: the 20 ms timeout %1, the scope still waited "
                           "for it (%2 ms, its timer takes about 100)")
                .arg(adopted.timedOut ? QStringLiteral("fired") : QStringLiteral("did not fire"))
                .arg(clock.elapsed()));

        clock.restart();
        QTimer timer;
        auto cut = co_await QAyo::scope({.timeout = 20ms}, [&timer](QAyo::Scope &run) {
            run << waitAnHour(&timer);
        });
        say(QStringLiteral("4. a one-hour QTimer wait in QAyo::cancellable: the 20 ms timeout %1, "
                           "the scope ended after %2 ms")
                .arg(cut.timedOut ? QStringLiteral("fired") : QStringLiteral("did not fire"))
                .arg(clock.elapsed()));
    });
}

#include "main.moc"
