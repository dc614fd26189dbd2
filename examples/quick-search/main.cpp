// SPDX-License-Identifier: MIT
// quick-search: a QML search field backed by slow C++ lookups in QAyo scopes (see Main.qml).
//
//   quick-search                          the window; type to search
//   quick-search --type TEXT [--grab PNG] types TEXT key by key (as a user would), waits for the
//                                         results, prints them, saves a PNG of the window if
//                                         asked, and quits (scripts/screenshot, scripts/demo)
#include "searchbackend.h"

#include <QAyo/QAyo>

#include <QCommandLineParser>
#include <QGuiApplication>
#include <QImage>
#include <QQmlApplicationEngine>
#include <QQuickWindow>
#include <QTest>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

//! Types \a text into \a window one key at a time, waits for its search to finish and for the
//! window to show it, then prints the matches and saves \a pngPath (if not empty).
QAyo::Task<void> typeAndGrab(QQuickWindow *window, SearchBackend *backend, QString text, QString pngPath)
{
    // Key events go to the focused field of the active window: make sure it is active (there
    // may be no window manager to do it, as under Xvfb).
    if (!window->isActive()) {
        window->requestActivate();
        co_await QAyo::signal(window, &QWindow::activeChanged);
    }
    for (const QChar c : text) {
        QTest::keyClick(window, c.toLatin1());
        co_await QAyo::sleep(120ms); // faster than the lookups: each key cancels the previous search
    }
    for (;;) {
        const auto [finishedText, count] = co_await QAyo::signal(backend, &SearchBackend::searchFinished);
        if (finishedText == text)
            break;
    }
    window->update();
    co_await QAyo::signal(window, &QQuickWindow::frameSwapped); // the results are on screen
    std::printf("searches started: %d, cancelled: %d\n", backend->started(), backend->cancelled());
    std::printf("matches for \"%s\": %s\n", qPrintable(text),
                qPrintable(window->property("results").toStringList().join(QStringLiteral(", "))));
    if (!pngPath.isEmpty()) {
        const QImage image = window->grabWindow();
        if (image.isNull() || !image.save(pngPath))
            throw QAyo::InvalidStateError(QStringLiteral("could not save the window to %1").arg(pngPath));
        std::printf("saved %s (%dx%d)\n", qPrintable(pngPath), image.width(), image.height());
    }
    std::fflush(stdout);
}

} // namespace

int main(int argc, char *argv[])
{
    QGuiApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption typeOption(QStringLiteral("type"), QStringLiteral("Type TEXT, print the results, quit."),
                                        QStringLiteral("TEXT"));
    const QCommandLineOption grabOption(QStringLiteral("grab"), QStringLiteral("With --type: save the window to PNG."),
                                        QStringLiteral("PNG"));
    parser.addOptions({typeOption, grabOption});
    parser.process(app);

    SearchBackend backend;
    qmlRegisterSingletonInstance("QuickSearch", 1, 0, "Backend", &backend);

    QQmlApplicationEngine engine;
#ifdef QAYO_QML_IMPORT_DIR
    engine.addImportPath(QStringLiteral(QAYO_QML_IMPORT_DIR)); // the module in the build tree
#endif
    engine.load(QUrl(QStringLiteral("qrc:/quick-search/Main.qml")));
    if (engine.rootObjects().isEmpty())
        return 1;
    auto *window = qobject_cast<QQuickWindow *>(engine.rootObjects().constFirst());

    if (!parser.isSet(typeOption))
        return app.exec();

    // The scripted run is a QAyo task too; a 20 s timeout keeps a broken run from hanging.
    QAyo::Scope script({.timeout = 20s, .timeoutThrows = true, .name = QStringLiteral("script")});
    int exitCode = 0;
    QObject::connect(&script, &QAyo::Scope::taskFailed, &app, [&](const QString &message) {
        std::fprintf(stderr, "quick-search: %s\n", qPrintable(message));
        exitCode = 1;
    });
    QObject::connect(&script, &QAyo::Scope::timedOut, &app, [&] {
        std::fprintf(stderr, "quick-search: no results within 20 s\n");
        exitCode = 1;
    });
    QObject::connect(&script, &QAyo::Scope::activeChanged, &app, [&] {
        if (!script.isActive())
            app.quit();
    });
    script.asap(typeAndGrab(window, &backend, parser.value(typeOption), parser.value(grabOption)));
    app.exec();
    return exitCode;
}
