// SPDX-License-Identifier: MIT
// The waits of <QAyo/Network>: QNetworkReply and sockets.
//
// As in src/core/waits.cpp, the reply guard is a parameter of the coroutine (it lives in the frame
// from the moment the Task exists, so a dropped or destroyed wait still aborts the reply) and the
// public functions check their arguments before a frame is made.
#include <QAyo/detail/firstsignal.h>
#include <QAyo/network.h>

#include <QAbstractSocket>
#include <QNetworkReply>
#include <QPointer>

#include <optional>

namespace QAyo {

namespace {

//! Aborts the reply when destroyed, unless disarmed. The destructor runs when a frame is
//! destroyed - possibly inside ~Scope - so it only posts the abort: the reply's signals must not
//! run user slots in the middle of a scope's destruction. The cancellation path aborts at once.
class ReplyGuard
{
public:
    explicit ReplyGuard(QNetworkReply *reply) : m_reply(reply) {}
    ReplyGuard(ReplyGuard &&other) noexcept
        : m_reply(other.m_reply), m_armed(std::exchange(other.m_armed, false))
    {
    }
    ReplyGuard &operator=(ReplyGuard &&) = delete;
    ~ReplyGuard()
    {
        if (std::exchange(m_armed, false) && m_reply && m_reply->isRunning()) {
            QNetworkReply *reply = m_reply;
            // Context `reply`: if it is deleted first, the call is dropped.
            QMetaObject::invokeMethod(
                reply, [reply] { reply->abort(); }, Qt::QueuedConnection);
        }
    }

    QPointer<QNetworkReply> reply() const { return m_reply; }
    void disarm() noexcept { m_armed = false; }
    //! The cancellation path: abort now (we are in the task's own code, not in a destructor).
    void abortNow()
    {
        if (std::exchange(m_armed, false) && m_reply && m_reply->isRunning())
            m_reply->abort();
    }

private:
    QPointer<QNetworkReply> m_reply;
    bool m_armed = true;
};

Task<QNetworkReply *> replyTask(ReplyGuard guard)
{
    static constexpr char function[] = "reply";
    const QPointer<QNetworkReply> reply = guard.reply();
    if (!reply)
        throw ObjectDestroyedError(
            QStringLiteral("reply: the QNetworkReply was destroyed while waiting"));
    if (!reply->isFinished()) {
        try {
            co_await detail::firstSignal(function, reply.data(), &QNetworkReply::finished);
        } catch (...) {
            guard.abortNow(); // cancelled (or the reply is gone: then a no-op)
            throw;
        }
    }
    guard.disarm();
    co_return reply.data();
}

ObjectDestroyedError socketDestroyed(const char *function)
{
    return ObjectDestroyedError(
        QStringLiteral("%1: the socket was destroyed while waiting").arg(QLatin1String(function)));
}

//! What a read wait on \a socket returns now: the bytes available, 0 at the end of the stream
//! (closed, or unconnected with nothing left), or nothing if it must wait.
std::optional<qint64> socketReadable(const QAbstractSocket &socket)
{
    if (!socket.isOpen())
        return 0;
    if (const qint64 available = socket.bytesAvailable(); available > 0)
        return available;
    if (socket.state() == QAbstractSocket::UnconnectedState)
        return 0; // nothing left and nothing more to come
    return std::nullopt;
}

Task<qint64> socketReadyReadTask(QPointer<QAbstractSocket> socket)
{
    static constexpr char function[] = "readyRead";
    for (;;) {
        if (!socket)
            throw socketDestroyed(function);
        if (const std::optional<qint64> readable = socketReadable(*socket))
            co_return *readable;
        // Any of these may change the answer: look again after each.
        co_await detail::firstSignal(function, socket.data(), &QIODevice::readyRead,
                                     &QIODevice::aboutToClose, &QAbstractSocket::stateChanged);
    }
}

Task<bool> socketBytesWrittenTask(QPointer<QAbstractSocket> socket)
{
    static constexpr char function[] = "bytesWritten";
    for (;;) {
        if (!socket)
            throw socketDestroyed(function);
        if (socket->bytesToWrite() == 0)
            co_return true;
        if (socket->state() == QAbstractSocket::UnconnectedState)
            co_return false;
        const int which = co_await detail::firstSignal(
            function, socket.data(), &QIODevice::bytesWritten, &QAbstractSocket::stateChanged,
            &QAbstractSocket::errorOccurred);
        if (!socket)
            throw socketDestroyed(function);
        // A failing socket reports the error, then aborts - which also empties its write buffer:
        // bytesToWrite() == 0 would then wrongly read as "all written".
        const bool connected = socket->state() == QAbstractSocket::ConnectedState
            || socket->state() == QAbstractSocket::ClosingState;
        if (which == 2 && !connected)
            co_return false;
    }
}

} // namespace

Task<QNetworkReply *> reply(QNetworkReply *reply)
{
    if (!reply)
        throw InvalidArgument(QStringLiteral("reply: reply is null"));
    return replyTask(ReplyGuard(reply));
}

Task<qint64> readyRead(QAbstractSocket *socket)
{
    if (!socket)
        throw InvalidArgument(QStringLiteral("readyRead: socket is null"));
    return socketReadyReadTask(socket);
}

Task<bool> bytesWritten(QAbstractSocket *socket)
{
    if (!socket)
        throw InvalidArgument(QStringLiteral("bytesWritten: socket is null"));
    return socketBytesWrittenTask(socket);
}

} // namespace QAyo
