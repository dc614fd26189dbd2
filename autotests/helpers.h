// SPDX-License-Identifier: MIT
// Small habits shared by the core suites: spinning the loop, counting live frames, the usual
// sleeper, a virtual clock in one line. Not part of <QAyo/Test>: they are conveniences of these
// tests, not public API (joining, running and error messages come from <QAyo/Test>).
#pragma once

#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QHash>
#include <QMutex>
#include <QString>
#include <QStringList>
#include <QtGlobal>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>

namespace TestHelpers {

using namespace std::chrono_literals;

//! A gate other threads (pool threads, workers) wait at until the test opens it. The bound only
//! keeps a failing test from hanging; waitOpen() says whether the gate was opened.
class Gate
{
public:
    void open()
    {
        {
            std::lock_guard lock(m_mutex);
            m_open = true;
        }
        m_changed.notify_all();
    }
    bool waitOpen(std::chrono::milliseconds limit = 10s)
    {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, limit, [this] { return m_open; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_open = false;
};

//! Collects the messages of the qayo.* categories while alive (from any thread).
class MessageCapture
{
public:
    MessageCapture()
    {
        s_current = this;
        m_previous = qInstallMessageHandler(&MessageCapture::handle);
    }
    ~MessageCapture()
    {
        qInstallMessageHandler(m_previous);
        s_current = nullptr;
    }
    QStringList messages(const char *category) const
    {
        QMutexLocker lock(&m_mutex);
        return m_messages.value(QString::fromLatin1(category));
    }

private:
    static void handle(QtMsgType, const QMessageLogContext &context, const QString &message)
    {
        if (!s_current || !context.category || qstrncmp(context.category, "qayo.", 5) != 0)
            return;
        QMutexLocker lock(&s_current->m_mutex);
        s_current->m_messages[QString::fromLatin1(context.category)].append(message);
    }
    static inline MessageCapture *s_current = nullptr;
    QtMessageHandler m_previous;
    mutable QMutex m_mutex;
    QHash<QString, QStringList> m_messages;
};

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

//! A QAyo::Test::VirtualClock installed on the calling thread until the returned pointer dies
//! (autojump unless told otherwise). Declare it before the test's scopes: they die first.
inline std::unique_ptr<QAyo::Test::VirtualClock>
installVirtualClock(QAyo::Test::VirtualClock::Mode mode = QAyo::Test::VirtualClock::Mode::AutoJump)
{
    auto clock = std::make_unique<QAyo::Test::VirtualClock>(mode);
    clock->install();
    return clock;
}

//! Joins \a scope with QAyo::Test::join() expecting the join to throw an \a E; returns its message
//! (QAyo::Test::describe()), or a text saying what happened instead, for a QCOMPARE that shows it.
template<typename E = std::exception>
QString joinError(QAyo::Scope &scope)
{
    try {
        QAyo::Test::join(scope);
    } catch (const E &) {
        return QAyo::Test::describe(std::current_exception());
    } catch (...) {
        return QStringLiteral("unexpected exception: ") + QAyo::Test::describe(std::current_exception());
    }
    return QStringLiteral("(the join did not throw)");
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
