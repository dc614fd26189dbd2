// SPDX-License-Identifier: MIT
// The Quick test runner of the QML module: runs every tst_*.qml in this folder.
#include "testbackend.h"

#include <QQmlEngine>
#include <QtQuickTest>

class Setup : public QObject
{
    Q_OBJECT

public Q_SLOTS:
    //! The build tree's module folder on the import path, and the backend as singleton
    //! `Backend` of the module `QAyoTest`.
    void qmlEngineAvailable(QQmlEngine *engine)
    {
        engine->addImportPath(QStringLiteral(QAYO_QML_IMPORT_DIR));
        qmlRegisterSingletonInstance("QAyoTest", 1, 0, "Backend", &m_backend);
    }

private:
    TestBackend m_backend;
};

QUICK_TEST_MAIN_WITH_SETUP(tst_qml, Setup)

#include "tst_qml.moc"
