// SPDX-License-Identifier: MIT
// ayo's HTTP example in Qt: a small HTTP server on 127.0.0.1 (no outside network) serves three
// pages, each after its own delay. The client fetches them with QNetworkAccessManager:
//
//   1. in a scope, all three at once: each size is printed as it arrives;
//   2. again with map() in a scope with a 400 ms timeout: the slowest page is cancelled, its
//      QNetworkReply aborted, and the server sees the client hang up.
//
// The server is written with QAyo too: one task accepts connections, one task per connection
// answers it.
#include <QAyo/Network>
#include <QAyo/QAyo>

#include <QElapsedTimer>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTextStream>

#include <memory>
#include <stdexcept>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);
QElapsedTimer sinceStart;

QTextStream &stamp()
{
    out << "[" << qSetFieldWidth(4) << sinceStart.elapsed() << qSetFieldWidth(0) << " ms] ";
    return out;
}

//! What the server serves: a path, how long it thinks before answering, how many bytes.
struct Page
{
    QString path;
    std::chrono::milliseconds delay;
    int size;
};
const QList<Page> pages = {
    {QStringLiteral("/small"), 50ms, 2 * 1024},
    {QStringLiteral("/medium"), 200ms, 64 * 1024},
    {QStringLiteral("/large"), 800ms, 512 * 1024},
};

//! Deletes a QObject on the next loop turn (safe inside its own signal handlers).
struct DeleteLater
{
    void operator()(QObject *object) const { object->deleteLater(); }
};

// --- the server ----------------------------------------------------------------------------

//! Answers one connection: reads the request, waits the page's delay, sends the page.
QAyo::Task<> answer(QTcpSocket *connection)
{
    std::unique_ptr<QTcpSocket, DeleteLater> socket(connection);
    QByteArray request;
    while (!request.contains("\r\n\r\n")) {
        if (co_await QAyo::readyRead(socket.get()) == 0)
            co_return; // the client closed before sending a request
        request += socket->readAll();
    }
    const QString path = QString::fromLatin1(request.split(' ').value(1));
    const auto page = std::find_if(pages.begin(), pages.end(), [&](const Page &p) { return p.path == path; });
    if (page == pages.end()) {
        socket->write("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    } else {
        // Think for the page's delay - unless the client hangs up first.
        auto hungUp = co_await QAyo::signal(socket.get(), &QTcpSocket::disconnected, page->delay);
        if (hungUp) {
            stamp() << "server: the client hung up on " << path << " before the answer\n";
            out.flush();
            co_return;
        }
        socket->write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                      "Content-Length: " + QByteArray::number(page->size) + "\r\n\r\n");
        socket->write(QByteArray(page->size, 'x'));
    }
    co_await QAyo::bytesWritten(socket.get());
    socket->disconnectFromHost();
}

//! Accepts connections for good; each one is answered by a task of \a connections.
QAyo::Task<> serve(QTcpServer *server, QAyo::Scope *connections)
{
    for (;;) {
        while (server->hasPendingConnections())
            *connections << answer(server->nextPendingConnection());
        co_await QAyo::signal(server, &QTcpServer::newConnection);
    }
}

// --- the client ----------------------------------------------------------------------------

//! Fetches \a path; returns the size of the body. A cancel aborts the reply (QAyo::reply does).
QAyo::Task<qint64> fetch(QNetworkAccessManager *manager, QUrl base, QString path)
{
    std::unique_ptr<QNetworkReply, DeleteLater> reply(manager->get(QNetworkRequest(base.resolved(QUrl(path)))));
    try {
        co_await QAyo::reply(reply.get());
    } catch (const QAyo::Cancelled &) {
        stamp() << "client: " << path << " cancelled; its reply was "
                << (reply->error() == QNetworkReply::OperationCanceledError ? "aborted" : "NOT aborted")
                << " (" << reply->errorString() << ")\n";
        out.flush();
        throw; // always let the cancellation go on
    }
    if (reply->error() != QNetworkReply::NoError)
        throw std::runtime_error(qPrintable(path + QStringLiteral(": ") + reply->errorString()));
    const qint64 size = reply->readAll().size();
    stamp() << "client: " << path << " " << size << " bytes\n";
    out.flush();
    co_return size;
}

QAyo::Task<> client(QNetworkAccessManager *manager, QUrl base)
{
    QStringList paths;
    for (const Page &page : pages)
        paths << page.path;
    const auto fetchPath = [manager, base](const QString &path) { return fetch(manager, base, path); };

    stamp() << "1. fetching " << paths.join(QStringLiteral(", ")) << " at once\n";
    out.flush();
    QElapsedTimer took;
    took.start();
    co_await QAyo::scope([&](QAyo::Scope &run) {
        for (const QString &path : paths)
            run.asap(fetchPath, path);
    });
    stamp() << "   all three in " << took.elapsed() << " ms (the slowest alone takes 800)\n";

    stamp() << "2. the same with map() and a 400 ms timeout\n";
    out.flush();
    QList<qint64> sizes;
    auto outcome = co_await QAyo::scope({.timeout = 400ms}, [&](QAyo::Scope &run) -> QAyo::Task<> {
        sizes = co_await run.map(fetchPath, paths); // in input order
    });
    if (outcome.timedOut) {
        stamp() << "   timed out: " << outcome.results.size() << " of " << paths.size()
                << " pages arrived in time (sizes";
        for (const QVariant &size : outcome.results)
            out << " " << size.toLongLong();
        out << "), the slowest was cancelled\n";
    } else {
        stamp() << "   every page arrived in time\n";
    }
    out.flush();
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        sinceStart.start();
        QTcpServer server;
        if (!server.listen(QHostAddress::LocalHost))
            throw std::runtime_error(qPrintable(QStringLiteral("listen: ") + server.errorString()));
        const QUrl base(QStringLiteral("http://127.0.0.1:%1/").arg(server.serverPort()));
        stamp() << "server: listening on " << base.toString() << "\n";

        QNetworkAccessManager manager;
        manager.setProxy(QNetworkProxy::NoProxy); // 127.0.0.1 directly, whatever the environment says

        co_await QAyo::scope([&](QAyo::Scope &serverScope) -> QAyo::Task<> {
            auto accepting = serverScope.asap(serve(&server, &serverScope));
            co_await client(&manager, base);
            // Stop accepting; the scope still waits for the connections being answered.
            accepting.cancel();
        });
        stamp() << "done: the server's scope has ended, every connection is closed\n";
        out.flush();
    });
}
