// SPDX-License-Identifier: MIT
// Child process of tst_program: the cases that need a process of their own (a QCoreApplication
// the runner creates, stderr, an application destroyed under a running root scope).
//   program_helper create        runAsMain creates the application; prints the hooks seen
//   program_helper error         main throws: exit code 1, the message on stderr
//   program_helper appdestroyed  the application dies while the root scope still runs
//   program_helper startwithoutapp  Runner::start() without an application: prints the error
#include <QAyo/QAyo>

#include <QCoreApplication>

#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

using namespace std::chrono_literals;

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (std::strcmp(mode, "create") == 0) {
        QAyo::Runner runner;
        const auto print = [](const char *text) { return [text] { std::printf("%s\n", text); }; };
        QObject::connect(&runner, &QAyo::Runner::loopCreated, print("loopCreated"));
        QObject::connect(&runner, &QAyo::Runner::loopAdopted, print("loopAdopted"));
        return runner.exec(argc, argv, [](QAyo::Scope &) -> QAyo::Task<int> {
            std::printf("app %s\n", QCoreApplication::instance() ? "exists" : "missing");
            co_await QAyo::sleep(10ms);
            co_return 5;
        });
    }
    if (std::strcmp(mode, "error") == 0) {
        return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
            co_await QAyo::sleep(10ms);
            throw std::runtime_error("the disk is on fire");
        });
    }
    if (std::strcmp(mode, "appdestroyed") == 0) {
        QAyo::Runner runner({.handleSignals = false});
        auto app = std::make_unique<QCoreApplication>(argc, argv);
        runner.start([](QAyo::Scope &) -> QAyo::Task<> { co_await QAyo::sleep(1h); });
        QCoreApplication::processEvents(); // main starts
        app.reset();                        // ... and the application goes away under it
        return 0;
    }
    if (std::strcmp(mode, "startwithoutapp") == 0) {
        QAyo::Runner runner({.handleSignals = false});
        try {
            runner.start([](QAyo::Scope &) -> QAyo::Task<> { co_return; });
        } catch (const QAyo::InvalidStateError &e) {
            std::printf("InvalidStateError: %s\n", qPrintable(e.message()));
            return 0;
        }
        std::printf("no exception\n");
        return 1;
    }
    std::fprintf(stderr, "unknown mode\n");
    return 2;
}
