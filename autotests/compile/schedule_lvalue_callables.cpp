// SPDX-License-Identifier: MIT
// Must COMPILE (built by the ctest tst_time_lvalue_callables, not by default, so a regression
// fails one test instead of the whole build): after/at/every take the callable and its arguments
// by forwarding reference and keep decayed copies, so named callables - a lambda, a const lambda,
// a std::function, a function object - and named arguments are accepted, as with Scope::asap.
#include <QAyo/QAyo>

#include <QDateTime>
#include <QString>

#include <chrono>
#include <functional>

using namespace std::chrono_literals;

namespace {

struct Counter
{
    int *count;
    void operator()(int by) const { *count += by; }
};

} // namespace

void scheduleNamedCallables(QAyo::Scope &scope)
{
    int count = 0;
    auto lambda = [&count] { ++count; };
    const auto constLambda = [&count](const QString &) { ++count; };
    std::function<void()> function = [&count] { ++count; };
    Counter counter { &count };
    const QString text = QStringLiteral("argument");
    int by = 2;

    scope.after(1ms, lambda);
    scope.every(1ms, constLambda, text);
    scope.at(QDateTime::currentDateTimeUtc(), function);
    scope.at(std::chrono::system_clock::now(), counter, by);
}
