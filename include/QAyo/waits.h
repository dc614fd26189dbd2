// SPDX-License-Identifier: MIT
#pragma once

// Cancellation-aware waits for Qt's asynchronous types: QFuture, QProcess, QIODevice.
// (QNetworkReply and sockets: <QAyo/Network>.)
//
// Plain `co_await future` or `co_await qCoro(process).waitForFinished()` still work inside a
// QAyo::Task, but they are foreign awaits: a cancel reaches the task only when they complete.
// The functions here are QAyo tasks built on QAyo's own waits: they wake at once on cancel, stop
// the work they wait for where Qt allows it (QFuture::cancel(), terminate/kill, abort), and
// leave no connection, timer or child process behind. docs/cancellation.md has the whole story.

#include <QAyo/detail/futurewait.h>
#include <QAyo/errors.h>
#include <QAyo/signal.h>
#include <QAyo/task.h>

#include <QFuture>

#include <chrono>

QT_BEGIN_NAMESPACE
class QIODevice;
class QProcess;
QT_END_NAMESPACE

namespace QAyo {

//! A QProcess that a QAyo wait watched failed to start or crashed; the message names the
//! program and Qt's error string.
class QAYO_CORE_EXPORT ProcessError : public Error
{
public:
    using Error::Error;
};

//! Waits for \a future to finish; returns its result (nothing for QFuture<void>).
/*!
 * \code
 * const QImage image = co_await QAyo::future(QtConcurrent::run(loadImage, path));
 * \endcode
 * - Rethrows the exception the future carries.
 * - A future cancelled by someone else: TaskCancelledError. Finished without a result:
 *   InvalidStateError. An invalid future (default-constructed, or its result taken):
 *   InvalidArgument, thrown by this call.
 * - Cancellation-aware: when the task is cancelled the wait wakes at once and cancels the
 *   future (QFuture::cancel()); dropping the wait unfinished, or destroying its frame, cancels
 *   it too. QAyo does not wait for the work behind the future: a thread cannot be interrupted
 *   (QtConcurrent::run ignores cancel() once running; a QPromise sees isCanceled()).
 *
 * Waits through a QFutureWatcher on the awaiting thread, which is where the task resumes.
 */
template<typename T>
Task<T> future(QFuture<T> watched)
{
    if (!watched.isValid())
        throw InvalidArgument(QStringLiteral(
            "future: the QFuture is not valid (default-constructed, or its result was taken)"));
    return detail::awaitFuture<T>(detail::FutureCanceller<T>(std::move(watched)));
}

//! Waits until \a process has started (it must have been start()ed).
/*!
 * \code
 * process.start(QStringLiteral("ffmpeg"), arguments);
 * co_await QAyo::processStarted(&process);
 * \endcode
 * Returns at once when it runs already, or is not running and did not fail to start. Throws
 * ProcessError if it fails to start, ObjectDestroyedError if \a process is deleted while
 * waiting, InvalidArgument (from this call) for a null \a process or a negative \a grace.
 *
 * Owns the start: when the task is cancelled while the process is still starting, the wait
 * terminates it, kill()s it if it is still running after \a grace, and delivers Cancelled once
 * it is gone. Destroying the wait's frame (e.g. with its scope) terminates it the same way
 * without waiting (the kill timer is a child of \a process).
 */
QAYO_CORE_EXPORT Task<> processStarted(
    QProcess *process, std::chrono::milliseconds grace = std::chrono::seconds(3));

//! Waits until \a process has finished; returns its exit code.
/*!
 * \code
 * process.start(QStringLiteral("sleep"), {QStringLiteral("30")});
 * const int exitCode = co_await QAyo::processFinished(&process); // cancel: the process goes
 * \endcode
 * A process that is not running returns its last exit code at once (0 if it never ran). Throws
 * ProcessError if it failed to start or crashed (QProcess::CrashExit, e.g. killed by a signal),
 * ObjectDestroyedError if \a process is deleted while waiting, InvalidArgument (from this call)
 * for a null \a process or a negative \a grace.
 *
 * Owns the process (Trio's run_process): when the task is cancelled, the wait terminate()s the
 * process, kill()s it if it still runs after \a grace, and delivers Cancelled once it is gone -
 * so when the scope's join returns, the process has ended. Destroying the wait's frame (e.g.
 * with its scope), or dropping the wait before it finished, terminates it the same way without
 * waiting. To wait for a process without owning it, use
 * `QAyo::signal(process, &QProcess::finished)`.
 */
QAYO_CORE_EXPORT Task<int> processFinished(
    QProcess *process, std::chrono::milliseconds grace = std::chrono::seconds(3));

//! Waits until \a device has data to read; returns bytesAvailable() - at once if there is data.
/*!
 * \code
 * while (co_await QAyo::readyRead(&process) > 0)
 *     output += process.readAll();
 * \endcode
 * Returns 0 when nothing more will come: the device is closed (or closes while waiting), its
 * read channel finished (the peer closed, the process ended). A random-access device (a file)
 * never waits: it returns bytesAvailable() at once. Cancellation-aware; ObjectDestroyedError if
 * \a device is deleted while waiting; InvalidArgument (from this call) if it is null or open but
 * not readable.
 *
 * A QIODevice cannot tell that its read channel has finished *earlier*: a socket whose peer has
 * closed stays open, so a later readyRead() would wait for good. For sockets include
 * <QAyo/Network>: its readyRead(QAbstractSocket *) knows the socket state.
 */
QAYO_CORE_EXPORT Task<qint64> readyRead(QIODevice *device);

//! Waits until everything written to \a device has been written (bytesToWrite() is 0).
/*!
 * \code
 * socket->write(payload);
 * co_await QAyo::bytesWritten(socket);
 * \endcode
 * Returns true when nothing is left to write (at once if nothing was pending), false when the
 * device closed first (a process ended, a socket closed - it may still flush the rest while
 * closing). A file (QFileDevice) is flush()ed instead: the result of flush(). Cancellation-aware;
 * ObjectDestroyedError if \a device is deleted while waiting; InvalidArgument (from this call)
 * if it is null or open but not writable.
 */
QAYO_CORE_EXPORT Task<bool> bytesWritten(QIODevice *device);

} // namespace QAyo
