// SPDX-License-Identifier: MIT
// ayo's scheduling example in Qt, with short times so it runs in about a second:
//
//     run.after(2, callback, foo, bar=1)        ->  run.after(300ms, callback, foo, 1)
//     run.at(datetime, callback, foo, bar=1)    ->  run.at(dateTime, callback, foo, 2)
//     run.every(0.2, callback, foo, bar=1)      ->  run.every(200ms, callback, foo, 3)
//
// plus dontHoldExit(): a heartbeat that must not keep the program alive. The every() does hold
// it, so the program runs until that one is unscheduled, then exits without waiting for the
// next heartbeat. Prints each call with the milliseconds since start.
#include <QAyo/QAyo>

#include <QDateTime>
#include <QElapsedTimer>
#include <QTextStream>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);
QElapsedTimer sinceStart;

QTextStream &stamp()
{
    out << "[" << qSetFieldWidth(5) << sinceStart.elapsed() << qSetFieldWidth(0) << " ms] ";
    return out;
}

void callback(const QString &foo, int bar)
{
    stamp() << "callback(" << foo << ", bar=" << bar << ")\n";
    out.flush();
}

void heartbeat()
{
    stamp() << "heartbeat (does not hold the exit)\n";
    out.flush();
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &run) -> QAyo::Task<> {
        sinceStart.start();
        const QString foo = QStringLiteral("foo");

        // C++ has no keyword arguments: bar is the second positional one. The arguments are
        // stored with the callable and passed to every call.
        run.after(300ms, callback, foo, 1);
        run.at(QDateTime::currentDateTime().addMSecs(500), callback, foo, 2);
        QAyo::Scheduled ticks = run.every(200ms, callback, foo, 3); // at 200, 400, 600 ... ms

        // Without dontHoldExit() this would keep the program running forever.
        run.every(350ms, heartbeat).dontHoldExit();

        // A recurring every() holds the scope's exit until it is unscheduled (or cancelled).
        run.after(1100ms, [ticks]() mutable {
            stamp() << "unscheduling the every(200ms): nothing holds the exit any more\n";
            ticks.unschedule();
        });

        stamp() << "main() returns; the root scope waits for what it scheduled\n";
        out.flush();
        co_return;
    });
}
