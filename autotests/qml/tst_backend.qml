// SPDX-License-Identifier: MIT
// C++ backends: QAyo::Qml::spawn() runs a backend task in a QML Scope and hands the result to
// QML as a thenable; cancel, timeout and the destruction of the Scope end it.
import QtQuick
import QtTest
import QAyo
import QAyoTest

TestCase {
    id: testCase
    name: "Backend"

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

    // Lets every wake-up queued so far run: a callback asap'd now runs after them (FIFO).
    function drainQueuedWork() {
        const marker = makeScope()
        let ran = false
        marker.asap(() => { ran = true })
        tryVerify(() => ran)
    }

    function init() {
        failOnWarning(/.?/)
    }

    function cleanup() {
        tryCompare(Backend, "running", 0)
    }

    function test_resultArrivesThroughThen() {
        const scope = makeScope()
        let result
        Backend.echo(["alpha", "beta"], 10, scope).then(r => { result = r })
        compare(scope.pending, 1, "the backend task is a task of the scope")
        tryVerify(() => result !== undefined)
        compare(result, ["alpha", "beta"])
        compare(scope.results.length, 1)
        tryCompare(scope, "active", false)
    }

    function test_voidTaskResolvesWithUndefined() {
        const scope = makeScope()
        let called = false
        let value = "unset"
        Backend.pause(10, scope).then(r => { called = true; value = r })
        tryVerify(() => called)
        compare(value, undefined)
    }

    function test_maxConcurrencyAppliesToBackendTasks() {
        const scope = makeScope({ maxConcurrency: 2 })
        const results = []
        for (let i = 0; i < 5; ++i)
            Backend.echo(i, 300, scope).then(r => results.push(r)) // long enough to watch
        compare(scope.pending, 5)
        tryCompare(Backend, "running", 2)
        compare(scope.pending, 3)
        tryCompare(results, "length", 5)
        compare(results, [0, 1, 2, 3, 4])
    }

    function test_cancelFromJavaScriptEndsTheBackendTask() {
        const scope = makeScope()
        let thenCalled = false
        const finishedBefore = Backend.finished
        Backend.echo("never", 60000, scope).then(() => { thenCalled = true })
        tryCompare(Backend, "running", 1)
        scope.cancel()
        tryCompare(Backend, "running", 0)
        tryCompare(scope, "active", false)
        drainQueuedWork()
        compare(thenCalled, false, "then() is not called for a cancelled task")
        compare(Backend.finished, finishedBefore)
        compare(scope.errors, [])
    }

    Component {
        id: timedScopeComponent
        Scope {
            property int timedOutSignals: 0
            timeout: 40
            onTimedOut: ++timedOutSignals
        }
    }

    function test_timeoutEndsTheBackendTask() {
        const scope = createTemporaryObject(timedScopeComponent, testCase)
        let thenCalled = false
        Backend.echo("too late", 60000, scope).then(() => { thenCalled = true })
        tryCompare(scope, "timedOut", true)
        compare(scope.timedOutSignals, 1)
        tryCompare(Backend, "running", 0)
        drainQueuedWork()
        compare(thenCalled, false)
    }

    function test_backendErrorIsTheScopesError() {
        const scope = makeScope({ name: "lookup" })
        const failed = spy(scope, "taskFailed")
        let thenCalled = false
        Backend.fail("no such word", 10, scope).then(() => { thenCalled = true })
        tryCompare(failed, "count", 1)
        compare(failed.signalArguments[0][0], "no such word")
        compare(scope.errors, ["no such word"])
        drainQueuedWork()
        compare(thenCalled, false)
    }

    function test_nullScopeThrows() {
        let message = "no exception"
        ignoreWarning("QAyo::Qml::spawn: the scope is null")
        try {
            Backend.echo("x", 10, null)
        } catch (e) {
            message = String(e)
        }
        // Without a scope there is no engine to throw in: the helper warns instead.
        compare(message, "no exception")
        compare(Backend.running, 0)
    }

    function test_closedScopeThrows() {
        const scope = makeScope({ name: "done" })
        scope.join()
        tryCompare(scope, "finished", true)
        let message = "no exception"
        try {
            Backend.echo("x", 10, scope)
        } catch (e) {
            message = String(e)
        }
        compare(message, "Error: asap: scope done has finished (it was joined)")
        compare(Backend.running, 0)
    }

    property int scopesDestroyed: 0

    Component {
        id: searchItemComponent
        Item {
            property alias scope: itemScope
            property var result
            Scope {
                id: itemScope
                name: "in the loader"
                Component.onDestruction: ++testCase.scopesDestroyed
            }
            Component.onCompleted: Backend.echo("stale", 60000, itemScope).then(r => { result = r })
        }
    }

    Component {
        id: emptyItemComponent
        Item {}
    }

    Loader {
        id: loader
    }

    function test_destroyingTheScopeMidTaskEndsIt() {
        loader.sourceComponent = searchItemComponent
        verify(loader.item)
        const destroyedBefore = scopesDestroyed
        tryCompare(Backend, "running", 1)
        loader.sourceComponent = emptyItemComponent // the old item and its Scope go away
        tryCompare(testCase, "scopesDestroyed", destroyedBefore + 1)
        tryCompare(Backend, "running", 0)
        drainQueuedWork()
        // failOnWarning() in init(): a then() running into the destroyed item (or any other
        // warning about a dangling object) fails this test.
        loader.sourceComponent = undefined
    }

    function test_scopeOfAnotherObjectIsNotAffected() {
        const a = makeScope()
        const b = makeScope()
        let fromB
        Backend.echo("a", 60000, a)
        Backend.echo("b", 300, b).then(r => { fromB = r })
        tryCompare(Backend, "running", 2)
        a.cancel()
        tryVerify(() => fromB === "b")
    }
}
