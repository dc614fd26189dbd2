// SPDX-License-Identifier: MIT
#pragma once

// The program: QAyo::runAsMain, QAyo::Runner (lifecycle hooks, Unix signals) and QAyo::waitFor.
// docs/program.md has the full contract.

#include <QAyo/detail/callable.h>
#include <QAyo/diagnostics.h>
#include <QAyo/scope.h>
#include <QAyo/task.h>

#include <QObject>
#include <QScopedPointer>

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>

namespace QAyo {

namespace detail {
class RunnerPrivate;

//! What runAsMain and Runner keep of `main`: a Task<> or Task<int> callable, as Task<int>.
using MainFunction = std::function<Task<int>(Scope &)>;
//! What Runner keeps of a coroutine hook: a Task<> from the root scope.
using HookFunction = std::function<Task<>(Scope &)>;

template<typename Main>
MainFunction wrapMain(Main main, const char *operation)
{
    checkCallable(main, operation, "main function");
    using R = std::invoke_result_t<Main &, Scope &>;
    static_assert(IsTask<R>::value, "runAsMain: main must return QAyo::Task<> or QAyo::Task<int>");
    using T = typename IsTask<R>::ValueType;
    static_assert(std::is_void_v<T> || std::is_same_v<T, int>,
                  "runAsMain: main must return QAyo::Task<> or QAyo::Task<int>");
    return [main = std::move(main)](Scope &root) mutable -> Task<int> {
        if constexpr (std::is_void_v<T>) {
            co_await main(root);
            co_return 0;
        } else {
            co_return co_await main(root);
        }
    };
}

//! What a hook returns; it may take the root scope or nothing.
template<typename F>
struct HookResult
{
    using type = std::invoke_result_t<F &>;
};
template<typename F>
    requires std::is_invocable_v<F &, Scope &>
struct HookResult<F>
{
    using type = std::invoke_result_t<F &, Scope &>;
};

//! Runs \a task on a nested event loop until it ends; rethrows its error (see QAyo::waitFor()).
QAYO_CORE_EXPORT void waitForTask(Task<> task);

template<typename T>
Task<> storeResult(Task<T> task, std::optional<T> *out)
{
    out->emplace(co_await std::move(task));
}
} // namespace detail

//! How a Runner (and runAsMain) treats the process; every field has a sensible default.
struct RunnerOptions
{
    //! SIGINT and SIGTERM cancel the root scope gracefully (exit code 130 / 143); a second one
    //! during the unwind exits at once with the same code. On by default.
    bool handleSignals = true;
    //! SIGHUP is handled like SIGTERM (exit code 129). Needs handleSignals.
    bool handleSighup = false;
    //! SIGUSR1 prints QAyo::dumpTree() to qayo.tree (QAYO_DUMP_ON_SIGNAL=1 in the environment
    //! turns it on too).
    bool dumpTreeOnSigusr1 = false;
    //! start(): quit the application with the exit code once main and the hooks are done.
    bool quitWhenDone = true;
};

//! The program's life cycle around a root scope: lifecycle hooks, Unix signals, exit code.
/*!
 * \code
 * int main(int argc, char **argv)
 * {
 *     QAyo::Runner runner;
 *     runner.addHook(QAyo::Runner::Hook::Stopping, [](QAyo::Scope &) -> QAyo::Task<> {
 *         for (int i = 3; i > 0; --i) {
 *             qInfo() << i;
 *             co_await QAyo::sleep(1s);
 *         }
 *         qInfo() << "Good bye";
 *     });
 *     return runner.exec(argc, argv, [](QAyo::Scope &run) -> QAyo::Task<> { ... });
 * }
 * \endcode
 *
 * The hooks come in this order: starting, loopCreated or loopAdopted, loopStarted, started,
 * (main and everything it spawned into the root scope runs and ends), stopping, stopped,
 * loopClosed. Each is a Qt signal (connect plain slots) and can take callables with addHook();
 * coroutine hooks (returning QAyo::Task<>) are allowed for started, stopping and stopped and
 * are awaited before the program goes on - stopping hooks with the root scope still usable.
 *
 * Thread rules: create and use a Runner on the application's (main) thread.
 */
class QAYO_CORE_EXPORT Runner : public QObject
{
    Q_OBJECT
public:
    //! The lifecycle hooks, in the order they come.
    enum class Hook {
        Starting,    //!< before anything else; the application may not exist yet
        LoopCreated, //!< the runner created the QCoreApplication
        LoopAdopted, //!< the runner adopted an existing application
        LoopStarted, //!< the event loop runs (first turn)
        Started,     //!< main was spawned into the root scope (it runs on a later turn)
        Stopping,    //!< main and the root scope's work ended; the root scope is still usable
        Stopped,     //!< the root scope has finished (joined)
        LoopClosed,  //!< the event loop returned (start(): the application is about to quit)
    };
    Q_ENUM(Hook)

    //! A runner with default options.
    explicit Runner(QObject *parent = nullptr);
    //! A runner with \a options.
    explicit Runner(const RunnerOptions &options, QObject *parent = nullptr);
    //! Destroys the runner and its root scope (cancelling what still runs).
    ~Runner() override;

    //! Runs \a main (Task<> or Task<int> from `Scope &`) in the root scope on the application's
    //! event loop, creating the QCoreApplication from \a argc / \a argv unless one exists, and
    //! returns the exit code: 0 or main's int; 1 (error on stderr) if an exception escaped
    //! main or a hook; 128 + signal number after SIGINT/SIGTERM/SIGHUP.
    //! Throws InvalidStateError if the runner runs already, InvalidArgument for an empty main.
    template<typename Main>
    int exec(int &argc, char **argv, Main main)
    {
        return execMain(argc, argv, detail::wrapMain(std::move(main), "Runner::exec"));
    }

    //! Attaches to an application whose event loop runs already or is about to (QML apps):
    //! spawns \a main into the root scope on the next loop turn and returns at once. When main
    //! and the hooks are done the application quits with exitCode() (unless
    //! RunnerOptions::quitWhenDone is off). Throws InvalidStateError without a
    //! QCoreApplication or if the runner runs already; InvalidArgument for an empty main.
    template<typename Main>
    void start(Main main)
    {
        startMain(detail::wrapMain(std::move(main), "Runner::start"));
    }

    //! Adds a hook for \a hook: \a f takes `QAyo::Scope &` (the root scope) or nothing and
    //! returns void or QAyo::Task<>. Returns an id for setHookEnabled(int, bool) and
    //! removeHook(). Throws InvalidArgument for a coroutine on a hook other than Started,
    //! Stopping or Stopped (no loop runs there to await it), for a value that is not a Hook,
    //! and for an empty \a f.
    template<typename F>
    int addHook(Hook hook, F f)
    {
        using R = typename detail::HookResult<F>::type;
        static_assert(std::is_void_v<R> || std::is_same_v<R, Task<>>,
                      "Runner::addHook: the hook must return void or QAyo::Task<>");
        detail::checkCallable(f, "Runner::addHook", "hook");
        auto call = [f = std::move(f)](Scope &root) mutable -> R {
            if constexpr (std::is_invocable_v<F &, Scope &>)
                return f(root);
            else
                return f();
        };
        if constexpr (std::is_void_v<R>)
            return addHookFunction(hook, std::move(call), {});
        else
            return addHookFunction(hook, {}, std::move(call));
    }

    //! Removes the hook \a id (from addHook()); unknown ids are ignored.
    void removeHook(int id);
    //! Turns the hook \a id (from addHook()) off or on. Throws InvalidArgument naming \a id if
    //! no hook has it (never added, or removed).
    void setHookEnabled(int id, bool enabled);
    //! Turns one kind of hook off or on: its signal is not emitted, its added hooks do not run.
    //! Throws InvalidArgument for a value that is not a Hook (e.g. Hook(40)).
    void setHookEnabled(Hook hook, bool enabled);
    //! True unless \a hook was turned off (one by one or with setHooksEnabled(false)). Throws
    //! InvalidArgument for a value that is not a Hook.
    bool isHookEnabled(Hook hook) const;
    //! Turns every hook (signals and added hooks) off or on at once.
    void setHooksEnabled(bool enabled);

    //! The root scope: main runs in it. Lives as long as the runner.
    Scope &root();
    //! The exit code once the program stopped (0 before).
    int exitCode() const;
    //! True from exec()/start() until the stopped hooks ran.
    bool isRunning() const;
    //! The signal that stopped the program (SIGINT, SIGTERM, SIGHUP), 0 if none.
    int receivedSignal() const;
    //! The options given at construction.
    RunnerOptions options() const;

public Q_SLOTS:
    //! Stops the program as SIGTERM would, without the exit code: cancels the root scope, the
    //! tasks unwind, the stopping and stopped hooks run, the loop quits. Called before exec()
    //! or start(), it cancels the root scope at once: the run then never starts main, the hooks
    //! still come in order and the exit code is 0. After the run it does nothing (harmless).
    void stop();

Q_SIGNALS:
    //! Before anything else (no application may exist yet).
    void starting();
    //! main was spawned into the root scope.
    void started();
    //! main and the root scope's work ended; the root scope is still usable.
    void stopping();
    //! The root scope finished.
    void stopped();
    //! The runner created the QCoreApplication.
    void loopCreated();
    //! The runner adopted an existing application.
    void loopAdopted();
    //! The event loop runs.
    void loopStarted();
    //! The event loop returned (start(): the application is about to quit).
    void loopClosed();

private:
    friend class detail::RunnerPrivate;
    int execMain(int &argc, char **argv, detail::MainFunction main);
    void startMain(detail::MainFunction main);
    int addHookFunction(Hook hook, std::function<void(Scope &)> plain, detail::HookFunction coroutine);

    QScopedPointer<detail::RunnerPrivate> d;
};

//! The program entry point: runs \a main in the root scope on Qt's event loop; returns an exit code.
/*!
 * Creates a QCoreApplication unless one exists (an existing QCoreApplication, QGuiApplication
 * or QApplication is adopted), spawns `main(root)` into the root scope, runs the event loop
 * until the root scope has finished, and returns 0 - or main's int for a Task<int> - or 1
 * after printing the error to stderr when an exception escaped. SIGINT/SIGTERM cancel the root
 * scope (cleanup runs) and make the exit code 130/143; a second signal exits at once.
 *
 * \code
 * int main(int argc, char **argv)
 * {
 *     return QAyo::runAsMain(argc, argv, [](QAyo::Scope &run) -> QAyo::Task<> {
 *         co_await QAyo::sleep(3s);
 *         qInfo() << "Hello!";
 *     });
 * }
 * \endcode
 */
template<typename Main>
int runAsMain(int &argc, char **argv, Main main, const RunnerOptions &options = {})
{
    Runner runner(options);
    return runner.exec(argc, argv, std::move(main));
}

//! Runs \a task to completion from plain (non-coroutine) code on a nested event loop and
//! returns its value; rethrows its error as soon as it escapes (fast fail). Needs a
//! QCoreApplication (InvalidStateError otherwise). The task runs in a scope of its own.
template<typename T>
T waitFor(Task<T> task)
{
    if constexpr (std::is_void_v<T>) {
        detail::waitForTask(std::move(task));
    } else {
        std::optional<T> value;
        detail::waitForTask(detail::storeResult(std::move(task), &value));
        return std::move(*value);
    }
}

} // namespace QAyo
