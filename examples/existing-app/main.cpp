// SPDX-License-Identifier: MIT
// Using an application you already have: main() makes the QCoreApplication (a QGuiApplication
// or QApplication works the same) and runs app.exec() as always. QAyo joins in three ways:
//
//   - QAyo::waitFor(task) runs a task from plain code (here before the loop starts);
//   - an object owns a QAyo::Scope as a child: its tasks die with it. Deleting the object while
//     a task sleeps destroys the task's frame - its locals are cleaned up, it never resumes into
//     the deleted object (the classic crash of coroutine code in Qt GUIs);
//   - QAyo::Runner::start(main) runs a QAyo main in the running loop and quits the application
//     when it is done.
#include <QAyo/QAyo>

#include <QCoreApplication>
#include <QTextStream>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);

void say(const QString &line)
{
    out << line << "\n";
    out.flush();
}

QAyo::Task<int> computeAnswer()
{
    co_await QAyo::sleep(20ms);
    co_return 42;
}

//! Prints when the frame that holds it is destroyed.
struct SaysGoodbye
{
    ~SaysGoodbye() { say(QStringLiteral("  poller: frame destroyed, its locals cleaned up")); }
};

//! A backend object with work of its own: the scope is its last member, so the scope and its
//! work die first, before any other member the work could touch.
class Backend : public QObject
{
public:
    explicit Backend(QObject *parent = nullptr) : QObject(parent) {}

    void startPolling()
    {
        m_work.asap([this]() -> QAyo::Task<> {
            SaysGoodbye goodbye;
            for (;;) {
                co_await QAyo::sleep(100ms); // after the backend is deleted, this never returns
                say(QStringLiteral("  poller: poll %1").arg(++m_polls)); // touches `this`
            }
        });
    }

private:
    int m_polls = 0;
    QAyo::Scope m_work{this}; // last: destroyed first
};
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);

    // From plain code: run a task to its end on a nested loop.
    say(QStringLiteral("waitFor(computeAnswer()) = %1").arg(QAyo::waitFor(computeAnswer())));

    auto *backend = new Backend(&app);
    backend->startPolling();

    QAyo::Runner runner; // declared after app: destroyed before it
    runner.start([backend](QAyo::Scope &) -> QAyo::Task<> {
        say(QStringLiteral("main: running inside app.exec()"));
        co_await QAyo::sleep(350ms);
        say(QStringLiteral("main: deleting the backend while its poller sleeps"));
        delete backend;
        co_await QAyo::sleep(150ms);
        say(QStringLiteral("main: no poll came after the delete; done"));
    });
    const int code = app.exec();
    say(QStringLiteral("app.exec() returned %1").arg(code));
    return code;
}
