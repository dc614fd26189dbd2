// SPDX-License-Identifier: MIT
// The C++ side of quick-search: a "slow index" of Qt class names. Each search is a QAyo task in
// the Scope QML passes in; QML gets the matches through QCoro::QmlTask::then().
#pragma once

#include <QAyo/QAyo>
#include <QAyo/Qml>

#include <QObject>
#include <QStringList>

class SearchBackend : public QObject
{
    Q_OBJECT
    //! Searches started so far.
    Q_PROPERTY(int started READ started NOTIFY statisticsChanged)
    //! Searches that ended cancelled (a newer keystroke, the scope's timeout or destruction).
    Q_PROPERTY(int cancelled READ cancelled NOTIFY statisticsChanged)

public:
    int started() const { return m_started; }
    int cancelled() const { return m_cancelled; }

    //! The class names containing \a text; takes a while (QAyo::sleep stands in for the index
    //! server). Runs in \a scope: cancelling or destroying the scope ends it.
    Q_INVOKABLE QCoro::QmlTask search(const QString &text, QAyo::Scope *scope)
    {
        return QAyo::Qml::spawn(scope, lookUp(text));
    }

Q_SIGNALS:
    void statisticsChanged();
    //! A search returned \a count matches for \a text (for the screenshot mode).
    void searchFinished(const QString &text, int count);

private:
    struct CancelCounter;
    QAyo::Task<QStringList> lookUp(QString text);

    int m_started = 0;
    int m_cancelled = 0;
};
