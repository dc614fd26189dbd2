// SPDX-License-Identifier: MIT
#include <QAyo/runner.h>

#include "../core/errors_p.h"

#include <QCoreApplication>

#include <cstdio>
#include <memory>

namespace QAyo::detail {

int runMain(int &argc, char **argv, std::function<Task<int>(Scope &)> main)
{
    std::unique_ptr<QCoreApplication> ownedApp;
    if (!QCoreApplication::instance())
        ownedApp = std::make_unique<QCoreApplication>(argc, argv);

    int exitCode = 0;
    std::exception_ptr failure;
    {
        Scope root({.name = QStringLiteral("root")});
        Handle<int> mainTask = root.asap([&main, &root]() { return main(root); });
        // The join runs in a scope of its own: a task cannot join the scope it belongs to.
        Scope driver({.name = QStringLiteral("runAsMain")});
        driver.asap([&]() -> Task<> {
            try {
                co_await root;
            } catch (...) {
                failure = std::current_exception();
            }
            QCoreApplication::exit(0);
        });
        QCoreApplication::exec();
        if (!failure && mainTask.isFinished() && !mainTask.isCancelled())
            exitCode = mainTask.result();
    }
    if (failure) {
        std::fprintf(stderr, "QAyo: uncaught error in main: %s\n",
                     qPrintable(describeException(failure)));
        exitCode = 1;
    }
    return exitCode;
}

} // namespace QAyo::detail
