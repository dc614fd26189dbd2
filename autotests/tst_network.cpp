// SPDX-License-Identifier: MIT
// QAyo::Network: QAyo::reply() and the socket overloads of readyRead()/bytesWritten(), against a
// QTcpServer on 127.0.0.1 that answers HTTP as slowly as the test wants (no outside network).
#include "helpers.h"

#include <QAyo/Network>
#include <QAyo/QAyo>
#include <QAyo/Test>

#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include <memory>
#include <optional>

using namespace std::chrono_literals;
using TestHelpers::LiveCounter;
using TestHelpers::receiversOf;

namespace {

//! An HTTP server on 127.0.0.1 that answers every request with "hello" after `delay`, or never
//! when delay is unset. Counts the connections that are still open.
class SlowHttpServer : public QObject
{
    Q_OBJECT
public:
    explicit SlowHttpServer(std::optional<std::chrono::milliseconds> delay) : m_delay(delay)
    {
        m_server.listen(QHostAddress::LocalHost);
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection())
                serve(socket);
        });
    }
    QUrl url() const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1/").arg(m_server.serverPort()));
    }
    int openConnections() const { return m_open; }
    int requestsReceived() const { return m_requests; }

private:
    void serve(QTcpSocket *socket)
    {
        ++m_open;
        connect(socket, &QTcpSocket::disconnected, this, [this, socket] {
            --m_open;
            socket->deleteLater();
        });
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] {
            QByteArray &request = m_pending[socket];
            request += socket->readAll();
            if (!request.contains("\r\n\r\n"))
                return;
            request.clear();
            ++m_requests;
            if (!m_delay)
                return; // never answers
            QTimer::singleShot(*m_delay, socket, [socket] {
                socket->write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n"
                              "\r\nhello");
                socket->disconnectFromHost();
            });
        });
    }

    QTcpServer m_server;
    std::optional<std::chrono::milliseconds> m_delay;
    QHash<QTcpSocket *, QByteArray> m_pending;
    int m_open = 0;
    int m_requests = 0;
};

//! A connected pair of sockets on 127.0.0.1: the test's client and the server side.
struct SocketPair
{
    QTcpServer server;
    QTcpSocket client;
    QPointer<QTcpSocket> peer;

    bool connect()
    {
        if (!server.listen(QHostAddress::LocalHost))
            return false;
        client.connectToHost(QHostAddress::LocalHost, server.serverPort());
        if (!server.waitForNewConnection(5000) || !client.waitForConnected(5000))
            return false;
        peer = server.nextPendingConnection();
        return peer != nullptr;
    }
};

QNetworkReply *get(QNetworkAccessManager &manager, const QUrl &url)
{
    return manager.get(QNetworkRequest(url));
}

} // namespace

class NetworkTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QNetworkProxy::setApplicationProxy(QNetworkProxy::NoProxy); // 127.0.0.1 only
    }

    // --- QNetworkReply ---------------------------------------------------------------------

    void replyCompletes()
    {
        SlowHttpServer server(10ms);
        QNetworkAccessManager manager;
        QNetworkReply *reply = get(manager, server.url());
        const int baseline = receiversOf(reply, SIGNAL(finished()));
        QByteArray body;
        auto task = [&]() -> QAyo::Task<QNetworkReply::NetworkError> {
            QNetworkReply *done = co_await QAyo::reply(reply);
            body = done->readAll();
            co_return done->error();
        };
        QCOMPARE(QAyo::Test::run(task()), QNetworkReply::NoError);
        QCOMPARE(body, QByteArray("hello"));
        QCOMPARE(receiversOf(reply, SIGNAL(finished())), baseline);
        delete reply;
    }

    void finishedReplyReturnsAtOnce()
    {
        SlowHttpServer server(0ms);
        QNetworkAccessManager manager;
        std::unique_ptr<QNetworkReply> reply(get(manager, server.url()));
        QTRY_VERIFY(reply->isFinished());
        auto task = [&]() -> QAyo::Task<QNetworkReply *> {
            co_return co_await QAyo::reply(reply.get());
        };
        QCOMPARE(QAyo::Test::run(task()), reply.get());
    }

    void cancelAbortsTheReplyAtOnce()
    {
        SlowHttpServer server(std::nullopt); // never answers
        QNetworkAccessManager manager;
        std::unique_ptr<QNetworkReply> reply(get(manager, server.url()));
        const int baseline = receiversOf(reply.get(), SIGNAL(finished()));
        QAyo::Scope scope;
        bool cancelled = false;
        bool finishedWhenCancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::reply(reply.get());
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                finishedWhenCancelled = reply->isFinished();
                throw;
            }
        });
        QTRY_COMPARE(server.requestsReceived(), 1);
        QCOMPARE(receiversOf(reply.get(), SIGNAL(finished())), baseline + 1);
        scope.cancel();
        QTRY_VERIFY(cancelled);
        QVERIFY(finishedWhenCancelled); // aborted before Cancelled went on
        QCOMPARE(reply->error(), QNetworkReply::OperationCanceledError);
        QCOMPARE(receiversOf(reply.get(), SIGNAL(finished())), baseline);
        QTRY_COMPARE(server.openConnections(), 0); // the connection went too
        QTRY_COMPARE(scope.runningCount(), 0);
    }

    void replyWaitDestroyedWithItsScopeAbortsTheReply()
    {
        SlowHttpServer server(std::nullopt);
        QNetworkAccessManager manager;
        std::unique_ptr<QNetworkReply> reply(get(manager, server.url()));
        bool destroying = false;
        std::optional<bool> finishedDuringDestruction;
        connect(reply.get(), &QNetworkReply::finished, this,
                [&] { finishedDuringDestruction = destroying; });
        int live = 0;
        auto scope = std::make_unique<QAyo::Scope>();
        scope->asap([&]() -> QAyo::Task<> {
            LiveCounter counter(&live);
            co_await QAyo::reply(reply.get());
        });
        QTRY_COMPARE(server.requestsReceived(), 1);
        QCOMPARE(live, 1);
        destroying = true;
        scope.reset();
        destroying = false;
        QCOMPARE(live, 0);
        QTRY_VERIFY(reply->isFinished());
        QCOMPARE(reply->error(), QNetworkReply::OperationCanceledError);
        QCOMPARE(finishedDuringDestruction, std::optional<bool>(false)); // not inside ~Scope
        QTRY_COMPARE(server.openConnections(), 0);
    }

    void replyTimeoutAbortsTheReply()
    {
        SlowHttpServer server(std::nullopt);
        QNetworkAccessManager manager;
        std::unique_ptr<QNetworkReply> reply(get(manager, server.url()));
        auto task = [&]() -> QAyo::Task<bool> {
            auto done = co_await QAyo::withTimeoutOr(50ms, QAyo::reply(reply.get()));
            co_return done.has_value();
        };
        QCOMPARE(QAyo::Test::run(task()), false);
        QVERIFY(reply->isFinished());
        QCOMPARE(reply->error(), QNetworkReply::OperationCanceledError);
    }

    void replyDeletedWhileWaitingIsAnError()
    {
        SlowHttpServer server(std::nullopt);
        QNetworkAccessManager manager;
        QNetworkReply *reply = get(manager, server.url());
        QTimer::singleShot(20ms, reply, [reply] { delete reply; });
        QString message;
        auto task = [&]() -> QAyo::Task<> {
            try {
                co_await QAyo::reply(reply);
            } catch (const QAyo::ObjectDestroyedError &e) {
                message = e.message();
            }
        };
        QAyo::Test::run(task());
        QVERIFY2(message.startsWith(QStringLiteral("reply:")), qPrintable(message));
    }

    void nullReplyIsRejected()
    {
        QString message;
        try {
            auto task = QAyo::reply(nullptr);
        } catch (const QAyo::InvalidArgument &e) {
            message = e.message();
        }
        QCOMPARE(message, QStringLiteral("reply: reply is null"));
    }

    // --- sockets ---------------------------------------------------------------------------

    void socketReadyReadUntilThePeerCloses()
    {
        SocketPair pair;
        QVERIFY(pair.connect());
        QTimer::singleShot(5ms, pair.peer, [&] { pair.peer->write("hello"); });
        QTimer::singleShot(30ms, pair.peer, [&] { pair.peer->disconnectFromHost(); });
        QByteArray received;
        qint64 afterClose = -1;
        auto task = [&]() -> QAyo::Task<> {
            while (co_await QAyo::readyRead(&pair.client) > 0)
                received += pair.client.readAll();
            afterClose = co_await QAyo::readyRead(&pair.client); // unconnected: 0 at once
        };
        QAyo::Test::run(task());
        QCOMPARE(received, QByteArray("hello"));
        QCOMPARE(afterClose, qint64(0));
        QCOMPARE(receiversOf(&pair.client, SIGNAL(readyRead())), 0);
        QCOMPARE(receiversOf(&pair.client, SIGNAL(stateChanged(QAbstractSocket::SocketState))), 0);
    }

    void cancelWhileWaitingOnASocketDisconnects()
    {
        SocketPair pair;
        QVERIFY(pair.connect());
        QAyo::Scope scope;
        bool cancelled = false;
        scope.asap([&]() -> QAyo::Task<> {
            try {
                co_await QAyo::readyRead(&pair.client);
            } catch (const QAyo::Cancelled &) {
                cancelled = true;
                throw;
            }
        });
        QTRY_COMPARE(scope.runningCount(), 1);
        QCOMPARE(receiversOf(&pair.client, SIGNAL(readyRead())), 1);
        scope.cancel();
        QTRY_VERIFY(cancelled);
        QCOMPARE(receiversOf(&pair.client, SIGNAL(readyRead())), 0);
        QCOMPARE(receiversOf(&pair.client, SIGNAL(stateChanged(QAbstractSocket::SocketState))), 0);
        QCOMPARE(receiversOf(&pair.client, SIGNAL(destroyed(QObject *))), 0);
    }

    void socketBytesWritten()
    {
        SocketPair pair;
        QVERIFY(pair.connect());
        const QByteArray payload(8 << 20, 'x'); // more than the loopback buffers hold
        qint64 received = 0;
        connect(pair.peer, &QTcpSocket::readyRead, this,
                [&] { received += pair.peer->readAll().size(); });
        auto task = [&]() -> QAyo::Task<bool> {
            pair.client.write(payload);
            co_return co_await QAyo::bytesWritten(&pair.client);
        };
        QVERIFY(QAyo::Test::run(task(), 30s));
        QCOMPARE(pair.client.bytesToWrite(), qint64(0));
        QTRY_COMPARE(received, qint64(payload.size()));
    }

    void socketBytesWrittenIsFalseWhenTheConnectionDrops()
    {
        SocketPair pair;
        QVERIFY(pair.connect());
        pair.peer->setReadBufferSize(1024); // the peer stops reading: most of the data stays queued
        const QByteArray payload(64 << 20, 'x');
        QTimer::singleShot(50ms, pair.peer, [&] { pair.peer->abort(); });
        auto task = [&]() -> QAyo::Task<bool> {
            pair.client.write(payload);
            co_return co_await QAyo::bytesWritten(&pair.client);
        };
        QCOMPARE(QAyo::Test::run(task(), 30s), false);
        QCOMPARE(pair.client.state(), QAbstractSocket::UnconnectedState);
    }
};

QTEST_GUILESS_MAIN(NetworkTest)
#include "tst_network.moc"
