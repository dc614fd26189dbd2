// SPDX-License-Identifier: MIT
#pragma once

#include <QAyo/qayo_global.h>

#include <QByteArray>
#include <QString>

#include <exception>

namespace QAyo {

//! Base class of every error QAyo throws on purpose (all but Cancelled).
/*!
 * what() returns the message in UTF-8; message() returns it as a QString.
 */
class QAYO_CORE_EXPORT Error : public std::exception
{
public:
    //! Creates an error carrying \a message.
    explicit Error(const QString &message);
    //! Destroys the error.
    ~Error() override;
    //! The message in UTF-8.
    const char *what() const noexcept override;
    //! The message as a QString.
    QString message() const;

private:
    QByteArray m_message;
};

//! A function was given an argument it cannot accept; the message names the argument and value.
class QAYO_CORE_EXPORT InvalidArgument : public Error
{
public:
    using Error::Error;
};

//! Work was spawned into a scope that has finished or is being destroyed.
class QAYO_CORE_EXPORT ScopeClosedError : public Error
{
public:
    using Error::Error;
};

//! A scope with ScopeOptions::timeoutThrows, or QAyo::withTimeout(), ran out of time.
class QAYO_CORE_EXPORT TimeoutError : public Error
{
public:
    using Error::Error;
};

//! An operation was called in a state that does not allow it (e.g. Handle::result() too early).
class QAYO_CORE_EXPORT InvalidStateError : public Error
{
public:
    using Error::Error;
};

//! Awaiting, or reading the result of, a task that was cancelled.
class QAYO_CORE_EXPORT TaskCancelledError : public Error
{
public:
    using Error::Error;
};

//! A task run with Scope::start() finished without calling Started::started() (and was not
//! cancelled: that is TaskCancelledError); thrown by the co_await of start().
class QAYO_CORE_EXPORT StartError : public Error
{
public:
    using Error::Error;
};

//! Delivered at a checkpoint of a task whose scope (or handle) was cancelled.
/*!
 * Cancelled deliberately does not derive from std::exception, so `catch (const std::exception &)`
 * does not swallow a cancellation by accident (the same reason Python's CancelledError is a
 * BaseException). Catch it only to run cleanup, then rethrow.
 */
class QAYO_CORE_EXPORT Cancelled
{
public:
    //! A short description, "QAyo::Cancelled".
    const char *what() const noexcept;
};

} // namespace QAyo
