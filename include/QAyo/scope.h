// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/aside.h>
#include <QAyo/detail/callable.h>
#include <QAyo/detail/join.h>
#include <QAyo/detail/spawn.h>
#include <QAyo/detail/wakeable.h>
#include <QAyo/handle.h>
#include <QAyo/limiter.h>
#include <QAyo/scheduled.h>
#include <QAyo/started.h>
#include <QAyo/task.h>

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QScopedPointer>
#include <QStringList>
#include <QVariantList>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <ranges>
#include <tuple>

namespace QAyo {

class Scope;

//! How a scope behaves; every field has a sensible default.
/*!
 * \code
 * QAyo::Scope run({.maxConcurrency = 10, .timeout = 120ms});
 * \endcode
 */
struct ScopeOptions
{
    //! How many tasks may run at once; 0 means unlimited. Negative: InvalidArgument.
    int maxConcurrency = 0;
    //! Cancel everything this long after the scope starts. Negative: InvalidArgument.
    std::optional<std::chrono::milliseconds> timeout = std::nullopt;
    //! On timeout, make the join throw TimeoutError instead of returning normally.
    bool timeoutThrows = false;
    //! Supervisor mode: a failing task does not cancel its siblings; errors are only recorded.
    bool supervise = false;
    //! A name for logs, errors and tree dumps.
    QString name = {};
    //! Keep the results of non-void tasks for results() (costs one QVariant per task).
    bool collectResults = true;
    //! Every task counted against maxConcurrency also takes a slot of this limiter before it
    //! starts (shared with other scopes; not owned). Aside work draws from a limiter only when
    //! given one: aside(limiter, f, ...). If the limiter is destroyed before the scope, the
    //! tasks waiting for its slots fail, and spawning work that would draw from it throws
    //! InvalidStateError naming it. See docs/limits.md.
    Limiter *limiter = nullptr;
};

//! What the block form QAyo::scope() reports once every task has ended.
struct ScopeOutcome
{
    //! The timeout fired before the tasks finished (ayo's `if subrun.timeout:`).
    bool timedOut = false;
    //! The scope was cancelled (by cancel(), a timeout, an error or its parent).
    bool cancelled = false;
    //! The results of the finished non-void tasks, in spawn order.
    QVariantList results;
    //! The errors recorded (in supervise mode, where the join does not throw them).
    QList<std::exception_ptr> errors;
};

namespace detail {
class ScopePrivate;
struct TreeAccess; // dumpTree() and the diagnostics read the tree (src/core/diagnostics_p.h)

QAYO_CORE_EXPORT Task<ScopeOutcome> runBlockScope(ScopeOptions options,
                                                  std::function<void(Scope &)> body);
} // namespace detail

//! An execution scope (Trio's nursery): a QObject that owns the tasks started in it.
/*!
 * \code
 * QAyo::Scope run({.maxConcurrency = 10, .timeout = 12s});
 * for (int i = 0; i < 20; ++i)
 *     run << zzz();                 // queued, started on a later loop turn
 * co_await run;                     // every task has finished or was cancelled
 * if (run.isTimedOut()) ...
 * \endcode
 *
 * Rules (docs/scopes.md has the full contract):
 * - Spawned work starts on a later turn of the scope thread's event loop, FIFO, at most
 *   maxConcurrency at a time. Callables are kept lazily: no coroutine frame until a slot frees.
 * - An error in a task cancels the others (not in supervise mode); the join rethrows the first
 *   one; all are kept in errors().
 * - cancel() cancels every task and nested scope, drops queued work; repeated calls are harmless.
 * - co_await scope (the join) closes the scope: afterwards spawning throws ScopeClosedError.
 * - Destroying the scope (e.g. with its parent QObject) destroys the frames of suspended tasks:
 *   no task ever resumes into freed memory.
 * - Every call that takes a callable (asap, <<, fromCallable, map, start, after, at, every,
 *   aside, asideIn) throws InvalidArgument naming the call if it is a null function pointer or
 *   an empty std::function - at the call, not when the task would start.
 *
 * Thread rules: use a scope on its thread (QObject affinity). From other threads only the
 * spawning calls (asap, <<, fromCallable, all, map, after, at, every, aside) and cancel() are
 * allowed; the setters, join(), start() and dumpTree() throw InvalidStateError there.
 */
class QAYO_CORE_EXPORT Scope : public QObject
{
    Q_OBJECT
    //! Name for logs, errors and dumps.
    Q_PROPERTY(QString name READ name WRITE setName NOTIFY nameChanged)
    //! Tasks allowed to run at once (0 = unlimited); raising it starts queued work.
    Q_PROPERTY(int maxConcurrency READ maxConcurrency WRITE setMaxConcurrency NOTIFY maxConcurrencyChanged)
    //! Tasks started and not yet ended.
    Q_PROPERTY(int running READ runningCount NOTIFY runningChanged)
    //! Tasks spawned and not yet started.
    Q_PROPERTY(int pending READ pendingCount NOTIFY pendingChanged)
    //! True while any work holds the scope open (running or pending tasks).
    Q_PROPERTY(bool active READ isActive NOTIFY activeChanged)
    //! True once the scope was cancelled (cancel(), timeout, error or parent).
    Q_PROPERTY(bool cancelled READ isCancelled NOTIFY cancelledChanged)
    //! True once the timeout fired while work was still running.
    Q_PROPERTY(bool timedOut READ isTimedOut NOTIFY timedOutChanged)
    //! True once the scope was joined and all its work ended.
    Q_PROPERTY(bool finished READ isFinished NOTIFY finished)
    //! Results of the finished non-void tasks, in spawn order.
    Q_PROPERTY(QVariantList results READ results NOTIFY taskFinished)

public:
    //! A scope with default options. If \a parent is a Scope, this scope is nested in it.
    explicit Scope(QObject *parent = nullptr);
    //! A scope with \a options; throws InvalidArgument for a negative maxConcurrency or timeout.
    explicit Scope(const ScopeOptions &options, QObject *parent = nullptr);
    //! Cancels the tasks and destroys the frames of suspended ones (see the class comment).
    ~Scope() override;

    // --- spawning --------------------------------------------------------------------------

    //! Queues \a task (a QAyo::Task<T>); throws InvalidArgument if it is empty,
    //! InvalidStateError if it was awaited already (a task is awaited or spawned once),
    //! ScopeClosedError if the scope has finished or is being destroyed.
    template<typename T>
    Handle<T> asap(Task<T> &&task)
    {
        checkCanSpawn("asap");
        task.checkSpawnable("asap");
        auto factory = [t = std::move(task)]() mutable { return std::move(t); };
        return spawnFactory<T>(std::move(factory), SpawnKind::Normal);
    }

    //! Adopts \a task, a QCoro::Task that is running already: the scope waits for it (even
    //! when cancelled) but cannot interrupt it. Not counted against maxConcurrency. Throws
    //! InvalidArgument if it is empty (default-constructed or moved-from).
    template<typename T>
    Handle<T> asap(QCoro::Task<T> &&task)
    {
        checkCanSpawn("asap", false);
        if (detail::isEmptyQCoroTask(task))
            throw InvalidArgument(QStringLiteral("task: cannot spawn an empty (moved-from) QCoro::Task"));
        auto factory = [t = std::move(task)]() mutable { return detail::awaitRunning<T>(std::move(t)); };
        return spawnFactory<T>(std::move(factory), SpawnKind::Eager);
    }

    //! Queues a call of \a f with \a args (copied). Lazy: f runs - and its coroutine frame
    //! exists - only once a slot is free. f may return a QAyo::Task, a QCoro::Task, any
    //! awaitable, or a plain value. Throws InvalidArgument if f is a null pointer or an empty
    //! std::function.
    template<typename F, typename... Args>
        requires std::invocable<std::decay_t<F> &, std::decay_t<Args> &...>
    auto asap(F &&f, Args &&...args)
    {
        checkCanSpawn("asap");
        detail::checkCallable(f, "asap");
        using R = std::invoke_result_t<std::decay_t<F> &, std::decay_t<Args> &...>;
        using T = typename detail::SpawnValue<R>::type;
        return spawnFactory<T>(detail::makeCallableFactory(std::forward<F>(f), std::forward<Args>(args)...),
                               SpawnKind::Normal);
    }

    //! ayo's from_callable: the same as asap(f, args...).
    template<typename F, typename... Args>
    auto fromCallable(F &&f, Args &&...args)
    {
        detail::checkCallable(f, "fromCallable");
        return asap(std::forward<F>(f), std::forward<Args>(args)...);
    }

    //! asap(task) drawing from \a limiter: the task takes a slot of it before it starts (after
    //! maxConcurrency let it through) and gives it back when it ends. Instead of the scope's
    //! ScopeOptions::limiter. Throws InvalidArgument if \a limiter is null.
    template<typename T>
    Handle<T> asap(Limiter *limiter, Task<T> &&task)
    {
        checkCanSpawn("asap", false);
        task.checkSpawnable("asap");
        detail::TicketHolder ticket(detail::makeRecordTicket(limiter, "asap"));
        auto factory = [t = std::move(task)]() mutable { return std::move(t); };
        return spawnFactory<T>(std::move(factory), SpawnKind::Normal, std::move(ticket));
    }

    //! asap(f, args...) drawing from \a limiter (see asap(Limiter *, Task<T> &&)): f is not
    //! even called before the slot is there.
    template<typename F, typename... Args>
        requires std::invocable<std::decay_t<F> &, std::decay_t<Args> &...>
    auto asap(Limiter *limiter, F &&f, Args &&...args)
    {
        checkCanSpawn("asap", false);
        detail::checkCallable(f, "asap");
        using R = std::invoke_result_t<std::decay_t<F> &, std::decay_t<Args> &...>;
        using T = typename detail::SpawnValue<R>::type;
        auto factory = detail::makeCallableFactory(std::forward<F>(f), std::forward<Args>(args)...);
        return spawnFactory<T>(std::move(factory), SpawnKind::Normal,
                               detail::TicketHolder(detail::makeRecordTicket(limiter, "asap")));
    }

    //! Trio's nursery.start(): runs f(started, args...) as a task of this scope and resumes
    //! the caller once f calls started.started(value); yields that value.
    /*!
     * \code
     * quint16 port = co_await scope.start(serve);        // serve(QAyo::Started<quint16>)
     * co_await scope.start<int>([](auto started) -> QAyo::Task<> { ... });
     * \endcode
     * f's first parameter is a QAyo::Started<T> (by value or reference); T is read from it, or
     * given explicitly for generic callables (default void). After started() the task goes on
     * in this scope under the usual rules. Before it:
     * - an error of the task is rethrown here only (it is not also an error of the scope);
     * - the task ending without started() throws StartError here; cancelled (also if it then
     *   ends normally), TaskCancelledError;
     * - the caller being cancelled (or dropping the operation) cancels the task.
     * Call it on the scope's thread (InvalidStateError otherwise); ScopeClosedError as asap().
     * The co_await throws InvalidStateError if the task could never start because it waits for a
     * maxConcurrency or limiter slot that only the caller (or a task it is nested in) holds.
     */
    template<typename T = detail::DeduceStartedType, typename F, typename... Args>
    auto start(F &&f, Args &&...args)
    {
        using V = std::conditional_t<std::is_same_v<T, detail::DeduceStartedType>, detail::StartedValueOf<F>, T>;
        static_assert(std::is_invocable_v<std::decay_t<F> &, Started<V> &, std::decay_t<Args> &...>,
                      "Scope::start: f must take a QAyo::Started<T> first, then args (for a generic "
                      "callable give T explicitly: start<T>(f, args...))");
        checkCanSpawn("start");
        checkOnScopeThread("start");
        detail::checkCallable(f, "start");
        auto state = std::make_shared<detail::StartValueState<V>>();
        auto call = detail::makeCallableFactory(std::forward<F>(f), Started<V>(state), std::forward<Args>(args)...);
        auto factory = [state, call = std::move(call)]() mutable {
            return detail::runUntilStarted(std::move(state), std::move(call));
        };
        auto *record = new detail::SpawnRecord<void, decltype(factory)>(std::move(factory));
        state->setTask(record); // no handle: the scope's reference and the start's
        spawnRecord(record, SpawnKind::Normal);
        return detail::StartAwaiter<V>(std::move(state));
    }

    //! `run << task` / `run << callable`: asap(), chainable.
    template<typename X>
    Scope &operator<<(X &&x)
    {
        detail::checkCallable(x, "operator<<");
        asap(std::forward<X>(x));
        return *this;
    }

    //! Spawns every argument (tasks or callables); returns their handles as a tuple.
    template<typename... Xs>
        requires(sizeof...(Xs) != 1 || !(std::ranges::range<std::remove_cvref_t<Xs>> && ...))
    auto all(Xs &&...xs)
    {
        return std::tuple{asap(std::forward<Xs>(xs))...};
    }

    //! Spawns every element of \a tasks (moved from); returns the handles in order.
    template<std::ranges::range R>
    auto all(R &&tasks)
    {
        using Element = std::ranges::range_value_t<std::remove_cvref_t<R>>;
        QList<decltype(asap(std::declval<Element>()))> handles;
        for (auto &&t : tasks)
            handles.append(asap(std::move(t)));
        return handles;
    }

    //! Spawns f(item) lazily for every item of \a items; the returned task yields the results
    //! in input order (a QList, or nothing for void). It may be dropped: the work still runs.
    template<typename F, std::ranges::range R>
    auto map(F f, const R &items)
    {
        using Item = std::ranges::range_value_t<R>;
        using Ret = std::invoke_result_t<F &, Item &>;
        using T = typename detail::SpawnValue<Ret>::type;
        detail::checkCallable(f, "map");
        QList<Handle<T>> handles;
        for (const auto &item : items)
            handles.append(asap(f, item));
        return collect(std::move(handles));
    }

    //! Awaits every handle in order; yields the values (or nothing for void).
    template<typename T>
    static auto collect(QList<Handle<T>> handles) -> Task<std::conditional_t<std::is_void_v<T>, void, QList<T>>>
    {
        if constexpr (std::is_void_v<T>) {
            for (const auto &h : handles)
                co_await h;
        } else {
            QList<T> values;
            values.reserve(handles.size());
            for (const auto &h : handles)
                values.append(co_await h);
            co_return values;
        }
    }

    // --- scheduling (docs/time.md) ----------------------------------------------------------

    //! Calls f(args...) once, \a delay from now; f may return an awaitable (then the call is a
    //! task of the scope). Holds the scope's exit until it ran, unless dontHoldExit().
    //! Throws InvalidArgument for a negative delay.
    template<typename F, typename... Args>
        requires std::invocable<std::decay_t<F> &, std::decay_t<Args> &...>
    Scheduled after(std::chrono::milliseconds delay, F &&f, Args &&...args)
    {
        checkCanSpawn("after");
        detail::checkCallable(f, "after");
        auto *record = makeSchedule(std::forward<F>(f), std::forward<Args>(args)...);
        return scheduleRecord(record, detail::ScheduleRecord::Kind::After, delay, {});
    }

    //! Calls f(args...) once at the wall-clock time \a when (as soon as possible if it has
    //! passed). Re-checks the wall clock on waking, so changing the system time is handled.
    //! Throws InvalidArgument for an invalid QDateTime.
    template<typename F, typename... Args>
        requires std::invocable<std::decay_t<F> &, std::decay_t<Args> &...>
    Scheduled at(const QDateTime &when, F &&f, Args &&...args)
    {
        checkCanSpawn("at");
        if (!when.isValid())
            throw InvalidArgument(QStringLiteral("at: the QDateTime 'when' is invalid"));
        return at(std::chrono::system_clock::time_point(std::chrono::milliseconds(when.toMSecsSinceEpoch())),
                  std::forward<F>(f), std::forward<Args>(args)...);
    }

    //! Calls f(args...) once at the wall-clock time \a when, a system_clock time point (as soon
    //! as possible if it has passed); see the QDateTime overload.
    template<typename F, typename... Args>
        requires std::invocable<std::decay_t<F> &, std::decay_t<Args> &...>
    Scheduled at(std::chrono::system_clock::time_point when, F &&f, Args &&...args)
    {
        checkCanSpawn("at");
        detail::checkCallable(f, "at");
        auto *record = makeSchedule(std::forward<F>(f), std::forward<Args>(args)...);
        return scheduleRecord(record, detail::ScheduleRecord::Kind::At, {}, when);
    }

    //! Calls f(args...) every \a interval, drift-free (ticks planned from the first due time),
    //! never overlapping itself (a tick due while the previous call runs is skipped and
    //! counted). Holds the scope's exit until unscheduled or cancelled, unless dontHoldExit().
    //! Throws InvalidArgument for a zero or negative interval.
    template<typename F, typename... Args>
        requires std::invocable<std::decay_t<F> &, std::decay_t<Args> &...>
    Scheduled every(std::chrono::milliseconds interval, F &&f, Args &&...args)
    {
        checkCanSpawn("every");
        if (interval <= std::chrono::milliseconds::zero())
            throw InvalidArgument(QStringLiteral("every: interval must be positive, got %1 ms").arg(interval.count()));
        detail::checkCallable(f, "every");
        auto *record = makeSchedule(std::forward<F>(f), std::forward<Args>(args)...);
        return scheduleRecord(record, detail::ScheduleRecord::Kind::Every, interval, {});
    }

    // --- blocking work aside (docs/threads.md) ---------------------------------------------

    //! Runs f(args...) on QThreadPool::globalInstance(); the handle's value arrives on the scope's
    //! thread. Bound to the scope (the join waits for it), not counted against maxConcurrency.
    //! If f takes a QAyo::StopToken first, a cancel or timeout requests stop through it; work
    //! the pool has not started yet is dropped. A running f cannot be killed: the join waits
    //! for it to return.
    template<typename F, typename... Args>
        requires detail::AsideCallable<std::decay_t<F>, std::decay_t<Args>...>
    auto aside(F &&f, Args &&...args)
    {
        detail::checkCallable(f, "aside");
        return asideIn(QThreadPool::globalInstance(), std::forward<F>(f), std::forward<Args>(args)...);
    }

    //! aside() on \a pool. Throws InvalidArgument if \a pool is null.
    template<typename F, typename... Args>
        requires detail::AsideCallable<std::decay_t<F>, std::decay_t<Args>...>
    auto asideIn(QThreadPool *pool, F &&f, Args &&...args)
    {
        return asideWith(pool, nullptr, std::forward<F>(f), std::forward<Args>(args)...);
    }

    //! aside() drawing from \a limiter: f is handed to the pool only once it has a slot, which
    //! it gives back when it has returned; bounds how many functions run at once across scopes
    //! and pools. Throws InvalidArgument if \a limiter is null.
    template<typename F, typename... Args>
        requires detail::AsideCallable<std::decay_t<F>, std::decay_t<Args>...>
    auto aside(Limiter *limiter, F &&f, Args &&...args)
    {
        detail::checkCallable(f, "aside");
        return asideIn(QThreadPool::globalInstance(), limiter, std::forward<F>(f), std::forward<Args>(args)...);
    }

    //! asideIn(pool, ...) drawing from \a limiter (see aside(Limiter *, F &&, Args &&...)).
    //! Throws InvalidArgument if \a pool or \a limiter is null.
    template<typename F, typename... Args>
        requires detail::AsideCallable<std::decay_t<F>, std::decay_t<Args>...>
    auto asideIn(QThreadPool *pool, Limiter *limiter, F &&f, Args &&...args)
    {
        if (!limiter)
            throw InvalidArgument(QStringLiteral("asideIn: the limiter is null"));
        return asideWith(pool, limiter, std::forward<F>(f), std::forward<Args>(args)...);
    }

    //! aside() on the executor registered as \a executor (see Executors); throws
    //! InvalidArgument naming it if there is none.
    template<typename F, typename... Args>
        requires detail::AsideCallable<std::decay_t<F>, std::decay_t<Args>...>
    auto asideIn(const QString &executor, F &&f, Args &&...args)
    {
        return asideIn(Executors::get(executor), std::forward<F>(f), std::forward<Args>(args)...);
    }

    // --- control ---------------------------------------------------------------------------

    //! Waits until every task has ended, closes the scope and rethrows the first error (or
    //! TimeoutError with timeoutThrows). Cancellation-aware unless the scope is nested in the
    //! awaiting task (then it waits for the cancelled tasks to unwind). Throws
    //! InvalidStateError when called from another thread than the scope's, and at the co_await
    //! when the awaiting task is one the scope waits for (a task of the scope, or of a scope
    //! nested in or joined by one of its tasks): that join would never end.
    detail::JoinAwaiter join();
    //! co_await scope: the same as join().
    detail::JoinAwaiter operator co_await() { return join(); }

    //! Results of the finished non-void tasks, in spawn order (collectResults must be on).
    QVariantList results() const;
    //! Every error recorded, first one first.
    QList<std::exception_ptr> errors() const;
    //! The messages of errors().
    QStringList errorMessages() const;

    //! The scope's name (ScopeOptions::name).
    QString name() const;
    //! Renames the scope (for logs, errors and tree dumps). Like every setter here: on the
    //! scope's thread only (InvalidStateError naming the call and the scope otherwise).
    void setName(const QString &name);
    //! How many tasks may run at once; 0 means unlimited.
    int maxConcurrency() const;
    //! Throws InvalidArgument if \a limit is negative, InvalidStateError off the scope's thread.
    void setMaxConcurrency(int limit);
    //! The timeout from the options (if any).
    std::optional<std::chrono::milliseconds> timeout() const;
    //! True if a timeout makes the join throw TimeoutError (ScopeOptions::timeoutThrows).
    bool timeoutThrows() const;
    //! True in supervisor mode (ScopeOptions::supervise).
    bool isSupervising() const;
    //! Sets the timeout (std::nullopt: none); for setters that run after construction, as
    //! QML's do. Throws InvalidArgument if negative, InvalidStateError once the scope started
    //! or off the scope's thread.
    void setTimeout(std::optional<std::chrono::milliseconds> timeout);
    //! Sets timeoutThrows; read when the scope finishes, so it may change until then. On the
    //! scope's thread only (InvalidStateError otherwise).
    void setTimeoutThrows(bool throws);
    //! Sets supervise mode; applies to the task failures that come afterwards. On the scope's
    //! thread only (InvalidStateError otherwise).
    void setSupervising(bool supervise);

    //! Tasks started and not yet ended.
    int runningCount() const;
    //! Tasks spawned and not yet started.
    int pendingCount() const;
    //! True while any work holds the scope open (running or pending tasks).
    bool isActive() const;
    //! True once the scope has started (first spawn or join); its timeout counts from then.
    bool isStarted() const;
    //! True once the scope was cancelled (cancel(), timeout, error or parent).
    bool isCancelled() const;
    //! True once the timeout fired while work was still running.
    bool isTimedOut() const;
    //! True once the scope was joined and all its work ended.
    bool isFinished() const;

    //! The scope this one is nested in (directly or through a task), or nullptr.
    Scope *parentScope() const;
    //! The limiter from the options (nullptr if none, or once it was destroyed): pass it to
    //! nested scopes to share it.
    Limiter *limiter() const;

    //! Prints the live tree below this scope (nested scopes, tasks and their state: queued,
    //! running, awaiting what, cancelled) to the qayo.tree category. Call it on the scope's
    //! thread (InvalidStateError otherwise).
    void dumpTree() const;

public Q_SLOTS:
    //! Cancels every task and nested scope and drops queued work. Harmless when repeated,
    //! before the first task started, or after the scope finished.
    void cancel();

Q_SIGNALS:
    //! The scope started (its first spawn or join); the timeout counts from here.
    void started();
    //! A task started running.
    void taskStarted();
    //! A task ended (any outcome).
    void taskFinished();
    //! A task failed with \a message (the error is also kept in errors()).
    void taskFailed(const QString &message);
    //! The scope is being cancelled.
    void cancelling();
    //! The timeout fired while work was running.
    void timedOut();
    //! The scope was joined and all its work has ended.
    void finished();

    //! The name changed.
    void nameChanged();
    //! maxConcurrency changed.
    void maxConcurrencyChanged();
    //! runningCount() changed.
    void runningChanged();
    //! pendingCount() changed.
    void pendingChanged();
    //! isActive() changed.
    void activeChanged();
    //! isCancelled() changed (it becomes true once).
    void cancelledChanged();
    //! isTimedOut() changed (it becomes true once).
    void timedOutChanged();

protected:
    //! Notices moveToThread() (the scope's tasks then run on the new thread).
    bool event(QEvent *event) override;
    //! Tracks which per-task signals have receivers, so unobserved ones cost nothing.
    void connectNotify(const QMetaMethod &signal) override;
    //! \copydoc connectNotify()
    void disconnectNotify(const QMetaMethod &signal) override;

private:
    friend class detail::ScopePrivate;
    friend class detail::JoinAwaiter;
    friend struct detail::TreeAccess;
    friend Task<ScopeOutcome> detail::runBlockScope(ScopeOptions, std::function<void(Scope &)>);

    template<typename Body>
    friend Task<ScopeOutcome> scope(ScopeOptions options, Body body);

    //! Normal: queued, counted. Eager: running already (adopted QCoro::Task), never dropped,
    //! not counted. Body: a block scope's body, not counted, no result. Aside: a function for
    //! a thread pool, not counted.
    enum class SpawnKind { Normal, Eager, Body, Aside };

    Scope(const ScopeOptions &options, detail::TaskRecord *parentTask);
    //! Throws ScopeClosedError if the scope has finished or is being destroyed, and
    //! InvalidStateError if \a drawsFromScopeLimiter and the scope's limiter was destroyed.
    void checkCanSpawn(const char *operation, bool drawsFromScopeLimiter = true) const;
    //! Throws InvalidStateError naming \a operation unless called on the scope's thread.
    void checkOnScopeThread(const char *operation) const;
    //! Hands \a record (holding the scope's reference) to the scope, from any thread. Strong: if
    //! it throws, the record was settled as cancelled and the scope's reference dropped.
    void spawnRecord(detail::TaskRecord *record, SpawnKind kind);
    //! spawnRecord() of a record that also holds the reference of the handle about to be made:
    //! if it throws, that reference is dropped too (the record is gone).
    void spawnHandled(detail::TaskRecord *record, SpawnKind kind);
    //! Ends a record a failed spawn never linked: settled as cancelled, the scope's reference dropped.
    static void discardUnspawned(detail::TaskRecord *record) noexcept;

    //! Makes the record of a spawn from \a factory and hands it to the scope (detail/scope_impl.h).
    template<typename T, typename Factory>
    Handle<T> spawnFactory(Factory &&factory, SpawnKind kind, detail::TicketHolder ticket = {});

    //! aside() on \a pool, drawing from \a limiter if set (detail/scope_impl.h).
    template<typename F, typename... Args>
    auto asideWith(QThreadPool *pool, Limiter *limiter, F &&f, Args &&...args);

    Scheduled scheduleRecord(detail::ScheduleRecord *record, detail::ScheduleRecord::Kind kind,
                             std::chrono::milliseconds delay,
                             std::optional<std::chrono::system_clock::time_point> when);
    void activateSchedule(detail::ScheduleRecord *record, detail::ScheduleRecord::Kind kind,
                          std::chrono::milliseconds delay,
                          std::optional<std::chrono::system_clock::time_point> when);

    //! The schedule record of a call of \a f with \a args (detail/scope_impl.h).
    template<typename F, typename... Args>
    static detail::ScheduleRecord *makeSchedule(F &&f, Args &&...args);

    //! Spawns the body of a block scope (detail/scope_impl.h).
    template<typename F>
    void spawnBody(F &&f);

    QScopedPointer<detail::ScopePrivate> d;
};

//! The block form: runs \a body in a new scope nested in the calling task, then joins it.
/*!
 * \a body takes `Scope &` and returns void (it runs at once) or a QAyo::Task (it runs as the
 * scope's first task, inside the timeout, not counted against maxConcurrency). When the
 * co_await returns or throws, every task of the scope has finished or been cancelled - also
 * when \a body throws. Rethrows the first error (or TimeoutError with timeoutThrows).
 *
 * \code
 * auto outcome = co_await QAyo::scope({.timeout = 30ms}, [](QAyo::Scope &subrun) {
 *     subrun << foo() << bar();
 * });
 * if (outcome.timedOut) ...
 * \endcode
 */
template<typename Body>
Task<ScopeOutcome> scope(ScopeOptions options, Body body)
{
    detail::checkCallable(body, "scope", "body");
    return detail::runBlockScope(std::move(options), [body = std::move(body)](Scope &s) mutable {
        using R = std::invoke_result_t<Body &, Scope &>;
        if constexpr (std::is_void_v<R>)
            body(s);
        else
            s.spawnBody([&body, &s]() { return body(s); });
    });
}


namespace detail {
//! co_await QAyo::aside(f, args...): aside() in the scope of the awaiting task (scope_impl.h).
template<typename F, typename ArgTuple>
struct AsideRequest;
} // namespace detail

//! ayo's `ayo.aside(...)`: `co_await QAyo::aside(f, args...)` runs f on the global thread pool
//! as aside work of the awaiting task's scope and returns its value (see Scope::aside()).
template<typename F, typename... Args>
auto aside(F &&f, Args &&...args)
{
    detail::checkCallable(f, "aside");
    return detail::AsideRequest<std::decay_t<F>, std::tuple<std::decay_t<Args>...>>{
        QThreadPool::globalInstance(), std::forward<F>(f), {std::forward<Args>(args)...}};
}

//! `co_await QAyo::asideIn(pool or "executor", f, args...)`: aside() on a given pool.
template<typename F, typename... Args>
auto asideIn(QThreadPool *pool, F &&f, Args &&...args)
{
    if (!pool)
        throw InvalidArgument(QStringLiteral("asideIn: the pool is null"));
    detail::checkCallable(f, "asideIn");
    return detail::AsideRequest<std::decay_t<F>, std::tuple<std::decay_t<Args>...>>{
        pool, std::forward<F>(f), {std::forward<Args>(args)...}};
}

//! `co_await QAyo::asideIn("executor", f, args...)`: aside() on the named executor; throws
//! InvalidArgument naming it if there is none.
template<typename F, typename... Args>
auto asideIn(const QString &executor, F &&f, Args &&...args)
{
    return asideIn(Executors::get(executor), std::forward<F>(f), std::forward<Args>(args)...);
}

//! `co_await QAyo::aside(limiter, f, args...)`: aside() drawing from \a limiter (see
//! Scope::aside(Limiter *, F &&, Args &&...)). Throws InvalidArgument if \a limiter is null.
template<typename F, typename... Args>
    requires detail::AsideCallable<std::decay_t<F>, std::decay_t<Args>...>
auto aside(Limiter *limiter, F &&f, Args &&...args)
{
    if (!limiter)
        throw InvalidArgument(QStringLiteral("aside: the limiter is null"));
    detail::checkCallable(f, "aside");
    return detail::AsideRequest<std::decay_t<F>, std::tuple<std::decay_t<Args>...>>{
        QThreadPool::globalInstance(), std::forward<F>(f), {std::forward<Args>(args)...}, limiter};
}

//! The block form with default options.
template<typename Body>
Task<ScopeOutcome> scope(Body body)
{
    return scope(ScopeOptions{}, std::move(body));
}

//! Prints the live tree of every root scope of the calling thread (see Scope::dumpTree()) to
//! the qayo.tree category.
QAYO_CORE_EXPORT void dumpTree();

} // namespace QAyo

#include <QAyo/detail/scope_impl.h>
