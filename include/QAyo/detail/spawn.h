// SPDX-License-Identifier: MIT
#pragma once

// What Scope's spawning templates need: the record type that keeps a callable (and its
// arguments) until a slot is free, and the small adapter coroutines that turn QCoro tasks
// and other awaitables into QAyo tasks. Kept apart from scope.h so the public header reads
// as the API.

#include <QAyo/detail/record.h>
#include <QAyo/limiter.h>
#include <QAyo/scheduled.h>
#include <QAyo/task.h>

#include <qcoro/qcorotask.h>

#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace QAyo::detail {

template<typename T>
struct IsQCoroTask : std::false_type
{
};
template<typename T>
struct IsQCoroTask<QCoro::Task<T>> : std::true_type
{
};

//! True if \a task holds no coroutine (default-constructed or moved-from). QCoro 0.8's Task
//! keeps its handle private and isReady() does not tell "empty" from "finished"; the base of
//! its awaiter (QCoro::detail::TaskAwaiterBase) shows the handle to subclasses, so a subclass
//! copied from the awaiter reads it.
template<typename T>
bool isEmptyQCoroTask(const QCoro::Task<T> &task) noexcept
{
    using Base = QCoro::detail::TaskAwaiterBase<typename QCoro::Task<T>::promise_type>;
    struct Peek : Base
    {
        explicit Peek(const Base &awaiter) noexcept : Base(awaiter) {}
        bool isEmpty() const noexcept { return !this->mAwaitedCoroutine; }
    };
    return Peek(task.operator co_await()).isEmpty();
}

//! Anything co_await accepts (QCoro's definition plus the Qt types QCoro knows).
template<typename A>
concept AwaitableValue = QCoro::Awaitable<std::remove_cvref_t<A>> || HasQCoroAwaiter<A>;

//! The value an awaitable produces.
template<typename A>
using AwaitResult = std::decay_t<decltype(toAwaiter(std::declval<A>()).await_resume())>;

//! The value a spawned thing produces: Task<T> -> T, awaitable -> its result, plain -> itself.
template<typename R>
struct SpawnValue
{
    using type = R;
};
template<typename R>
    requires IsTask<R>::value
struct SpawnValue<R>
{
    using type = typename IsTask<R>::ValueType;
};
template<typename R>
    requires(!IsTask<R>::value && AwaitableValue<R>)
struct SpawnValue<R>
{
    using type = AwaitResult<R>;
};

//! Gives a limiter ticket back (see TicketHolder).
struct TicketRelease
{
    void operator()(LimiterTicket *ticket) const noexcept { releaseTicket(ticket); }
};
//! A limiter ticket made for a spawn and not yet handed to its record: released if the spawn
//! fails before (an allocation), so no slot request is left behind.
using TicketHolder = std::unique_ptr<LimiterTicket, TicketRelease>;

//! Awaits \a awaitable inside a QAyo task (a checkpoint: interruptible before it starts).
template<typename T, typename A>
Task<T> awaitInTask(A awaitable)
{
    if constexpr (IsQCoroTask<A>::value) {
        if (isEmptyQCoroTask(awaitable))
            throw InvalidArgument(QStringLiteral("task: the callable returned an empty QCoro::Task"));
    }
    if constexpr (std::is_void_v<T>)
        co_await std::move(awaitable);
    else
        co_return co_await std::move(awaitable);
}

//! Awaits work that is running already (an eager QCoro::Task): always waits for it to end.
template<typename T, typename A>
Task<T> awaitRunning(A awaitable)
{
    // A named wrapper, not a temporary in the co_await: GCC 12 destroys such temporaries twice.
    Uninterruptible<A> wait{std::move(awaitable)};
    if constexpr (std::is_void_v<T>)
        co_await std::move(wait);
    else
        co_return co_await std::move(wait);
}

//! A record whose work is made by Factory when the task starts (see record.h).
/*!
 * Factory returns Task<T> (the root frame) or, for plain callables, the value itself. The
 * factory is kept until the task ends: a coroutine lambda's frame refers to the lambda's
 * captures, so the lambda must outlive the frame.
 */
template<typename T, typename Factory>
class SpawnRecord final : public TypedRecord<T>
{
public:
    explicit SpawnRecord(Factory &&factory) : m_factory(std::move(factory)) {}

    void start() override
    {
        using R = std::invoke_result_t<Factory &>;
        if constexpr (IsTask<R>::value) {
            Task<T> task = (*m_factory)();
            if (!task.isValid())
                throw InvalidArgument(QStringLiteral("task: the callable returned an empty QAyo::Task"));
            task.checkSpawnable("task");
            auto root = task.release();
            root.promise().m_record = this;
            root.promise().m_root = true;
            this->startFrame(root); // may complete and free `this`: nothing after it
        } else if constexpr (std::is_void_v<R>) {
            (*m_factory)();
            this->complete(nullptr);
        } else {
            this->value.emplace((*m_factory)());
            this->complete(nullptr);
        }
    }

    void releaseWork() noexcept override { m_factory.reset(); }

private:
    std::optional<Factory> m_factory;
};

//! Makes the record for a callable and its arguments (all decayed copies, like std::thread).
template<typename F, typename... Args>
auto makeCallableFactory(F &&f, Args &&...args)
{
    using R = std::invoke_result_t<std::decay_t<F> &, std::decay_t<Args> &...>;
    using T = typename SpawnValue<R>::type;
    auto call = [f = std::forward<F>(f), args = std::make_tuple(std::forward<Args>(args)...)]() mutable {
        return std::apply([&f](auto &...a) { return std::invoke(f, a...); }, args);
    };
    if constexpr (IsTask<R>::value || !AwaitableValue<R>) {
        return call;
    } else {
        return [call = std::move(call)]() mutable { return awaitInTask<T>(call()); };
    }
}

//! A schedule (after/at/every) of a callable with its arguments; each call is a new task.
template<typename F, typename ArgTuple>
class ScheduleRecordFor final : public ScheduleRecord
{
public:
    ScheduleRecordFor(F &&f, ArgTuple &&args) : m_f(std::move(f)), m_args(std::move(args)) {}

    TaskRecord *makeCall() override
    {
        using R = decltype(std::apply(std::declval<F &>(), std::declval<ArgTuple &>()));
        using T = typename SpawnValue<R>::type;
        ref(); // the call keeps the callable (here) alive until it ends
        struct Ref
        {
            ScheduleRecordFor *self;
            Ref(ScheduleRecordFor *s) noexcept : self(s) {}
            Ref(Ref &&other) noexcept : self(std::exchange(other.self, nullptr)) {}
            ~Ref()
            {
                if (self)
                    self->deref();
            }
        };
        auto factory = [keep = Ref(this)]() {
            auto *self = keep.self;
            if constexpr (IsTask<R>::value || !AwaitableValue<R>)
                return std::apply(self->m_f, self->m_args);
            else
                return awaitInTask<T>(std::apply(self->m_f, self->m_args));
        };
        return new SpawnRecord<T, decltype(factory)>(std::move(factory));
    }

private:
    F m_f;
    ArgTuple m_args;
};

} // namespace QAyo::detail
