// SPDX-License-Identifier: MIT
// A local echo server started with scope.start(): the server task listens on 127.0.0.1 (port 0,
// the system picks one), hands its port back through Started<quint16>, and keeps serving in the
// same scope. Three clients talk to it at once (QAyo::gather); a Limiter lets the server serve
// at most two connections at a time, so the third waits its turn. Then the scope is cancelled:
// the server and its connections unwind and print their cleanup.
#include <QAyo/Network>
#include <QAyo/QAyo>

#include <QTcpServer>
#include <QTcpSocket>
#include <QTextStream>

#include <memory>
#include <stdexcept>

using namespace std::chrono_literals;

namespace {
QTextStream out(stdout);

void say(const QString &line)
{
    out << line << "\n";
    out.flush();
}

//! Says \a line when it goes out of scope: shows cleanup running on cancellation.
struct SayOnExit
{
    QString line;
    ~SayOnExit() { say(line); }
};

//! Echoes every line the peer sends, prefixed, until the peer closes the connection.
QAyo::Task<> serveConnection(std::shared_ptr<QTcpSocket> socket, int number)
{
    say(QStringLiteral("  server: serving connection %1").arg(number));
    SayOnExit bye{QStringLiteral("  server: connection %1 closed").arg(number)};
    while (co_await QAyo::readyRead(socket.get()) > 0) {
        while (socket->canReadLine())
            socket->write("echo: " + socket->readLine());
    }
}

//! Listens on 127.0.0.1, reports the port through \a started, then accepts connections and
//! serves each as a task of \a scope (at most \a limiter's capacity at once).
QAyo::Task<> serve(QAyo::Started<quint16> started, QAyo::Scope *scope, QAyo::Limiter *limiter)
{
    QTcpServer server;
    if (!server.listen(QHostAddress::LocalHost, 0))
        throw std::runtime_error("listen failed: " + server.errorString().toStdString());
    SayOnExit bye{QStringLiteral("server: stopped listening")};
    started.started(server.serverPort()); // the caller of start() goes on from here

    for (int number = 1;; ) {
        if (!server.hasPendingConnections())
            co_await QAyo::signal(&server, &QTcpServer::newConnection);
        while (QTcpSocket *socket = server.nextPendingConnection()) {
            socket->setParent(nullptr); // owned by its task, deleted on a later loop turn
            std::shared_ptr<QTcpSocket> owned(socket, [](QTcpSocket *s) { s->deleteLater(); });
            scope->asap(limiter, serveConnection, owned, number++);
        }
    }
}

//! Connects to the server, sends one line and returns the answer.
QAyo::Task<QString> client(quint16 port, int id)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    co_await QAyo::signal(&socket, &QTcpSocket::connected);
    socket.write(QStringLiteral("hello from client %1\n").arg(id).toUtf8());
    while (!socket.canReadLine()) {
        if (co_await QAyo::readyRead(&socket) == 0)
            throw std::runtime_error("the server closed the connection");
    }
    const QString answer = QString::fromUtf8(socket.readLine().trimmed());
    co_await QAyo::sleep(std::chrono::milliseconds(50 * id)); // keep the connection a moment
    co_return answer;
}
} // namespace

int main(int argc, char **argv)
{
    return QAyo::runAsMain(argc, argv, [](QAyo::Scope &) -> QAyo::Task<> {
        QAyo::Limiter connections(2);
        auto outcome = co_await QAyo::scope({.timeout = 10s, .timeoutThrows = true, .name = QStringLiteral("server-start")},
                                            [&](QAyo::Scope &run) -> QAyo::Task<> {
            const quint16 port = co_await run.start(serve, &run, &connections);
            say(QStringLiteral("server listening on 127.0.0.1:%1 (start() returned)").arg(port));

            auto [first, second, third] = co_await QAyo::gather(client(port, 1), client(port, 2), client(port, 3));
            say(QStringLiteral("client 1 got \"%1\"").arg(first));
            say(QStringLiteral("client 2 got \"%1\"").arg(second));
            say(QStringLiteral("client 3 got \"%1\"").arg(third));

            say(QStringLiteral("cancelling the scope"));
            run.cancel(); // the server and any connection left unwind
        });
        say(QStringLiteral("scope ended: cancelled=%1, timed out=%2, connection slots in use: %3")
                .arg(outcome.cancelled ? QStringLiteral("yes") : QStringLiteral("no"))
                .arg(outcome.timedOut ? QStringLiteral("yes") : QStringLiteral("no"))
                .arg(connections.borrowed()));
    });
}
