// SPDX-License-Identifier: MIT
// Work interrupted by Ctrl+C: SIGINT (or SIGTERM) cancels the root scope, the workers' cleanup
// runs, and the exit code is 130 (143). A second Ctrl+C during the cleanup exits at once.
//
//   graceful                  three workers, each works for a minute
//   graceful --demo           sends itself SIGINT after a moment (for scripts/demo)
//   graceful --cleanup-ms N   the cleanup takes N ms (default 300)
#include <QAyo/QAyo>

#include <QCoreApplication>
#include <QStringList>
#include <QTimer>

#include <csignal>
#include <cstdio>

using namespace std::chrono_literals;

namespace {
void say(const char *format, int value = 0)
{
    std::printf(format, value);
    std::fputc('\n', stdout);
    std::fflush(stdout); // stdout may be a pipe: show each line as it happens
}

QAyo::Task<> cleanup(int id, std::chrono::milliseconds cleanupTime)
{
    say("worker %d: cancelled, cleaning up", id);
    co_await QAyo::sleep(cleanupTime); // e.g. flushing files, telling a server goodbye
    say("worker %d: cleanup done", id);
}

QAyo::Task<> worker(int id, std::chrono::milliseconds cleanupTime)
{
    say("worker %d: started", id);
    std::exception_ptr cancelled;
    try {
        for (int step = 1; step <= 600; ++step)
            co_await QAyo::sleep(100ms); // every co_await is a cancellation checkpoint
        say("worker %d: finished", id);
        co_return;
    } catch (const QAyo::Cancelled &) {
        cancelled = std::current_exception(); // no co_await inside a catch block (C++)
    }
    // Cleanup that must not be interrupted: shielded from the cancellation.
    co_await QAyo::shield(cleanup(id, cleanupTime));
    std::rethrow_exception(cancelled); // always let the cancellation go on
}
} // namespace

int main(int argc, char **argv)
{
    QStringList args;
    for (int i = 1; i < argc; ++i)
        args << QString::fromLocal8Bit(argv[i]);
    const bool demo = args.contains(QStringLiteral("--demo"));
    const int cleanupIndex = args.indexOf(QStringLiteral("--cleanup-ms"));
    const auto cleanupTime = std::chrono::milliseconds(
        cleanupIndex >= 0 && cleanupIndex + 1 < args.size() ? args.at(cleanupIndex + 1).toInt() : 300);

    return QAyo::runAsMain(argc, argv, [=](QAyo::Scope &run) -> QAyo::Task<> {
        for (int id = 1; id <= 3; ++id)
            run << worker(id, cleanupTime);
        if (demo) {
            say("(demo: pressing Ctrl+C in 500 ms)");
            QTimer::singleShot(500ms, [] { std::raise(SIGINT); });
        }
        co_return;
    });
}
