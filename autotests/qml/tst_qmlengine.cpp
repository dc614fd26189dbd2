// SPDX-License-Identifier: MIT
// The QML engine going away under running work: no then() into a dead engine, no task left
// running, no frame leaked, no warning (a C++ test: the engine cannot destroy itself from QML).
#include "testbackend.h"

#include <QAyo/Test>

#include <QQmlComponent>
#include <QQmlContext>
#include <QQmlEngine>
#include <QTest>

#include <memory>

using namespace std::chrono_literals;

namespace {
QAyo::Task<int> slowValue()
{
    co_await QAyo::sleep(10ms);
    co_return 1;
}
} // namespace

class tst_QmlEngine : public QObject
{
    Q_OBJECT

private:
    TestBackend m_backend;

    //! A QML Scope created by \a engine from \a body (inside `Scope { ... }`); the caller owns it.
    std::unique_ptr<QAyo::Scope> makeScope(QQmlEngine &engine, const QByteArray &body)
    {
        QQmlComponent component(&engine);
        component.setData("import QtQml\nimport QAyo\nScope {\n" + body + "\n}", QUrl(QStringLiteral("inline.qml")));
        std::unique_ptr<QObject> object(component.create());
        if (!object) {
            qWarning() << component.errorString();
            return {};
        }
        QQmlEngine::setObjectOwnership(object.get(), QQmlEngine::CppOwnership);
        auto *scope = qobject_cast<QAyo::Scope *>(object.get());
        if (scope)
            object.release();
        return std::unique_ptr<QAyo::Scope>(scope);
    }

    std::unique_ptr<QQmlEngine> makeEngine()
    {
        auto engine = std::make_unique<QQmlEngine>();
        engine->addImportPath(QStringLiteral(QAYO_QML_IMPORT_DIR));
        // A context property, not a singleton instance: each test makes an engine of its own.
        engine->rootContext()->setContextProperty(QStringLiteral("Backend"), &m_backend);
        return engine;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QTest::failOnWarning(QRegularExpression(QStringLiteral(".?")));
    }

    void init() { QTest::failOnWarning(QRegularExpression(QStringLiteral(".?"))); }

    void cleanup()
    {
        QTRY_COMPARE_WITH_TIMEOUT(m_backend.running(), 0, 5000);
        QAYO_VERIFY_NO_TASKS_LEFT();
    }

    //! The scope outlives its engine; the backend task finishes afterwards: then() is not called.
    void backendResultAfterTheEngineIsGone()
    {
        auto engine = makeEngine();
        auto scope = makeScope(*engine, "Component.onCompleted: Backend.echo('late', 300, this).then(r => Backend.countThen())");
        QVERIFY(scope);
        QTRY_COMPARE(m_backend.running(), 1);
        const int finishedBefore = m_backend.finished();
        engine.reset();
        QTRY_COMPARE_WITH_TIMEOUT(m_backend.finished(), finishedBefore + 1, 5000);
        QTRY_COMPARE(m_backend.running(), 0);
        // One more loop turn for the QmlTask's continuation (it resumes from the ready queue).
        bool marker = false;
        scope->asap([&marker] { marker = true; });
        QTRY_VERIFY(marker);
        QCOMPARE(m_backend.thenCalls(), 0);
        QCOMPARE(scope->errorMessages(), QStringList());
    }

    //! The engine and the scope go together while a backend task awaits: the task ends.
    void engineAndScopeDestroyedMidTask()
    {
        auto engine = makeEngine();
        QQmlComponent component(engine.get());
        component.setData("import QtQml\nimport QAyo\nQtObject {\n"
                          "    property Scope scope: Scope {}\n"
                          "    Component.onCompleted: Backend.echo('x', 60000, scope).then(r => Backend.countThen())\n"
                          "}",
                          QUrl(QStringLiteral("inline.qml")));
        QObject *root = component.create(); // ours to delete
        QVERIFY2(root, qPrintable(component.errorString()));
        QTRY_COMPARE(m_backend.running(), 1);
        delete root;
        engine.reset();
        QTRY_COMPARE(m_backend.running(), 0);
        QCOMPARE(m_backend.thenCalls(), 0);
    }

    //! A JavaScript Promise that can no longer settle because its engine is gone is an error.
    void pendingPromiseWhenTheEngineGoes()
    {
        auto engine = makeEngine();
        auto scope = makeScope(*engine, "name: 'orphan'\n"
                                        "onTaskFailed: {}\n"
                                        "Component.onCompleted: asap(() => new Promise(() => {}))");
        QVERIFY(scope);
        QTRY_COMPARE(scope->runningCount(), 1);
        engine.reset();
        QTRY_COMPARE(scope->runningCount(), 0);
        QCOMPARE(scope->errorMessages(),
                 QStringList(QStringLiteral("Scope.asap callback: the QML engine went away before its Promise settled")));
    }

    //! JavaScript objects in the results (kept as JavaScript values) outlive their engine safely.
    void objectResultsOutliveTheEngine()
    {
        auto engine = makeEngine();
        auto scope = makeScope(*engine, "Component.onCompleted: { asap(() => ({ answer: 42 })); "
                                        "asap(() => Qt.createQmlObject('import QtQml; QtObject {}', this)) }");
        QVERIFY(scope);
        QTRY_VERIFY(!scope->isActive());
        QCOMPARE(scope->results().size(), 2);
        QCOMPARE(scope->results().at(0).value<QJSValue>().property(QStringLiteral("answer")).toInt(), 42);
        QVERIFY(scope->results().at(1).value<QJSValue>().isQObject());
        engine.reset();
        QCOMPARE(scope->results().size(), 2);
        scope.reset(); // the JavaScript values die after their engine
    }

    //! A callback whose engine is gone by the time it is due fails cleanly.
    void callbackDueAfterTheEngineIsGone()
    {
        auto engine = makeEngine();
        auto scope = makeScope(*engine, "onTaskFailed: {}\n"
                                        "Component.onCompleted: after(20, () => Backend.countThen())");
        QVERIFY(scope);
        QVERIFY(scope->isActive());
        engine.reset();
        QTRY_VERIFY(!scope->isActive());
        QCOMPARE(m_backend.thenCalls(), 0);
        QCOMPARE(scope->errorMessages(), QStringList(QStringLiteral("Scope.after callback: the QML engine is gone")));
    }

    //! A Scope declared as a property of a Scope (QML sets the parent after construction) is
    //! its child, as in C++: parentScope() and the tree show it.
    void declaredScopeIsNestedInItsParentScope()
    {
        auto engine = makeEngine();
        auto scope = makeScope(*engine, "name: 'outer'\nproperty Scope inner: Scope { name: 'inner' }");
        QVERIFY(scope);
        auto *inner = scope->property("inner").value<QAyo::Scope *>();
        QVERIFY(inner);
        QCOMPARE(inner->parent(), scope.get());
        QCOMPARE(inner->parentScope(), scope.get());
    }

    //! QAyo::Qml::spawn() called from C++ (no JavaScript running) into a closed QML scope throws
    //! the C++ error and leaves nothing pending in the engine for an unrelated later call.
    void spawnFromCppIntoAClosedScopeThrows()
    {
        auto engine = makeEngine();
        auto scope = makeScope(*engine, "name: 'done'");
        QVERIFY(scope);
        QAYO_TEST_JOIN(*scope);
        QString error;
        try {
            QCoro::QmlTask task = QAyo::Qml::spawn(scope.get(), slowValue());
            Q_UNUSED(task);
        } catch (const QAyo::ScopeClosedError &e) {
            error = e.message();
        }
        QVERIFY2(error.contains(QStringLiteral("done")), qPrintable(error));
        QVERIFY_THROWS_EXCEPTION(QAyo::ScopeClosedError,
                                 QAyo::Qml::spawn(scope.get(), [] { return 1; }));
        QVERIFY(!engine->hasError());
        const QJSValue unrelated = engine->evaluate(QStringLiteral("1 + 1"));
        QVERIFY2(!unrelated.isError(), qPrintable(unrelated.toString()));
        QCOMPARE(unrelated.toInt(), 2);
    }

    //! The same spawn made by a backend that QML calls still throws a JavaScript error there.
    void spawnFromJsIntoAClosedScopeThrowsInJs()
    {
        auto engine = makeEngine();
        auto scope = makeScope(*engine, "name: 'done'\n"
                                        "property string caught\n"
                                        "id: self\n"
                                        "function tryEcho() { try { Backend.echo('x', 10, self) } "
                                        "catch (e) { caught = String(e) } }");
        QVERIFY(scope);
        QAYO_TEST_JOIN(*scope);
        QMetaObject::invokeMethod(scope.get(), "tryEcho");
        QCOMPARE(scope->property("caught").toString(), QStringLiteral("Error: asap: scope done has finished (it was joined)"));
        QVERIFY(!engine->hasError());
    }
};

QTEST_MAIN(tst_QmlEngine)

#include "tst_qmlengine.moc"
