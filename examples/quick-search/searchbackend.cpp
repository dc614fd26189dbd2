// SPDX-License-Identifier: MIT
#include "searchbackend.h"

#include <chrono>

using namespace std::chrono_literals;

namespace {

const QStringList classNames = {
    QStringLiteral("QAbstractItemModel"), QStringLiteral("QAbstractListModel"), QStringLiteral("QAction"),
    QStringLiteral("QApplication"), QStringLiteral("QByteArray"), QStringLiteral("QCoreApplication"),
    QStringLiteral("QDateTime"), QStringLiteral("QDeadlineTimer"), QStringLiteral("QDir"),
    QStringLiteral("QElapsedTimer"), QStringLiteral("QEventLoop"), QStringLiteral("QFile"),
    QStringLiteral("QFileInfo"), QStringLiteral("QFuture"), QStringLiteral("QFutureWatcher"),
    QStringLiteral("QGuiApplication"), QStringLiteral("QHash"), QStringLiteral("QIODevice"),
    QStringLiteral("QJSEngine"), QStringLiteral("QJSValue"), QStringLiteral("QJsonDocument"),
    QStringLiteral("QJsonObject"), QStringLiteral("QList"), QStringLiteral("QLocalSocket"),
    QStringLiteral("QLoggingCategory"), QStringLiteral("QMap"), QStringLiteral("QMetaObject"),
    QStringLiteral("QMutex"), QStringLiteral("QNetworkAccessManager"), QStringLiteral("QNetworkReply"),
    QStringLiteral("QNetworkRequest"), QStringLiteral("QObject"), QStringLiteral("QPointer"),
    QStringLiteral("QProcess"), QStringLiteral("QPromise"), QStringLiteral("QQmlApplicationEngine"),
    QStringLiteral("QQmlComponent"), QStringLiteral("QQmlContext"), QStringLiteral("QQmlEngine"),
    QStringLiteral("QQuickItem"), QStringLiteral("QQuickView"), QStringLiteral("QQuickWindow"),
    QStringLiteral("QReadWriteLock"), QStringLiteral("QRegularExpression"), QStringLiteral("QRunnable"),
    QStringLiteral("QSemaphore"), QStringLiteral("QSettings"), QStringLiteral("QSharedPointer"),
    QStringLiteral("QSignalSpy"), QStringLiteral("QSocketNotifier"), QStringLiteral("QSqlDatabase"),
    QStringLiteral("QStandardPaths"), QStringLiteral("QString"), QStringLiteral("QStringList"),
    QStringLiteral("QTcpServer"), QStringLiteral("QTcpSocket"), QStringLiteral("QTemporaryFile"),
    QStringLiteral("QTextStream"), QStringLiteral("QThread"), QStringLiteral("QThreadPool"),
    QStringLiteral("QTimer"), QStringLiteral("QTimeZone"), QStringLiteral("QUdpSocket"),
    QStringLiteral("QUrl"), QStringLiteral("QUrlQuery"), QStringLiteral("QUuid"),
    QStringLiteral("QVariant"), QStringLiteral("QVariantAnimation"), QStringLiteral("QVector3D"),
    QStringLiteral("QWaitCondition"), QStringLiteral("QWebSocket"), QStringLiteral("QWindow"),
    QStringLiteral("QXmlStreamReader"), QStringLiteral("QXmlStreamWriter"),
};

} // namespace

//! Counts a search as cancelled unless it got to the end. A cancelled frame is destroyed while
//! its scope is being destroyed: the change is announced on a later loop turn, not from there.
struct SearchBackend::CancelCounter
{
    SearchBackend *backend;
    bool done = false;
    ~CancelCounter()
    {
        if (done)
            return;
        ++backend->m_cancelled;
        QMetaObject::invokeMethod(backend, &SearchBackend::statisticsChanged, Qt::QueuedConnection);
    }
};

QAyo::Task<QStringList> SearchBackend::lookUp(QString text)
{
    ++m_started;
    Q_EMIT statisticsChanged();
    CancelCounter counter{this};

    // The "index server" answers slowly: a keystroke arriving meanwhile cancels this search
    // (QML destroys its scope), and the sleep below ends at once.
    co_await QAyo::sleep(350ms);
    QStringList matches;
    for (const QString &name : classNames) {
        if (name.contains(text, Qt::CaseInsensitive))
            matches.append(name);
    }
    counter.done = true;
    Q_EMIT searchFinished(text, int(matches.size()));
    co_return matches;
}
