// SPDX-License-Identifier: MIT
// QAyo::Runner: the program's life cycle around the root scope (docs/program.md).
//
// exec():  starting -> loopCreated|loopAdopted -> exec() { loopStarted -> main spawned ->
//          started -> [root scope idle] -> stopping hooks (awaited) -> join root -> stopped
//          hooks (awaited) -> QCoreApplication::exit } -> loopClosed -> exit code.
// start(): the same without owning exec(); loopClosed comes with aboutToQuit.
//
// The driver that walks through these steps is a task of a scope of its own: a task cannot
// join the scope it belongs to, and a cancelled root scope must not cancel the stopping hooks.
#include <QAyo/runner.h>
#include <QAyo/signal.h>

#include "../core/diagnostics_p.h"
#include "../core/errors_p.h"
#include "program_p.h"
#include "unixsignals_p.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QPointer>

#include <csignal>
#include <iterator>
#include <cstdio>
#include <memory>
#include <vector>

namespace QAyo {

namespace detail {

Q_LOGGING_CATEGORY(lcProgram, "qayo.program", QtInfoMsg)

namespace {
const char *signalName(int signalNumber)
{
    switch (signalNumber) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "a signal";
    }
}
} // namespace

class RunnerPrivate
{
public:
    struct HookEntry
    {
        int id;
        Runner::Hook kind;
        bool enabled = true;
        std::function<void(Scope &)> plain;
        HookFunction coroutine;
    };

    RunnerPrivate(Runner *q, const RunnerOptions &options) : q(q), options(options) {}

    bool isKindEnabled(Runner::Hook kind) const
    {
        return allEnabled && !(disabledKinds & (1u << unsigned(kind)));
    }
    void emitHook(Runner::Hook kind);
    Task<> runHook(Runner::Hook kind);
    void begin(MainFunction function);
    void attachToApplication();
    void loopStarted();
    Task<> drive();
    void finishRun(std::exception_ptr failure, std::exception_ptr hookFailure);
    void onTermination(int signalNumber);
    void onAboutToQuit();
    void onApplicationDestroyed();
    void detachFromApplication();

    Runner *q;
    RunnerOptions options;
    // Destroyed bottom up: the driver before the root scope, the root scope before main's
    // callable and the hooks its tasks may still reference.
    MainFunction main;
    std::vector<std::shared_ptr<HookEntry>> hooks;
    int nextHookId = 1;
    quint32 disabledKinds = 0;
    bool allEnabled = true;
    std::unique_ptr<Scope> root;
    std::optional<Handle<int>> mainHandle;
    IdleNotifier idleNotifier;
    std::unique_ptr<Scope> driver;
    std::unique_ptr<UnixSignalWatcher> signalWatcher;
    QList<QMetaObject::Connection> appConnections;

    bool running = false;
    bool done = false;
    bool startMode = false;
    bool quitting = false;
    bool loopClosedEmitted = false;
    int exitCode = 0;
    int receivedSignal = 0;
    std::exception_ptr plainHookFailure; // the first error escaping a plain hook: exit code 1
};

void RunnerPrivate::emitHook(Runner::Hook kind)
{
    if (!isKindEnabled(kind))
        return;
    qCDebug(lcProgram) << "hook" << kind;
    // The signal of each Hook value, in the enum's order.
    static constexpr void (Runner::*hookSignals[])() = {
        &Runner::starting, &Runner::loopCreated, &Runner::loopAdopted, &Runner::loopStarted,
        &Runner::started,  &Runner::stopping,    &Runner::stopped,     &Runner::loopClosed,
    };
    static_assert(std::size(hookSignals) == std::size_t(Runner::Hook::LoopClosed) + 1);
    Q_EMIT(q->*hookSignals[std::size_t(kind)])();
    const auto entries = hooks; // a hook may add or remove hooks
    for (const auto &entry : entries) {
        if (entry->kind == kind && entry->enabled && entry->plain) {
            // Some hooks run outside any task (before the loop, inside a queued call, after the
            // loop): an error must not escape through Qt's event loop or out of exec().
            try {
                entry->plain(*root);
            } catch (...) {
                if (!plainHookFailure)
                    plainHookFailure = std::current_exception();
            }
        }
    }
}

Task<> RunnerPrivate::runHook(Runner::Hook kind)
{
    emitHook(kind);
    if (!isKindEnabled(kind))
        co_return;
    std::vector<std::shared_ptr<HookEntry>> coroutines;
    for (const auto &entry : hooks) {
        if (entry->kind == kind && entry->enabled && entry->coroutine)
            coroutines.push_back(entry);
    }
    if (coroutines.empty())
        co_return;
    Scope *rootScope = root.get();
    // The hooks run next to each other in a scope nested in the driver: not cancelled with the
    // root scope (the countdown on Ctrl+C), and an error in one cancels the others.
    co_await QAyo::scope({.name = QStringLiteral("hooks")}, [&](Scope &hookScope) {
        for (const auto &entry : coroutines)
            hookScope.asap([entry, rootScope]() { return entry->coroutine(*rootScope); });
    });
}

void RunnerPrivate::begin(MainFunction function)
{
    if (running)
        throw InvalidStateError(QStringLiteral("Runner: the runner runs already"));
    if (root->isFinished() || done)
        throw InvalidStateError(QStringLiteral("Runner: a runner runs once; make a new one"));
    running = true;
    main = std::move(function);
}

void RunnerPrivate::attachToApplication()
{
    auto *app = QCoreApplication::instance();
    appConnections.append(QObject::connect(app, &QCoreApplication::aboutToQuit, q, [this] { onAboutToQuit(); }));
    appConnections.append(QObject::connect(app, &QObject::destroyed, q, [this] { onApplicationDestroyed(); }));
    const bool dumpOnSignal = options.dumpTreeOnSigusr1 || qEnvironmentVariableIntValue("QAYO_DUMP_ON_SIGNAL") != 0;
    if (options.handleSignals || dumpOnSignal) {
        signalWatcher = std::make_unique<UnixSignalWatcher>(options.handleSignals, options.handleSighup,
                                                            dumpOnSignal);
        QObject::connect(signalWatcher.get(), &UnixSignalWatcher::terminationRequested, q,
                         [this](int signalNumber) { onTermination(signalNumber); });
        QObject::connect(signalWatcher.get(), &UnixSignalWatcher::dumpRequested, q, [] { QAyo::dumpTree(); });
    }
    QMetaObject::invokeMethod(q, [this] { loopStarted(); }, Qt::QueuedConnection);
}

void RunnerPrivate::loopStarted()
{
    if (done)
        return;
    emitHook(Runner::Hook::LoopStarted);
    mainHandle = root->asap([this]() { return main(*root); });
    mainHandle->setName(QStringLiteral("main"));
    // Coroutine hooks of started are program work: they run in the root scope next to main.
    if (isKindEnabled(Runner::Hook::Started)) {
        for (const auto &entry : hooks) {
            if (entry->kind == Runner::Hook::Started && entry->enabled && entry->coroutine)
                root->asap([entry, this]() { return entry->coroutine(*root); });
        }
    }
    emitHook(Runner::Hook::Started);
    driver->asap([this]() { return drive(); });
}

Task<> RunnerPrivate::drive()
{
    try {
        co_await *mainHandle;
    } catch (...) {
        // The root scope keeps main's error; its join rethrows it below.
    }
    // Everything main spawned into the root scope ends too before the program stops. The
    // timeout is only a safety net: activeChanged is not emitted on every path to idle.
    while (root->isActive())
        co_await QAyo::signal(&idleNotifier, &IdleNotifier::changed, std::chrono::milliseconds(50));

    std::exception_ptr hookFailure;
    try {
        co_await runHook(Runner::Hook::Stopping);
    } catch (...) {
        hookFailure = std::current_exception();
    }
    std::exception_ptr failure;
    try {
        co_await *root; // waits for what the stopping hooks spawned into it; closes it
    } catch (...) {
        failure = std::current_exception();
    }
    try {
        co_await runHook(Runner::Hook::Stopped);
    } catch (...) {
        if (!hookFailure)
            hookFailure = std::current_exception();
    }
    finishRun(failure, hookFailure);
}

void RunnerPrivate::finishRun(std::exception_ptr failure, std::exception_ptr hookFailure)
{
    if (!hookFailure)
        hookFailure = plainHookFailure;
    if (receivedSignal != 0) {
        exitCode = 128 + receivedSignal;
    } else if (failure) {
        std::fprintf(stderr, "QAyo: uncaught error in main: %s\n", qPrintable(describeException(failure)));
        exitCode = 1;
    } else if (hookFailure) {
        std::fprintf(stderr, "QAyo: uncaught error in a hook: %s\n", qPrintable(describeException(hookFailure)));
        exitCode = 1;
    } else if (mainHandle && mainHandle->isFinished() && !mainHandle->isCancelled()) {
        exitCode = mainHandle->result();
    }
    std::fflush(stderr);
    done = true;
    qCDebug(lcProgram) << "program stopped with exit code" << exitCode;
    if (!quitting && (!startMode || options.quitWhenDone))
        QCoreApplication::exit(exitCode);
}

void RunnerPrivate::onTermination(int signalNumber)
{
    if (done)
        return;
    if (receivedSignal == 0)
        receivedSignal = signalNumber;
    qCInfo(lcProgram) << "received" << signalName(signalNumber)
                      << "- cancelling the root scope (send it again to exit at once)";
    root->cancel();
}

void RunnerPrivate::onAboutToQuit()
{
    if (running && !done) {
        quitting = true;
        const QStringList tasks = unfinishedTasksBelow(root.get());
        if (!tasks.isEmpty() && isDiagnosticEnabled(Diagnostic::QuitWithTasksRunning)) {
            qCWarning(lcProgram).noquote() << "the application quits with" << tasks.size()
                                           << "task(s) still running:" << tasks.join(QStringLiteral(", "))
                                           << "- cancelling them";
        }
        root->cancel();
        // The event loop has ended: the unwind (cleanup, stopping and stopped hooks) runs here.
        QEventLoop loop;
        while (!done)
            loop.processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
    }
    if (startMode && running && !loopClosedEmitted) {
        loopClosedEmitted = true;
        emitHook(Runner::Hook::LoopClosed);
        detachFromApplication();
        running = false;
    }
}

void RunnerPrivate::onApplicationDestroyed()
{
    if (root && !root->isFinished() && (root->isActive() || running)
        && isDiagnosticEnabled(Diagnostic::ApplicationDestroyedEarly)) {
        const QStringList tasks = unfinishedTasksBelow(root.get());
        qCWarning(lcProgram).noquote() << "QCoreApplication destroyed before the root scope finished;"
                                       << tasks.size() << "task(s) left:" << tasks.join(QStringLiteral(", "));
    }
    appConnections.clear();
}

void RunnerPrivate::detachFromApplication()
{
    for (const auto &connection : std::as_const(appConnections))
        QObject::disconnect(connection);
    appConnections.clear();
    signalWatcher.reset();
}

} // namespace detail

Runner::Runner(QObject *parent) : Runner(RunnerOptions{}, parent) {}

Runner::Runner(const RunnerOptions &options, QObject *parent)
    : QObject(parent), d(new detail::RunnerPrivate(this, options))
{
    d->root = std::make_unique<Scope>(ScopeOptions{.name = QStringLiteral("root")});
    d->driver = std::make_unique<Scope>(ScopeOptions{.name = QStringLiteral("QAyo::Runner")});
    // Connected for the root scope's whole life, never disconnected (see IdleNotifier).
    connect(d->root.get(), &Scope::activeChanged, &d->idleNotifier, &detail::IdleNotifier::changed);
    connect(d->root.get(), &Scope::cancelledChanged, &d->idleNotifier, &detail::IdleNotifier::changed);
}

Runner::~Runner()
{
    d->detachFromApplication();
    d->driver.reset();
    d->root.reset();
}

int Runner::execMain(int &argc, char **argv, detail::MainFunction main)
{
    d->begin(std::move(main));
    d->emitHook(Hook::Starting);
    std::unique_ptr<QCoreApplication> ownedApp;
    if (!QCoreApplication::instance()) {
        ownedApp = std::make_unique<QCoreApplication>(argc, argv);
        d->emitHook(Hook::LoopCreated);
    } else {
        d->emitHook(Hook::LoopAdopted);
    }
    d->attachToApplication();
    QCoreApplication::exec();
    if (!d->done) {
        // The loop was left before the program stopped (someone called quit()) and
        // aboutToQuit did not reach us: unwind now.
        d->onAboutToQuit();
    }
    d->emitHook(Hook::LoopClosed);
    if (d->plainHookFailure && d->exitCode == 0) { // a loopClosed hook failed
        std::fprintf(stderr, "QAyo: uncaught error in a hook: %s\n",
                     qPrintable(detail::describeException(d->plainHookFailure)));
        std::fflush(stderr);
        d->exitCode = 1;
    }
    d->detachFromApplication();
    d->running = false;
    ownedApp.reset();
    return d->exitCode;
}

void Runner::startMain(detail::MainFunction main)
{
    if (!QCoreApplication::instance())
        throw InvalidStateError(QStringLiteral("Runner::start: there is no QCoreApplication (use exec())"));
    d->begin(std::move(main));
    d->startMode = true;
    d->emitHook(Hook::Starting);
    d->emitHook(Hook::LoopAdopted);
    d->attachToApplication();
}

namespace {
//! Throws InvalidArgument naming \a operation unless \a hook is one of Runner::Hook's values
//! (a cast from an int can make any number; the enabled mask has a bit per value).
void checkHookKind(const char *operation, Runner::Hook hook)
{
    const int value = int(hook);
    if (value < int(Runner::Hook::Starting) || value > int(Runner::Hook::LoopClosed)) {
        throw InvalidArgument(QStringLiteral("%1: unknown hook %2 (Runner::Hook goes from %3 to %4)")
                                  .arg(QLatin1String(operation))
                                  .arg(value)
                                  .arg(int(Runner::Hook::Starting))
                                  .arg(int(Runner::Hook::LoopClosed)));
    }
}
} // namespace

int Runner::addHookFunction(Hook hook, std::function<void(Scope &)> plain, detail::HookFunction coroutine)
{
    checkHookKind("addHook", hook);
    if (coroutine && hook != Hook::Started && hook != Hook::Stopping && hook != Hook::Stopped) {
        throw InvalidArgument(QStringLiteral("addHook: hook %1 cannot be a coroutine (only Started, "
                                             "Stopping and Stopped hooks are awaited)")
                                  .arg(int(hook)));
    }
    auto entry = std::make_shared<detail::RunnerPrivate::HookEntry>();
    entry->id = d->nextHookId++;
    entry->kind = hook;
    entry->plain = std::move(plain);
    entry->coroutine = std::move(coroutine);
    d->hooks.push_back(entry);
    return entry->id;
}

void Runner::removeHook(int id)
{
    std::erase_if(d->hooks, [id](const auto &entry) { return entry->id == id; });
}

void Runner::setHookEnabled(int id, bool enabled)
{
    for (const auto &entry : d->hooks) {
        if (entry->id == id) {
            entry->enabled = enabled;
            return;
        }
    }
    throw InvalidArgument(
        QStringLiteral("setHookEnabled: no hook with id %1 (ids come from addHook(); a removed hook has none)").arg(id));
}

void Runner::setHookEnabled(Hook hook, bool enabled)
{
    checkHookKind("setHookEnabled", hook);
    const quint32 bit = 1u << unsigned(hook);
    d->disabledKinds = enabled ? (d->disabledKinds & ~bit) : (d->disabledKinds | bit);
}

bool Runner::isHookEnabled(Hook hook) const
{
    checkHookKind("isHookEnabled", hook);
    return d->isKindEnabled(hook);
}

void Runner::setHooksEnabled(bool enabled)
{
    d->allEnabled = enabled;
}

Scope &Runner::root()
{
    return *d->root;
}

int Runner::exitCode() const
{
    return d->exitCode;
}

bool Runner::isRunning() const
{
    return d->running && !d->done;
}

int Runner::receivedSignal() const
{
    return d->receivedSignal;
}

RunnerOptions Runner::options() const
{
    return d->options;
}

void Runner::stop()
{
    // Before exec()/start() too: the root scope is cancelled now, so the run that follows
    // drops main unstarted and goes straight to the stopping hooks. After the run: harmless.
    if (!d->done)
        d->root->cancel();
}

} // namespace QAyo
