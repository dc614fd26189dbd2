// SPDX-License-Identifier: MIT
#pragma once

// QAyo::gather: await several tasks concurrently, get their results in argument order. Each
// call runs its work in a nested block scope (QAyo::scope), so the scope rules hold: the first
// error cancels the others and is rethrown once they have ended.

#include <QAyo/scope.h>

#include <QList>

#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace QAyo {

namespace detail {

//! void becomes std::monostate in gather's tuple.
template<typename T>
using GatherValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

//! The handle Scope::asap() returns for X.
template<typename X>
using GatherHandle = decltype(std::declval<Scope &>().asap(std::declval<X>()));

template<typename H>
struct HandleValue;
template<typename T>
struct HandleValue<Handle<T>>
{
    using type = T;
};

//! The value of a finished handle (monostate for void).
template<typename T>
GatherValue<T> gatheredValue(const Handle<T> &handle)
{
    if constexpr (std::is_void_v<T>) {
        handle.result();
        return {};
    } else {
        return handle.result();
    }
}

} // namespace detail

//! Awaits every argument concurrently; yields their results as a tuple, in argument order.
/*!
 * \code
 * auto [user, avatar] = co_await QAyo::gather(fetchUser(id), fetchAvatar(id));
 * \endcode
 * Arguments are anything Scope::asap() takes: QAyo::Task (lazy), QCoro::Task, callables. A void
 * result is a std::monostate. The work runs in a nested scope: the first error cancels the
 * other arguments and is rethrown once they have ended; cancelling the awaiting task cancels
 * them all.
 */
template<typename... Xs>
    requires(sizeof...(Xs) > 0 && (sizeof...(Xs) != 1 || !(std::ranges::range<std::remove_cvref_t<Xs>> && ...)))
auto gather(Xs... xs)
    -> Task<std::tuple<detail::GatherValue<typename detail::HandleValue<detail::GatherHandle<Xs>>::type>...>>
{
    using Handles = std::tuple<detail::GatherHandle<Xs>...>;
    std::optional<Handles> handles;
    co_await QAyo::scope({.name = QStringLiteral("gather")}, [&handles, &xs...](Scope &s) {
        handles.emplace(Handles{s.asap(std::move(xs))...}); // braces: spawned left to right
    });
    co_return std::apply(
        [](const auto &...h) {
            return std::tuple<detail::GatherValue<typename detail::HandleValue<detail::GatherHandle<Xs>>::type>...>(
                detail::gatheredValue(h)...);
        },
        *handles);
}

//! Awaits every element of \a items concurrently; yields the results as a QList in input order
/*!
 * (nothing for void elements). Same rules as the variadic gather(): the first error cancels the
 * rest and is rethrown.
 * \code
 * std::vector<QAyo::Task<QByteArray>> downloads = ...;
 * QList<QByteArray> pages = co_await QAyo::gather(std::move(downloads));
 * \endcode
 */
template<std::ranges::range R>
auto gather(R items)
    -> Task<std::conditional_t<std::is_void_v<typename detail::HandleValue<detail::GatherHandle<std::ranges::range_value_t<R>>>::type>,
                               void, QList<typename detail::HandleValue<detail::GatherHandle<std::ranges::range_value_t<R>>>::type>>>
{
    using H = detail::GatherHandle<std::ranges::range_value_t<R>>;
    using T = typename detail::HandleValue<H>::type;
    QList<H> handles;
    co_await QAyo::scope({.name = QStringLiteral("gather")}, [&handles, &items](Scope &s) {
        for (auto &&x : items)
            handles.append(s.asap(std::move(x)));
    });
    if constexpr (std::is_void_v<T>) {
        for (const H &h : handles)
            h.result(); // every one succeeded (or the scope rethrew): this only checks
    } else {
        QList<T> values;
        values.reserve(handles.size());
        for (const H &h : handles)
            values.append(h.result());
        co_return values;
    }
}

} // namespace QAyo
