// SPDX-License-Identifier: MIT
#include <QAyo/detail/callable.h>
#include <QAyo/errors.h>
#include <QAyo/task.h>

#include <typeinfo>

#include "errors_p.h"

namespace QAyo {

Error::Error(const QString &message) : m_message(message.toUtf8()) {}
Error::~Error() = default;
const char *Error::what() const noexcept
{
    return m_message.constData();
}
QString Error::message() const
{
    return QString::fromUtf8(m_message);
}

const char *Cancelled::what() const noexcept
{
    return "QAyo::Cancelled";
}

namespace detail {

QString describeException(const std::exception_ptr &error)
{
    if (!error)
        return {};
    try {
        std::rethrow_exception(error);
    } catch (const Error &e) {
        return e.message();
    } catch (const std::exception &e) {
        return QString::fromUtf8(e.what());
    } catch (const Cancelled &) {
        return QStringLiteral("QAyo::Cancelled escaped a task that was not cancelled");
    } catch (...) {
        return QStringLiteral("unknown exception (not derived from std::exception)");
    }
}

bool isCancellation(const std::exception_ptr &error)
{
#if defined(__GLIBCXX__)
    // libstdc++ tells the type without a rethrow; a rethrow costs a full unwind (~1 us), and this
    // runs once per cancelled task.
    if (const std::type_info *type = error.__cxa_exception_type())
        return *type == typeid(Cancelled);
    return false;
#endif
    try {
        std::rethrow_exception(error);
    } catch (const Cancelled &) {
        return true;
    } catch (...) {
        return false;
    }
}

} // namespace detail
} // namespace QAyo

namespace QAyo::detail {

void throwTaskAlreadyAwaited(const char *operation)
{
    throw InvalidStateError(
        QStringLiteral("%1: the task was already awaited (a QAyo::Task is awaited or spawned once)")
            .arg(QLatin1String(operation)));
}

void throwEmptyTaskSpawned()
{
    throw InvalidArgument(QStringLiteral("task: cannot spawn an empty (moved-from) QAyo::Task"));
}

void throwEmptyCallable(const char *operation, const char *argument)
{
    throw InvalidArgument(QStringLiteral("%1: the %2 is empty (a null pointer or an empty function)")
                              .arg(QLatin1String(operation), QLatin1String(argument)));
}

} // namespace QAyo::detail
