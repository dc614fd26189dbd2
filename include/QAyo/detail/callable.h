// SPDX-License-Identifier: MIT
#pragma once

// The check every call that keeps a callable makes first: a type that can be empty (a function
// or member pointer, std::function, std::move_only_function - and so QAyo's own std::function
// aliases) is rejected at the call with InvalidArgument, instead of failing later with a bare
// std::bad_function_call or reaching std::invoke as a null pointer. Closures and other function
// objects cannot be empty: for them the check compiles to nothing.

#include <QAyo/qayo_global.h>

#include <functional>
#include <type_traits>

namespace QAyo::detail {

//! Recognises the standard function wrappers, which can be empty.
template<typename F>
struct IsFunctionWrapper : std::false_type
{
};
template<typename Signature>
struct IsFunctionWrapper<std::function<Signature>> : std::true_type
{
};
#if defined(__cpp_lib_move_only_function)
template<typename Signature>
struct IsFunctionWrapper<std::move_only_function<Signature>> : std::true_type
{
};
#endif

//! Throws InvalidArgument "<operation>: the <argument> is empty" (out of line: one copy of the
//! message code, not one per instantiation).
[[noreturn]] QAYO_CORE_EXPORT void throwEmptyCallable(const char *operation, const char *argument);

//! Throws InvalidArgument naming \a operation if \a f is a null pointer or an empty wrapper.
template<typename F>
void checkCallable(const F &f, const char *operation, const char *argument = "callable")
{
    if constexpr (std::is_pointer_v<F> || std::is_member_pointer_v<F>) {
        if (f == nullptr)
            throwEmptyCallable(operation, argument);
    } else if constexpr (IsFunctionWrapper<F>::value) {
        if (!f)
            throwEmptyCallable(operation, argument);
    }
}

} // namespace QAyo::detail
