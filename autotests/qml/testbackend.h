// SPDX-License-Identifier: MIT
// The C++ backend of the Quick tests: slow lookups spawned into a QML Scope with
// QAyo::Qml::spawn(), counting how many of its tasks are alive, finished or cancelled.
#pragma once

#include <QAyo/Qml>
#include <QAyo/QAyo>

#include <QObject>
#include <QVariant>

#include <chrono>

class TestBackend : public QObject
{
    Q_OBJECT
    //! Backend tasks whose frame is alive (started and not yet ended or destroyed).
    Q_PROPERTY(int running READ running NOTIFY runningChanged)
    //! Backend tasks that returned a value.
    Q_PROPERTY(int finished READ finished NOTIFY runningChanged)
    //! Calls of countThen() (from a then() function in QML).
    Q_PROPERTY(int thenCalls READ thenCalls NOTIFY runningChanged)

public:
    int running() const { return m_running; }
    int finished() const { return m_finished; }
    int thenCalls() const { return m_thenCalls; }

    //! Counts a then() call; QML calls it from the function it gives to then().
    Q_INVOKABLE void countThen() { ++m_thenCalls; }

    //! Returns \a value after \a ms milliseconds of QAyo::sleep.
    Q_INVOKABLE QCoro::QmlTask echo(const QVariant &value, int ms, QAyo::Scope *scope)
    {
        return QAyo::Qml::spawn(scope, slowEcho(value, ms));
    }

    //! Throws QAyo::InvalidArgument carrying \a message after \a ms milliseconds.
    Q_INVOKABLE QCoro::QmlTask fail(const QString &message, int ms, QAyo::Scope *scope)
    {
        return QAyo::Qml::spawn(scope, slowFailure(message, ms));
    }

    //! A void task through the callable form of spawn(): then() gets undefined.
    Q_INVOKABLE QCoro::QmlTask pause(int ms, QAyo::Scope *scope)
    {
        return QAyo::Qml::spawn(scope, &TestBackend::slowPause, this, ms);
    }

Q_SIGNALS:
    void runningChanged();

private:
    //! Counts a frame in m_running while it lives (also when the frame is destroyed unresumed).
    struct Alive
    {
        explicit Alive(TestBackend *b) : backend(b)
        {
            ++backend->m_running;
            Q_EMIT backend->runningChanged();
        }
        ~Alive()
        {
            --backend->m_running;
            Q_EMIT backend->runningChanged();
        }
        TestBackend *backend;
    };

    QAyo::Task<QVariant> slowEcho(QVariant value, int ms)
    {
        Alive alive(this);
        co_await QAyo::sleep(std::chrono::milliseconds(ms));
        ++m_finished;
        co_return value;
    }

    QAyo::Task<void> slowPause(int ms)
    {
        Alive alive(this);
        co_await QAyo::sleep(std::chrono::milliseconds(ms));
        ++m_finished;
    }

    QAyo::Task<QVariant> slowFailure(QString message, int ms)
    {
        Alive alive(this);
        co_await QAyo::sleep(std::chrono::milliseconds(ms));
        throw QAyo::InvalidArgument(message);
    }

    int m_running = 0;
    int m_finished = 0;
    int m_thenCalls = 0;
};
