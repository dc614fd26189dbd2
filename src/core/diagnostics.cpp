// SPDX-License-Identifier: MIT
#include "diagnostics_p.h"

#include "logging_p.h"
#include "scope_p.h"
#include "threadcontext_p.h"

#include <QCoreApplication>
#include <QThread>
#include <QVariant>

#include <atomic>

namespace QAyo {

namespace {
std::atomic<int> enabledDiagnostics{int(Diagnostic::QuitWithTasksRunning)
                                    | int(Diagnostic::SpawnWithoutEventLoop)
                                    | int(Diagnostic::ApplicationDestroyedEarly)};
constexpr int allDiagnostics = 0x7;
constexpr char warnedProperty[] = "_qayo_warnedNoEventLoop";
} // namespace

void setDiagnosticEnabled(Diagnostic diagnostic, bool enabled) noexcept
{
    if (enabled)
        enabledDiagnostics.fetch_or(int(diagnostic), std::memory_order_relaxed);
    else
        enabledDiagnostics.fetch_and(~int(diagnostic), std::memory_order_relaxed);
}

void setDiagnosticsEnabled(bool enabled) noexcept
{
    enabledDiagnostics.store(enabled ? allDiagnostics : 0, std::memory_order_relaxed);
}

bool isDiagnosticEnabled(Diagnostic diagnostic) noexcept
{
    return enabledDiagnostics.load(std::memory_order_relaxed) & int(diagnostic);
}

namespace detail {

void checkSpawnThread(ScopePrivate *scope) noexcept
{
    if (!(enabledDiagnostics.load(std::memory_order_relaxed) & int(Diagnostic::SpawnWithoutEventLoop)))
        return;
    // Spawned by ready work: this thread's loop is delivering QAyo's events right now (the
    // common case, and cheaper to ask than QThread::currentThread()).
    if (ThreadContext *context = ThreadContext::currentIfAny(); context && context->isDraining())
        return;
    QThread *thread = QThread::currentThread();
    if (Q_LIKELY(thread->loopLevel() > 0))
        return;
    // No loop runs right now. On the application's thread that is normal before exec() (e.g.
    // runAsMain spawns main first): only a missing QCoreApplication is a mistake there.
    auto *app = QCoreApplication::instance();
    if (app && app->thread() == thread)
        return;
    // The same holds for a plain QThread before its loop starts (spawning from its started()
    // signal, the usual worker pattern): QThread::run() calls exec() next. QThread::start()
    // gives such a thread its event dispatcher before started(); an adopted thread (std::thread,
    // pthread) shares QThread's meta-object but has no dispatcher until someone makes a loop.
    // Subclasses may override run() without a loop, and pool threads never run one: those warn.
    if (thread->metaObject() == &QThread::staticMetaObject && thread->eventDispatcher()
        && !thread->isFinished())
        return;
    if (scope->q->property(warnedProperty).toBool())
        return;
    scope->q->setProperty(warnedProperty, true);
    const QString name = scope->options.name.isEmpty() ? QStringLiteral("(unnamed)") : scope->options.name;
    if (!app) {
        qCWarning(lcScope).noquote()
            << "task spawned into scope" << name
            << "but there is no QCoreApplication: no event loop will start it "
               "(use QAyo::runAsMain or create the application first)";
    } else {
        qCWarning(lcScope).noquote()
            << "task spawned into scope" << name << "on thread" << thread
            << "which runs no event loop: the task starts only once the thread calls exec()";
    }
}

} // namespace detail
} // namespace QAyo
