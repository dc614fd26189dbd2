// SPDX-License-Identifier: MIT
#pragma once

// The template machinery behind Scope's spawning API (include/QAyo/scope.h): how a spawn makes
// its record, aside work and schedule records, the block form's body, and the request that
// co_await QAyo::aside() turns into aside work of the awaiting task's scope. Included at the end
// of scope.h; not for users.

namespace QAyo {

inline void Scope::spawnHandled(detail::TaskRecord *record, SpawnKind kind)
{
    try {
        spawnRecord(record, kind);
    } catch (...) {
        record->deref(); // the handle's: no handle is made
        throw;
    }
}

template<typename T, typename Factory>
Handle<T> Scope::spawnFactory(Factory &&factory, SpawnKind kind, detail::TicketHolder ticket)
{
    auto *record = new detail::SpawnRecord<T, std::decay_t<Factory>>(std::forward<Factory>(factory));
    record->limiterTicket = ticket.release();
    record->refUnshared(); // the handle's reference
    spawnHandled(record, kind);
    return Handle<T>(record);
}

template<typename F, typename... Args>
auto Scope::asideWith(QThreadPool *pool, Limiter *limiter, F &&f, Args &&...args)
{
    checkCanSpawn("asideIn", false);
    if (!pool)
        throw InvalidArgument(QStringLiteral("asideIn: the pool is null"));
    detail::checkCallable(f, "asideIn");
    using Fn = std::decay_t<F>;
    using ArgTuple = std::tuple<std::decay_t<Args>...>;
    using T = typename detail::AsideValue<Fn, std::decay_t<Args>...>::type;
    detail::TicketHolder ticket(limiter ? detail::makeRecordTicket(limiter, "asideIn") : nullptr);
    auto *record = new detail::AsideRecord<T, Fn, ArgTuple>(pool, Fn(std::forward<F>(f)),
                                                            ArgTuple(std::forward<Args>(args)...));
    record->limiterTicket = ticket.release();
    record->ref(); // the handle's reference
    spawnHandled(record, SpawnKind::Aside);
    return Handle<T>(record);
}

template<typename F, typename... Args>
detail::ScheduleRecord *Scope::makeSchedule(F &&f, Args &&...args)
{
    using Call = std::decay_t<F>;
    using ArgTuple = std::tuple<std::decay_t<Args>...>;
    return new detail::ScheduleRecordFor<Call, ArgTuple>(Call(std::forward<F>(f)),
                                                         ArgTuple(std::forward<Args>(args)...));
}

template<typename F>
void Scope::spawnBody(F &&f)
{
    checkCanSpawn("scope body", false);
    using R = std::invoke_result_t<std::decay_t<F> &>;
    using T = typename detail::SpawnValue<R>::type;
    spawnFactory<T>(detail::makeCallableFactory(std::forward<F>(f)), SpawnKind::Body);
}

namespace detail {

//! co_await QAyo::aside(f, args...): aside() in the scope of the awaiting task.
template<typename F, typename ArgTuple>
struct AsideRequest
{
    QThreadPool *pool;
    F f;
    ArgTuple args;
    Limiter *limiter = nullptr; // draws from it when set (see Scope::aside(Limiter *, ...))

    template<typename Promise>
    auto qayoAwait(Promise &promise) &&
    {
        Scope *scope = scopeOf(promise.m_record);
        if (!scope)
            throw InvalidStateError(QStringLiteral("QAyo::aside: only inside a task of a scope"));
        auto handle = std::apply(
            [&](auto &...a) {
                return limiter ? scope->asideIn(pool, limiter, std::move(f), std::move(a)...)
                               : scope->asideIn(pool, std::move(f), std::move(a)...);
            },
            args);
        return AwareCheckpoint<decltype(handle.operator co_await())>(handle.operator co_await(),
                                                                     promise.m_record);
    }
};

} // namespace detail

} // namespace QAyo
