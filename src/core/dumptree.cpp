// SPDX-License-Identifier: MIT
// QAyo::dumpTree(): the live tree of scopes and tasks, one line each, to qayo.tree.
#include <QAyo/scope.h>

#include "diagnostics_p.h"
#include "scope_p.h"

#include <QThread>

#include <cstdlib>
#include <iterator>
#include <memory>
#include <typeinfo>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define QAYO_HAVE_CXXABI 1
#endif

namespace QAyo {

namespace detail {

Q_LOGGING_CATEGORY(lcTree, "qayo.tree", QtInfoMsg)

ScopePrivate *TreeAccess::of(const Scope *scope) noexcept
{
    return scope->d.get();
}

QString readableTypeName(const std::type_info &type)
{
    const char *raw = type.name();
    QString name = QString::fromLatin1(raw);
#ifdef QAYO_HAVE_CXXABI
    int status = 0;
    std::unique_ptr<char, void (*)(void *)> demangled(abi::__cxa_demangle(raw, nullptr, nullptr, &status),
                                                       std::free);
    if (status == 0 && demangled)
        name = QString::fromLatin1(demangled.get());
#endif
    const qsizetype templateStart = name.indexOf(u'<');
    if (templateStart > 0)
        name.truncate(templateStart);
    const qsizetype lastColon = name.lastIndexOf(QLatin1String("::"));
    if (lastColon >= 0)
        name = name.mid(lastColon + 2);
    return name;
}

namespace {

//! "SleepAwaiter" for QAyo::detail::SleepAwaiter: what a task is suspended on, readable.
QString awaiterName(const CancelHook *hook)
{
    return readableTypeName(typeid(*hook));
}

QString scopeLine(const ScopePrivate *d)
{
    QString line = QStringLiteral("scope \"%1\"")
                       .arg(d->options.name.isEmpty() ? QStringLiteral("(unnamed)") : d->options.name);
    line += QStringLiteral(" running=%1 pending=%2").arg(d->m_running).arg(d->m_pending);
    if (d->m_heldSchedules > 0)
        line += QStringLiteral(" schedules=%1").arg(d->m_heldSchedules);
    if (d->m_finished)
        line += QStringLiteral(" finished");
    else if (d->m_joinRequested)
        line += QStringLiteral(" joining");
    if (d->m_timedOut)
        line += QStringLiteral(" timed-out");
    if (d->m_cancelled)
        line += QStringLiteral(" cancelled");
    return line;
}

void appendScope(const ScopePrivate *d, int depth, QStringList &lines);

void appendTask(const TaskRecord *r, int depth, QStringList &lines)
{
    lines.append(QString(depth * 2, u' ') + QStringLiteral("task ") + describeTaskState(r));
    for (const ScopePrivate *child = r->firstChildScope; child; child = child->nextSibling)
        appendScope(child, depth + 1, lines);
}

void appendScope(const ScopePrivate *d, int depth, QStringList &lines)
{
    lines.append(QString(depth * 2, u' ') + scopeLine(d));
    for (const TaskRecord *r = d->firstTask; r; r = r->nextInScope)
        appendTask(r, depth + 1, lines);
    for (const ScopePrivate *child = d->firstChild; child; child = child->nextSibling)
        appendScope(child, depth + 1, lines);
}

void collectUnfinished(const ScopePrivate *d, QStringList &out, int limit)
{
    for (const TaskRecord *r = d->firstTask; r && out.size() < limit; r = r->nextInScope) {
        out.append(describeTaskState(r));
        for (const ScopePrivate *child = r->firstChildScope; child; child = child->nextSibling)
            collectUnfinished(child, out, limit);
    }
    for (const ScopePrivate *child = d->firstChild; child && out.size() < limit; child = child->nextSibling)
        collectUnfinished(child, out, limit);
}

} // namespace

QString describeTaskState(const TaskRecord *r)
{
    QString state;
    const TaskRecord::Stage stage = r->stage.load(std::memory_order_relaxed);
    // The unstarted stages, in the enum's order.
    static const char *const queued[] = {"queued (on its way)", "queued (waiting for a slot)",
                                         "queued (waiting for its limiter)", "queued"};
    static_assert(std::size(queued) == std::size_t(TaskRecord::Stage::Running));
    switch (stage) {
    case TaskRecord::Stage::InTransit:
    case TaskRecord::Stage::WaitingForSlot:
    case TaskRecord::Stage::WaitingForLimiter:
    case TaskRecord::Stage::Ready:
        state = QString::fromLatin1(queued[std::size_t(stage)]);
        break;
    case TaskRecord::Stage::Running:
        if (r->hook && r->suspendedForeign)
            state = QStringLiteral("awaiting %1 (foreign)").arg(awaiterName(r->hook));
        else if (r->hook)
            state = QStringLiteral("awaiting %1").arg(awaiterName(r->hook));
        else if (r->suspendedForeign)
            state = QStringLiteral("awaiting (foreign)");
        else
            state = QStringLiteral("running");
        break;
    case TaskRecord::Stage::Done:
        state = QStringLiteral("done");
        break;
    }
    if (r->cancelRequested)
        state += QStringLiteral(", cancelled");
    if (r->shieldDepth > 0)
        state += QStringLiteral(", shielded");
    return QStringLiteral("\"%1\" %2").arg(r->displayName(), state);
}

QStringList unfinishedTasksBelow(const Scope *scope, int limit)
{
    QStringList out;
    if (scope)
        collectUnfinished(TreeAccess::of(scope), out, limit);
    return out;
}

} // namespace detail

QString treeText(const Scope *scope)
{
    QStringList lines;
    if (scope) {
        detail::ScopePrivate *d = detail::TreeAccess::of(scope);
        if (!d->isOnScopeThread()) {
            throw InvalidStateError(QStringLiteral("treeText: call it on the thread of scope %1 (its QObject thread)")
                                        .arg(d->options.name.isEmpty() ? QStringLiteral("(unnamed)") : d->options.name));
        }
        detail::appendScope(detail::TreeAccess::of(scope), 0, lines);
    } else {
        const QList<detail::ScopePrivate *> roots = detail::rootScopesOfThisThread();
        for (const detail::ScopePrivate *root : roots)
            detail::appendScope(root, 0, lines);
        if (lines.isEmpty())
            lines.append(QStringLiteral("(no scopes on this thread)"));
    }
    return lines.join(u'\n');
}

void Scope::dumpTree() const
{
    checkOnScopeThread("dumpTree");
    const QStringList lines = treeText(this).split(u'\n');
    for (const QString &line : lines)
        qCInfo(detail::lcTree).noquote() << line;
}

void dumpTree()
{
    const QStringList lines = treeText(nullptr).split(u'\n');
    for (const QString &line : lines)
        qCInfo(detail::lcTree).noquote() << line;
}

} // namespace QAyo
