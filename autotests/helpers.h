// SPDX-License-Identifier: MIT
// Small habits shared by the core suites: spinning the loop, counting live frames, the usual
// sleeper. Not part of <QAyo/Test>: they are conveniences of these tests, not public API.
#pragma once

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QString>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>

namespace TestHelpers {

using namespace std::chrono_literals;

//! Spins the event loop until \a done returns true; false if \a deadline (real time) passes.
inline bool spinUntil(const std::function<bool()> &done, std::chrono::milliseconds deadline = 3s)
{
    return QAyo::Test::detail::spinUntil(done, deadline);
}

//! Spins the event loop for \a duration. Only to show that something does *not* happen.
inline void spinFor(std::chrono::milliseconds duration)
{
    spinUntil([] { return false; }, duration);
}

//! Counts itself in *counter while alive: put one in a coroutine frame to see its locals die.
class LiveCounter
{
public:
    explicit LiveCounter(int *counter) : m_counter(counter) { ++*m_counter; }
    LiveCounter(const LiveCounter &) = delete;
    LiveCounter &operator=(const LiveCounter &) = delete;
    ~LiveCounter() { --*m_counter; }

private:
    int *m_counter;
};

//! The message of \a error: what() for std::exception, a fixed text otherwise.
inline QString messageOf(const std::exception_ptr &error)
{
    if (!error)
        return QStringLiteral("(no error)");
    try {
        std::rethrow_exception(error);
    } catch (const std::exception &e) {
        return QString::fromUtf8(e.what());
    } catch (const QAyo::Cancelled &) {
        return QStringLiteral("QAyo::Cancelled");
    } catch (...) {
        return QStringLiteral("(unknown exception)");
    }
}

//! Sleeps for an hour; sets *cancelled when QAyo::Cancelled reaches it, then rethrows it.
inline QAyo::Task<> sleepForever(bool *cancelled)
{
    try {
        co_await QAyo::sleep(1h);
    } catch (const QAyo::Cancelled &) {
        *cancelled = true;
        throw;
    }
}

//! Waits (polling every millisecond) until *flag is true: a gate the test opens.
inline QAyo::Task<> waitUntil(const bool *flag)
{
    while (!*flag)
        co_await QAyo::sleep(1ms);
}

//! Throws std::runtime_error(\a message) after \a delay.
inline QAyo::Task<> failAfter(std::chrono::milliseconds delay, QString message)
{
    co_await QAyo::sleep(delay);
    throw std::runtime_error(message.toStdString());
}

//! How many jobs run at once now and the most that ever did (any thread): enter() and leave()
//! around the work.
struct PeakCounter
{
    std::atomic<int> now{0};
    std::atomic<int> peak{0};

    void enter()
    {
        const int n = ++now;
        int seen = peak.load();
        while (n > seen && !peak.compare_exchange_weak(seen, n)) {
        }
    }
    void leave() { --now; }
};

//! QObject::receivers() of any object. It is protected: reached through a member pointer formed
//! in a derived class, which is legal - unlike casting the object to a class it is not (UBSan).
struct ReceiversPeek : QObject
{
    static int count(const QObject *object, const char *signal)
    {
        return (object->*&ReceiversPeek::receivers)(signal);
    }
};

//! How many connections \a signal (a SIGNAL() string) of \a object has.
inline int receiversOf(const QObject *object, const char *signal)
{
    return ReceiversPeek::count(object, signal);
}

} // namespace TestHelpers
