// SPDX-License-Identifier: MIT
#include "jscall_p.h"

#include <QAyo/qml.h>
#include <QAyo/signal.h>

namespace QAyo::Qml::detail {

void PromiseWatch::resolve(const QJSValue &value)
{
    if (m_settled)
        return;
    m_settled = true;
    m_value = value;
    Q_EMIT settled();
}

void PromiseWatch::reject(const QString &reason)
{
    if (m_settled)
        return;
    m_settled = true;
    m_rejected = true;
    m_reason = reason;
    Q_EMIT settled();
}

namespace {

// Evaluated per call: a few microseconds, and nothing cached that could outlive its engine.
const QString helperSource = QStringLiteral(R"JS(({
    describe: function (e) {
        var text = String(e);
        if (e !== null && typeof e === "object" && e.fileName !== undefined)
            text += " (" + String(e.fileName).split("/").pop() + ":" + e.lineNumber + ")";
        return text;
    },
    call: function (f) {
        var r;
        try {
            r = f();
        } catch (e) {
            return { threw: true, error: this.describe(e) };
        }
        var thenable = r !== null && (typeof r === "object" || typeof r === "function")
                && typeof r.then === "function";
        return { threw: false, thenable: thenable, value: r };
    },
    hook: function (p, watch) {
        var describe = this.describe;
        try {
            p.then(function (v) { watch.resolve(v); },
                   function (e) { watch.reject(describe(e)); });
        } catch (e) {
            watch.reject(describe(e));
        }
    }
}))JS");

//! What a callback (or its Promise) yields, for the scope's results. Objects, arrays and
//! functions stay JavaScript values: the reference keeps them alive and QML reads back the same
//! value. toVariant() would hold a QObject the engine owns as a raw pointer, which dangles once
//! the garbage collector deletes it. Primitives, dates and regular expressions become plain
//! QVariants (undefined an invalid one: no result).
QVariant resultOf(const QJSValue &value)
{
    if (value.isObject() && !value.isDate() && !value.isRegExp())
        return QVariant::fromValue(value);
    return value.toVariant();
}

} // namespace

Task<QVariant> runCallback(QPointer<QJSEngine> engine, QJSValue callback, QString what,
                           std::function<void()> onStart)
{
    if (onStart)
        onStart();
    if (!engine || !callback.isCallable())
        throw JavaScriptError(QStringLiteral("%1: the QML engine is gone").arg(what));

    QJSValue helpers = engine->evaluate(helperSource);
    QJSValue outcome = helpers.property(QStringLiteral("call")).callWithInstance(helpers, {callback});
    if (outcome.property(QStringLiteral("threw")).toBool())
        throw JavaScriptError(QStringLiteral("%1 threw %2").arg(what, outcome.property(QStringLiteral("error")).toString()));
    QJSValue value = outcome.property(QStringLiteral("value"));
    if (!outcome.property(QStringLiteral("thenable")).toBool())
        co_return resultOf(value);

    // The engine owns the watch (it is collected with the Promise); the frame keeps both alive
    // through these two QJSValues while it waits.
    QPointer<PromiseWatch> watch = new PromiseWatch;
    QJSValue watchValue = engine->newQObject(watch);
    helpers.property(QStringLiteral("hook")).callWithInstance(helpers, {value, watchValue});
    if (!watch->isSettled()) {
        try {
            co_await QAyo::signal(watch.data(), &PromiseWatch::settled);
        } catch (const ObjectDestroyedError &) {
        }
    }
    if (!watch)
        throw JavaScriptError(QStringLiteral("%1: the QML engine went away before its Promise settled").arg(what));
    if (watch->isRejected())
        throw JavaScriptError(QStringLiteral("%1: its Promise was rejected with %2").arg(what, watch->reason()));
    co_return resultOf(watch->value());
}

} // namespace QAyo::Qml::detail
