// SPDX-License-Identifier: MIT
#pragma once

// The QAyo::Network component (link QAyo::Network): cancellation-aware waits for QNetworkReply
// and sockets. Like <QAyo/Waits>, each wait is a QAyo::Task that wakes at once on cancel, stops
// what it waits for where that makes sense (a reply is aborted) and leaves no connection behind.

#include <QAyo/errors.h>
#include <QAyo/signal.h>
#include <QAyo/task.h>
#include <QAyo/waits.h>

QT_BEGIN_NAMESPACE
class QAbstractSocket;
class QNetworkReply;
QT_END_NAMESPACE

//! Export macro of the QAyo::Network library.
#if defined(QAYO_NETWORK_LIBRARY)
#define QAYO_NETWORK_EXPORT Q_DECL_EXPORT
#else
#define QAYO_NETWORK_EXPORT Q_DECL_IMPORT
#endif

namespace QAyo {

//! Waits until \a reply has finished; returns \a reply (check its error() as usual).
/*!
 * \code
 * QNetworkReply *reply = co_await QAyo::reply(manager.get(QNetworkRequest(url)));
 * reply->deleteLater();
 * if (reply->error() == QNetworkReply::NoError)
 *     data = reply->readAll();
 * \endcode
 * Returns at once if the reply has finished already. Cancellation-aware: when the task is
 * cancelled, the wait wakes at once and abort()s the reply before Cancelled goes on. Destroying
 * the wait's frame (e.g. with its scope), or dropping the wait before it finished, aborts the
 * reply too - on the next event-loop turn, so the reply's own signals (finished, errorOccurred)
 * never run inside a scope's destructor. The reply stays yours: QAyo never deletes it.
 * Throws ObjectDestroyedError if \a reply is deleted while waiting, InvalidArgument (from this
 * call) if it is null.
 */
QAYO_NETWORK_EXPORT Task<QNetworkReply *> reply(QNetworkReply *reply);

//! readyRead() for sockets: waits until \a socket has data to read; returns bytesAvailable().
/*!
 * As QAyo::readyRead(QIODevice *), and also returns 0 at once for a socket that is unconnected
 * (its peer closed, the connection failed) with nothing left to read - which a plain QIODevice
 * cannot tell - so `while (co_await QAyo::readyRead(socket) > 0)` ends when the peer closes.
 */
QAYO_NETWORK_EXPORT Task<qint64> readyRead(QAbstractSocket *socket);

//! bytesWritten() for sockets: waits until everything written to \a socket has gone out.
/*!
 * Returns true when bytesToWrite() is 0 - also after close() (the socket flushes while
 * closing) - and false when the socket became unconnected with data left. Cancellation-aware;
 * ObjectDestroyedError if \a socket is deleted while waiting; InvalidArgument if it is null.
 */
QAYO_NETWORK_EXPORT Task<bool> bytesWritten(QAbstractSocket *socket);

} // namespace QAyo
