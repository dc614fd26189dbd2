// SPDX-License-Identifier: MIT
#pragma once

//! Umbrella header: everything of QAyo::Core.
#include <QAyo/cancellation.h>
#include <QAyo/clock.h>
#include <QAyo/errors.h>
#include <QAyo/gather.h>
#include <QAyo/handle.h>
#include <QAyo/limiter.h>
#include <QAyo/runner.h>
#include <QAyo/scope.h>
#include <QAyo/signal.h>
#include <QAyo/started.h>
#include <QAyo/task.h>
#include <QAyo/waits.h>
