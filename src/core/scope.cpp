// SPDX-License-Identifier: MIT
// QAyo::Scope, the QObject facade: construction and destruction, the thread-change guard,
// signals (the per-task ones only while connected), properties and setters. The machinery
// behind it: tree.cpp, admission.cpp, scopestate.cpp, cancelwalk.cpp, join.cpp
// (docs/architecture.md).
#include <QAyo/scope.h>

#include "cancelwalk_p.h"
#include "diagnostics_p.h"
#include "errors_p.h"
#include "limiter_p.h"
#include "logging_p.h"
#include "mailbox_p.h"
#include "scope_p.h"

#include <QMetaObject>
#include <QMutex>
#include <QThread>

#include <algorithm>
#include <bit>

namespace QAyo {
namespace {

void validate(const ScopeOptions &options)
{
    if (options.maxConcurrency < 0)
        throw InvalidArgument(QStringLiteral("maxConcurrency must be >= 0 (0 = unlimited), got %1")
                                  .arg(options.maxConcurrency));
    if (options.timeout && options.timeout->count() < 0)
        throw InvalidArgument(QStringLiteral("timeout must not be negative, got %1 ms")
                                  .arg(options.timeout->count()));
}

} // namespace


namespace detail {

void ScopePrivate::watchOwner(const QObject *owner) noexcept
{
    m_owner = owner;
    m_ownerClass = owner ? &typeid(*owner) : nullptr;
}

void ScopePrivate::warnIfOutlivedOwnerMembers() const
{
    // While the destructor of an object's base class runs, the object's dynamic type is that
    // base: a parent whose type no longer matches the one it had as the owner is inside a base
    // destructor (~QObject deleting its children, ~QWidget), and the members of its own class
    // are gone. Tasks still running in the scope may touch them in the cleanup that runs now.
    const QObject *owner = q->parent();
    if (!owner || owner != m_owner || m_running == 0 || typeid(*owner) == *m_ownerClass)
        return;
    const QString ownerClass = readableTypeName(*m_ownerClass);
    qCWarning(lcScope).noquote()
        << QStringLiteral("scope %1 is destroyed by the destructor of its owner, a %2, with %3 running task(s), "
                          "after the %2's own members were destroyed: the tasks' cleanup may touch them. Make "
                          "the scope the %2's last member (a QAyo::Scope member declared last, or a "
                          "std::unique_ptr<QAyo::Scope> declared last), or delete it in the %2's destructor")
               .arg(scopeLabel(this), ownerClass)
               .arg(m_running);
}

QString ScopePrivate::labelFromAnyThread() const
{
    QMutexLocker lock(&nameMutex);
    return scopeLabel(this);
}

ScopePrivate::ScopePrivate(Scope *q, const ScopeOptions &options)
    : q(q), options(options), limiterState(limiterStateOf(options.limiter)), threadId(QThread::currentThreadId())
{
    m_timeout.d = this;
    m_finishNode.d = this;
}

quint32 detail::ScopePrivate::hotSignalBit(const QMetaMethod &signal)
{
    static const QMetaMethod methods[] = {
        QMetaMethod::fromSignal(&Scope::taskStarted), QMetaMethod::fromSignal(&Scope::taskFinished),
        QMetaMethod::fromSignal(&Scope::pendingChanged), QMetaMethod::fromSignal(&Scope::runningChanged),
        QMetaMethod::fromSignal(&Scope::activeChanged)};
    for (quint32 i = 0; i < std::size(methods); ++i) {
        if (signal == methods[i])
            return 1u << i;
    }
    return 0;
}

} // namespace detail

Scope::Scope(QObject *parent) : Scope(ScopeOptions{}, parent) {}

Scope::Scope(const ScopeOptions &options, QObject *parent) : QObject(parent)
{
    validate(options);
    d.reset(new detail::ScopePrivate(this, options));
    if (auto *parentScope = qobject_cast<Scope *>(parent)) {
        d->attachTo(&parentScope->d->firstChild);
        d->parentScope = parentScope->d.get();
        d->m_cancelled = parentScope->d->m_cancelled;
    } else {
        detail::registerRootScope(d.get());
        d->watchOwner(parent);
    }
}

Scope::Scope(const ScopeOptions &options, detail::TaskRecord *parentTask) : QObject(nullptr)
{
    validate(options);
    d.reset(new detail::ScopePrivate(this, options));
    if (parentTask) {
        d->attachTo(&parentTask->firstChildScope);
        d->parentTask = parentTask;
        d->m_cancelled = parentTask->isCancelled();
    } else {
        detail::registerRootScope(d.get());
    }
}

bool Scope::event(QEvent *event)
{
    if (event->type() == QEvent::ThreadChange) {
        // Qt sends this before it changes anything, to the moved object and to each of its
        // children, and lets an exception from here leave moveToThread(): the one way to refuse
        // a move. A scope that holds work here - tasks, a deadline, schedules, joiners - is tied
        // to this thread's ready queue and deadline heap, which no other thread may touch.
        if (d->holdsWorkOnItsThread()) {
            throw InvalidStateError(QStringLiteral("moveToThread: scope %1 has work on its thread (%2 task(s), %3); a "
                                                   "scope cannot change threads while it holds work: cancel and join "
                                                   "it first, or create the scope on the target thread")
                                        .arg(scopeLabel(d.get()))
                                        .arg(d->m_pending + d->m_running)
                                        .arg(d->m_timeout.isQueued() ? QStringLiteral("an armed timeout")
                                                                     : QStringLiteral("no timeout")));
        }
        d->threadId.store(nullptr, std::memory_order_relaxed); // learnt again on the new thread
    }
    return QObject::event(event);
}

Scope::~Scope()
{
    d->m_dying = true;
    d->warnIfOutlivedOwnerMembers();
    for (auto *guard = d->m_guards; guard; guard = guard->previous)
        guard->destroyed = true;
    d->m_guards = nullptr;
    d->m_timeout.cancel();
    d->m_finishNode.unlink();
    if (!d->m_errors.isEmpty() && !d->m_errorsObserved) {
        qCWarning(detail::lcScope).noquote()
            << "scope" << scopeLabel(d.get()) << "destroyed with" << d->m_errors.size()
            << "error(s) nobody observed; the first:" << detail::describeException(d->m_errors.first());
    }
    if (d->m_incoming.load(std::memory_order_relaxed) > 0 || d->m_waitLetters.load(std::memory_order_relaxed) > 0)
        detail::purgeMail(this); // in the mailbox or in this thread's inbox: cancelled
    // The dropped callables and the destroyed frames run user code: after the walks, when this
    // scope is out of the tree and its joiners are released.
    detail::CancelWalk walk;
    d->destroyTasks(walk);
    while (detail::ScopePrivate *child = d->firstChild) {
        child->detach();
        child->markCancelled(walk);
    }
    walk.dropNotifications(); // the QObject children are deleted right after this
    if (detail::isRootScope(d.get()))
        detail::unregisterRootScope(d.get());
    else
        d->detach();
    d->releaseJoinersOfDestroyedScope();
    walk.run();
}

void Scope::connectNotify(const QMetaMethod &signal)
{
    // Counted here, never by asking QObject: isSignalConnected() must not be called from these
    // hooks (Qt holds its connection lock there; it deadlocks).
    if (const quint32 bit = detail::ScopePrivate::hotSignalBit(signal)) {
        const int index = std::countr_zero(bit);
        if (d->m_hotCounts[index].fetch_add(1, std::memory_order_relaxed) == 0)
            d->m_hotSignals.fetch_or(bit, std::memory_order_relaxed);
    }
}

void Scope::disconnectNotify(const QMetaMethod &signal)
{
    // A disconnect of everything passes an invalid method: the bits stay set (conservative: an
    // unobserved emission only costs time).
    if (const quint32 bit = signal.isValid() ? detail::ScopePrivate::hotSignalBit(signal) : 0) {
        const int index = std::countr_zero(bit);
        if (d->m_hotCounts[index].fetch_sub(1, std::memory_order_relaxed) <= 1) {
            d->m_hotCounts[index].store(0, std::memory_order_relaxed);
            d->m_hotSignals.fetch_and(~bit, std::memory_order_relaxed);
        }
    }
}

void Scope::cancel()
{
    if (!d->isOnScopeThread()) {
        QMetaObject::invokeMethod(this, &Scope::cancel, Qt::QueuedConnection);
        return;
    }
    detail::CancelWalk walk;
    d->markCancelled(walk);
}

QVariantList Scope::results() const
{
    auto sorted = d->m_results;
    std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
    QVariantList list;
    list.reserve(qsizetype(sorted.size()));
    for (auto &entry : sorted)
        list.append(entry.second);
    return list;
}

QList<std::exception_ptr> Scope::errors() const
{
    d->m_errorsObserved = true;
    return d->m_errors;
}

QStringList Scope::errorMessages() const
{
    d->m_errorsObserved = true;
    QStringList messages;
    for (const auto &error : d->m_errors)
        messages.append(detail::describeException(error));
    return messages;
}

QString Scope::name() const
{
    return d->options.name;
}

void Scope::setName(const QString &name)
{
    checkOnScopeThread("setName");
    if (d->options.name == name)
        return;
    {
        QMutexLocker lock(&d->nameMutex); // read by error messages made on other threads
        d->options.name = name;
    }
    Q_EMIT nameChanged();
}

int Scope::maxConcurrency() const
{
    return d->options.maxConcurrency;
}

void Scope::setMaxConcurrency(int limit)
{
    checkOnScopeThread("setMaxConcurrency");
    if (limit < 0)
        throw InvalidArgument(QStringLiteral("maxConcurrency must be >= 0 (0 = unlimited), got %1").arg(limit));
    if (d->options.maxConcurrency == limit)
        return;
    d->options.maxConcurrency = limit;
    d->pumpQueue();
    Q_EMIT maxConcurrencyChanged();
}

std::optional<std::chrono::milliseconds> Scope::timeout() const
{
    return d->options.timeout;
}

bool Scope::timeoutThrows() const
{
    return d->options.timeoutThrows;
}

bool Scope::isSupervising() const
{
    return d->options.supervise;
}

void Scope::setTimeout(std::optional<std::chrono::milliseconds> timeout)
{
    checkOnScopeThread("setTimeout");
    if (timeout && timeout->count() < 0)
        throw InvalidArgument(QStringLiteral("timeout must not be negative, got %1 ms").arg(timeout->count()));
    if (d->options.timeout == timeout)
        return;
    if (d->m_started)
        throw InvalidStateError(QStringLiteral("setTimeout: scope %1 has started; its timeout is armed already")
                                    .arg(scopeLabel(d.get())));
    d->options.timeout = timeout;
}

void Scope::setTimeoutThrows(bool throws)
{
    checkOnScopeThread("setTimeoutThrows");
    d->options.timeoutThrows = throws;
}

void Scope::setSupervising(bool supervise)
{
    checkOnScopeThread("setSupervising");
    d->options.supervise = supervise;
}

int Scope::runningCount() const
{
    return d->m_running;
}

int Scope::pendingCount() const
{
    return d->m_pending;
}

bool Scope::isActive() const
{
    return d->liveCount() > 0;
}

bool Scope::isStarted() const
{
    return d->m_started;
}

bool Scope::isCancelled() const
{
    return d->m_cancelled;
}

bool Scope::isTimedOut() const
{
    return d->m_timedOut;
}

bool Scope::isFinished() const
{
    return d->m_finished;
}

Limiter *Scope::limiter() const
{
    return detail::liveLimiter(d->limiterState.get());
}

void Scope::checkOnScopeThread(const char *operation) const
{
    if (!d->isOnScopeThread())
        throw InvalidStateError(QStringLiteral("%1: call it on the thread of scope %2 (its QObject thread); from "
                                               "other threads only asap(), <<, after(), at(), every() and cancel() "
                                               "are")
                                    .arg(QLatin1String(operation), d->labelFromAnyThread()));
}

} // namespace QAyo
