// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/scope.h>
#include <QAyo/task.h>

#include <functional>
#include <type_traits>

namespace QAyo {

namespace detail {
QAYO_CORE_EXPORT int runMain(int &argc, char **argv, std::function<Task<int>(Scope &)> main);
} // namespace detail

//! The program entry point: runs \a main in the root scope on Qt's event loop; returns an exit code.
/*!
 * Creates a QCoreApplication unless one exists (an existing QCoreApplication, QGuiApplication
 * or QApplication is adopted), spawns `main(root)` into the root scope, runs the event loop
 * until the root scope has finished, and returns 0 - or main's int for a Task<int> - or 1
 * after printing the error to stderr when an exception escaped.
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
int runAsMain(int &argc, char **argv, Main main)
{
    using R = std::invoke_result_t<Main &, Scope &>;
    static_assert(detail::IsTask<R>::value, "runAsMain: main must return QAyo::Task<> or QAyo::Task<int>");
    using T = typename detail::IsTask<R>::ValueType;
    static_assert(std::is_void_v<T> || std::is_same_v<T, int>, "runAsMain: main must return QAyo::Task<> or QAyo::Task<int>");
    return detail::runMain(argc, argv, [main = std::move(main)](Scope &root) mutable -> Task<int> {
        if constexpr (std::is_void_v<T>) {
            co_await main(root);
            co_return 0;
        } else {
            co_return co_await main(root);
        }
    });
}

} // namespace QAyo
