// SPDX-License-Identifier: MIT
// Scope as a QML type: properties, signals, JavaScript callbacks, Promise tracking, errors.
import QtQuick
import QtTest
import QAyo

TestCase {
    id: testCase
    name: "Scope"

    Component {
        id: scopeComponent
        Scope {}
    }

    Component {
        id: spyComponent
        SignalSpy {}
    }

    function makeScope(properties) {
        return createTemporaryObject(scopeComponent, testCase, properties || {})
    }

    function spy(target, signalName) {
        return createTemporaryObject(spyComponent, testCase, { target: target, signalName: signalName })
    }

    function init() {
        failOnWarning(/.?/) // every warning not announced with ignoreWarning() fails the test
    }

    function test_defaults() {
        const scope = makeScope()
        compare(scope.maxConcurrency, 0)
        compare(scope.timeout, 0)
        compare(scope.timeoutThrows, false)
        compare(scope.supervise, false)
        compare(scope.name, "")
        compare(scope.running, 0)
        compare(scope.pending, 0)
        compare(scope.active, false)
        compare(scope.cancelled, false)
        compare(scope.timedOut, false)
        compare(scope.results, [])
        compare(scope.errors, [])
    }

    function test_propertiesAreWritableAndNotify() {
        const scope = makeScope()
        const spies = [spy(scope, "maxConcurrencyChanged"), spy(scope, "timeoutChanged"),
                       spy(scope, "timeoutThrowsChanged"), spy(scope, "superviseChanged"),
                       spy(scope, "nameChanged")]
        scope.maxConcurrency = 3
        scope.timeout = 250
        scope.timeoutThrows = true
        scope.supervise = true
        scope.name = "search"
        compare(scope.maxConcurrency, 3)
        compare(scope.timeout, 250)
        compare(scope.timeoutThrows, true)
        compare(scope.supervise, true)
        compare(scope.name, "search")
        for (const s of spies)
            compare(s.count, 1, s.signalName)
        scope.timeout = 0
        compare(scope.timeout, 0, "0 means no timeout")
    }

    function test_badPropertyValuesWarnAndAreIgnored() {
        const scope = makeScope({ maxConcurrency: 2, timeout: 100 })
        ignoreWarning(/maxConcurrency must be >= 0 \(0 = unlimited\), got -1; ignored/)
        scope.maxConcurrency = -1
        compare(scope.maxConcurrency, 2)
        ignoreWarning(/timeout must not be negative \(0 = no timeout\), got -5 ms; ignored/)
        scope.timeout = -5
        compare(scope.timeout, 100)
    }

    function test_timeoutIsFixedOnceTheScopeStarted() {
        const scope = makeScope({ timeout: 5000 })
        scope.asap(() => {})
        ignoreWarning(/has started; its timeout is armed already; the timeout stays 5000 ms/)
        scope.timeout = 10
        compare(scope.timeout, 5000)
    }

    function test_asapRunsOnALaterTurnAndKeepsTheResult() {
        const scope = makeScope()
        const started = spy(scope, "taskStarted")
        const finished = spy(scope, "taskFinished")
        let calls = 0
        scope.asap(() => { ++calls; return "first" })
        scope.asap(() => { ++calls })               // undefined: no result
        scope.asap(() => ({ answer: 42 }))
        compare(calls, 0, "nothing runs inside asap()")
        compare(scope.pending, 3)
        verify(scope.active)
        tryCompare(scope, "active", false)
        compare(calls, 2)
        compare(started.count, 3)
        compare(finished.count, 3)
        compare(scope.results.length, 2)
        compare(scope.results[0], "first")
        compare(scope.results[1].answer, 42)
        verify(!scope.cancelled)
    }

    Component {
        id: resultObjectComponent
        QtObject { property int answer: 42 }
    }

    // An object a callback returns is owned by JavaScript: the results must keep it alive (a
    // raw QObject pointer in them would dangle once the garbage collector deleted it).
    function test_objectResultsStayAlive() {
        const scope = makeScope()
        let resolvePromise
        scope.asap(() => resultObjectComponent.createObject(null))
        scope.asap(() => new Promise(resolve => { resolvePromise = resolve }))
        tryVerify(() => resolvePromise !== undefined)
        resolvePromise([resultObjectComponent.createObject(null)])
        tryCompare(scope, "active", false)
        for (let i = 0; i < 3; ++i) {
            gc()
            wait(0) // deferred deletes
        }
        compare(scope.results.length, 2)
        verify(scope.results[0] !== null, "the object was collected under the results")
        compare(scope.results[0].answer, 42)
        compare(scope.results[1][0].answer, 42)
    }

    function test_maxConcurrencyLimitsPromises() {
        const scope = makeScope({ maxConcurrency: 1 })
        const resolvers = []
        for (let i = 0; i < 3; ++i)
            scope.asap(() => new Promise(resolve => resolvers.push(resolve)))
        tryCompare(resolvers, "length", 1)
        compare(scope.running, 1)
        compare(scope.pending, 2)
        resolvers[0]("a")
        tryCompare(resolvers, "length", 2)
        compare(scope.running, 1)
        resolvers[1]("b")
        tryCompare(resolvers, "length", 3)
        resolvers[2]("c")
        tryCompare(scope, "active", false)
        compare(scope.results, ["a", "b", "c"])
    }

    function test_promiseIsTrackedUntilResolved() {
        const scope = makeScope()
        let resolvePromise
        scope.asap(() => new Promise(resolve => { resolvePromise = resolve }))
        tryVerify(() => resolvePromise !== undefined)
        compare(scope.running, 1, "the task waits for its Promise")
        verify(scope.active)
        resolvePromise("done")
        tryCompare(scope, "active", false)
        compare(scope.results, ["done"])
        compare(scope.errors, [])
    }

    function test_rejectedPromiseIsATaskError() {
        const scope = makeScope()
        const failed = spy(scope, "taskFailed")
        const cancelling = spy(scope, "cancelling")
        let rejectPromise
        let siblingRan = false
        scope.asap(() => new Promise((resolve, reject) => { rejectPromise = reject }))
        scope.asap(() => new Promise(() => {}))   // never settles: cancelled by the error
        tryVerify(() => rejectPromise !== undefined)
        tryCompare(scope, "running", 2)
        rejectPromise(new Error("no luck"))
        tryCompare(scope, "active", false)
        compare(failed.count, 1)
        verify(/Promise was rejected with Error: no luck/.test(failed.signalArguments[0][0]),
               failed.signalArguments[0][0])
        compare(cancelling.count, 1, "an error cancels the siblings")
        verify(scope.cancelled)
        compare(scope.errors.length, 1)
    }

    function test_throwingCallbackIsATaskError() {
        const scope = makeScope({ name: "thrower" })
        const failed = spy(scope, "taskFailed")
        scope.asap(() => { throw new Error("boom") })
        tryCompare(failed, "count", 1)
        verify(scope.cancelled)
        compare(scope.errors.length, 1)
        verify(/threw Error: boom/.test(scope.errors[0]), scope.errors[0])
    }

    function test_throwingANonErrorIsStillAnError() {
        const scope = makeScope({ name: "plain" })
        const failed = spy(scope, "taskFailed")
        scope.asap(() => { throw "just text" })
        tryCompare(failed, "count", 1)
        compare(failed.signalArguments[0][0], "Scope.asap callback threw just text")
    }

    Component {
        id: handledScopeComponent
        Scope {
            property var failures: []
            onTaskFailed: message => failures.push(message)
        }
    }

    function test_unhandledFailureIsAWarning() {
        const scope = makeScope({ name: "lonely" })
        ignoreWarning(/tst_scope.qml:\d+:\d+: QML Scope: unhandled task failure in scope lonely: Scope.asap callback threw Error: boom \(tst_scope.qml:\d+\)/)
        scope.asap(() => { throw new Error("boom") })
        tryCompare(scope.errors, "length", 1)
    }

    function test_handledFailureIsNoWarning() {
        const scope = createTemporaryObject(handledScopeComponent, testCase)
        scope.asap(() => { throw new Error("handled") })
        tryCompare(scope.failures, "length", 1)
        verify(/threw Error: handled/.test(scope.failures[0]))
    }

    function test_superviseKeepsSiblingsRunning() {
        const scope = makeScope({ supervise: true, name: "boss" })
        ignoreWarning(/unhandled task failure in scope boss: Scope.asap callback threw Error: one/)
        let resolveSibling
        scope.asap(() => new Promise(resolve => { resolveSibling = resolve }))
        scope.asap(() => { throw new Error("one") })
        tryCompare(scope.errors, "length", 1)
        verify(!scope.cancelled)
        compare(scope.running, 1)
        resolveSibling("survived")
        tryCompare(scope, "active", false)
        compare(scope.results, ["survived"])
    }

    function test_cancelFromJavaScript() {
        const scope = makeScope()
        const cancelling = spy(scope, "cancelling")
        let laterRan = false
        scope.asap(() => new Promise(() => {}))
        tryCompare(scope, "running", 1)
        scope.cancel()
        verify(scope.cancelled)
        compare(cancelling.count, 1)
        tryCompare(scope, "active", false)
        scope.cancel() // harmless
        compare(cancelling.count, 1)
        // Cancellation is level-triggered: work spawned afterwards is dropped.
        scope.asap(() => { laterRan = true })
        tryCompare(scope, "active", false)
        compare(laterRan, false)
        compare(scope.errors, [])
    }

    // --- a Scope whose QML parent is a Scope is nested in it (DESIGN §2, docs/qml.md) -----

    Component {
        id: outerWithInnerComponent
        Scope {
            property Scope inner: Scope { name: "declared inside" }
        }
    }

    function test_scopeCreatedWithAScopeParentIsNested() {
        const outer = makeScope({ name: "outer" })
        const inner = createTemporaryObject(scopeComponent, outer, { name: "inner" })
        inner.asap(() => new Promise(() => {}))
        tryCompare(inner, "running", 1)
        outer.cancel()
        verify(inner.cancelled, "cancelling the parent cancels the child")
        tryCompare(inner, "active", false)
        compare(inner.errors, [])
    }

    function test_scopeDeclaredInAScopeIsNested() {
        const outer = createTemporaryObject(outerWithInnerComponent, testCase)
        const inner = outer.inner
        inner.asap(() => new Promise(() => {}))
        tryCompare(inner, "running", 1)
        outer.cancel()
        verify(inner.cancelled)
        tryCompare(inner, "active", false)
    }

    function test_scopeCreatedInACancelledScopeStartsCancelled() {
        const outer = makeScope()
        outer.cancel()
        const inner = createTemporaryObject(scopeComponent, outer)
        verify(inner.cancelled, "as a C++ scope created with a cancelled parent")
        let ran = false
        inner.asap(() => { ran = true })
        tryCompare(inner, "active", false)
        compare(ran, false)
    }

    function test_scopeCreatedInAFinishedScopeRuns() {
        const outer = makeScope()
        outer.join()
        tryCompare(outer, "finished", true)
        const inner = createTemporaryObject(scopeComponent, outer)
        verify(!inner.cancelled)
        let ran = false
        inner.asap(() => { ran = true })
        tryVerify(() => ran)
    }

    function test_scopeWithAnotherParentIsNotNested() {
        const outer = makeScope()
        const inner = makeScope() // parent: the test case
        inner.asap(() => new Promise(() => {}))
        tryCompare(inner, "running", 1)
        outer.cancel()
        verify(!inner.cancelled)
        inner.cancel()
        tryCompare(inner, "active", false)
    }

    function test_afterCallsOnce() {
        const scope = makeScope()
        let calls = 0
        const scheduled = scope.after(20, () => { ++calls })
        verify(scheduled.active)
        const activeSpy = spy(scheduled, "activeChanged")
        tryCompare(scope, "active", false)
        compare(calls, 1)
        verify(!scheduled.active)
        compare(activeSpy.count, 1)
    }

    function test_everyRepeatsUntilUnscheduled() {
        const scope = makeScope()
        let ticks = 0
        let scheduled
        scheduled = scope.every(10, () => {
            if (++ticks === 3)
                scheduled.unschedule()
        })
        tryCompare(scope, "active", false)
        compare(ticks, 3)
        verify(!scheduled.active)
    }

    function test_atCallsAtTheGivenTime() {
        const scope = makeScope()
        const due = new Date(Date.now() + 30)
        let calledAt
        scope.at(due, () => { calledAt = new Date() })
        tryVerify(() => calledAt !== undefined)
        verify(calledAt.getTime() >= due.getTime() - 5, "not before its time (give or take rounding)")
    }

    function test_scheduledThatDoesNotHoldExitEndsWithTheJoin() {
        const scope = makeScope()
        const scheduled = scope.after(100000, () => {}).dontHoldExit()
        verify(scheduled.active)
        const activeSpy = spy(scheduled, "activeChanged")
        const finished = spy(scope, "finished")
        scope.join()
        tryCompare(finished, "count", 1)
        verify(!scheduled.active)
        compare(activeSpy.count, 1, "a binding to active sees the schedule end")
    }

    function test_scheduledPromiseIsTracked() {
        const scope = makeScope()
        let resolvePromise
        scope.after(0, () => new Promise(resolve => { resolvePromise = resolve }))
        tryVerify(() => resolvePromise !== undefined)
        compare(scope.running, 1)
        resolvePromise(7)
        tryCompare(scope, "active", false)
        compare(scope.results, [7])
    }

    function test_cancelStopsSchedules() {
        const scope = makeScope()
        let ticks = 0
        const scheduled = scope.every(10, () => { ++ticks })
        tryVerify(() => ticks > 0)
        scope.cancel()
        verify(!scheduled.active)
        tryCompare(scope, "active", false)
        const ticksAtCancel = ticks
        let marker = false
        const other = makeScope()
        other.after(50, () => { marker = true })
        tryVerify(() => marker)
        compare(ticks, ticksAtCancel)
    }

    function test_badCallsThrow() {
        const scope = makeScope()
        const expectations = [
            [() => scope.asap(42), /TypeError: Scope.asap: the callback must be a function, got 42/],
            [() => scope.after(10, "text"), /TypeError: Scope.after: the callback must be a function/],
            [() => scope.after(-1, () => {}), /RangeError: after: delay must not be negative, got -1 ms/],
            [() => scope.every(0, () => {}), /RangeError: every: interval must be positive, got 0 ms/],
            [() => scope.after("soon", () => {}), /RangeError: Scope.after: delay must be a number of milliseconds up to 2147483647, got NaN/],
            [() => scope.after(undefined, () => {}), /RangeError: Scope.after: delay must be a number of milliseconds/],
            [() => scope.every(3e9, () => {}), /RangeError: Scope.every: interval must be a number of milliseconds up to 2147483647, got 3e\+09/],
            [() => scope.every(Infinity, () => {}), /RangeError: Scope.every: interval must be a number of milliseconds/],
            [() => scope.at(new Date(NaN), () => {}), /RangeError: at: the QDateTime 'when' is invalid/],
        ]
        for (const [call, pattern] of expectations) {
            let message = "no exception"
            try {
                call()
            } catch (e) {
                message = String(e)
            }
            verify(pattern.test(message), message)
        }
        compare(scope.active, false, "nothing was spawned")
    }

    function test_longestDelay() {
        const scope = makeScope()
        const scheduled = scope.after(2147483647, () => {}) // 24.8 days, the longest
        verify(scheduled.active)
        verify(scope.active)
        scheduled.unschedule()
        tryCompare(scope, "active", false)
    }

    function test_joinClosesTheScope() {
        const scope = makeScope()
        const finished = spy(scope, "finished")
        let resolvePromise
        let joined = false
        scope.asap(() => new Promise(resolve => { resolvePromise = resolve }))
        scope.join().then(() => { joined = true })
        tryVerify(() => resolvePromise !== undefined)
        compare(joined, false)
        resolvePromise("last")
        tryVerify(() => joined)
        compare(finished.count, 1)
        compare(scope.results, ["last"])
        let message = "no exception"
        try {
            scope.asap(() => {})
        } catch (e) {
            message = String(e)
        }
        verify(/Error: asap: scope \(unnamed\) has finished \(it was joined\)/.test(message), message)
    }

    function test_joinOfAFailedScopeNeverCallsThen() {
        const scope = makeScope({ name: "failing" })
        const failed = spy(scope, "taskFailed")
        const finished = spy(scope, "finished")
        let joined = false
        scope.asap(() => { throw new Error("bad") })
        scope.join().then(() => { joined = true })
        tryCompare(finished, "count", 1)
        compare(failed.count, 1)
        drain()
        compare(joined, false)
    }

    function test_joinOfATimedOutScope() {
        for (const throwing of [false, true]) {
            const scope = makeScope({ timeout: 20, timeoutThrows: throwing })
            let joined = false
            scope.asap(() => new Promise(() => {}))
            scope.join().then(() => { joined = true })
            tryCompare(scope, "finished", true)
            drain()
            verify(scope.timedOut)
            compare(joined, !throwing, "timeoutThrows: " + throwing)
        }
    }

    // Lets every wake-up queued so far run: a callback asap'd now runs after them (FIFO).
    function drain() {
        const marker = makeScope()
        let ran = false
        marker.asap(() => { ran = true })
        tryVerify(() => ran)
    }

    Component {
        id: finishHandlerComponent
        Scope {
            property int finishedSignals: 0
            onFinished: ++finishedSignals
        }
    }

    // docs/qml.md: `finished` is a property and a signal; JavaScript sees the property.
    function test_finishedIsAPropertyAndASignal() {
        const scope = createTemporaryObject(finishHandlerComponent, testCase)
        compare(scope.finished, false)
        scope.join()
        tryCompare(scope, "finishedSignals", 1)
        compare(scope.finished, true)
        compare(typeof scope.finished, "boolean")
    }

    function test_timeoutCancelsAndReportsTimedOut() {
        const scope = makeScope({ timeout: 30 })
        const timedOutSpy = spy(scope, "timedOutChanged")
        scope.asap(() => new Promise(() => {}))
        tryCompare(scope, "timedOut", true)
        verify(scope.cancelled)
        compare(timedOutSpy.count, 1)
        tryCompare(scope, "active", false)
        compare(scope.errors, [], "a timeout is not an error")
    }
}
