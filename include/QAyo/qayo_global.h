// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/qglobal.h>

//! Export macro of the QAyo::Core library.
#if defined(QAYO_CORE_LIBRARY)
#define QAYO_CORE_EXPORT Q_DECL_EXPORT
#else
#define QAYO_CORE_EXPORT Q_DECL_IMPORT
#endif

//! Export macro of the QAyo::Test library.
#if defined(QAYO_TEST_LIBRARY)
#define QAYO_TEST_EXPORT Q_DECL_EXPORT
#else
#define QAYO_TEST_EXPORT Q_DECL_IMPORT
#endif
