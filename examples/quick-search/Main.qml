// SPDX-License-Identifier: MIT
// quick-search: every keystroke starts a search in a fresh Scope and destroys the previous one,
// which cancels its search at once. The busy indicator follows the current scope's `active`.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QAyo
import QuickSearch

ApplicationWindow {
    id: window
    width: 520
    height: 440
    visible: true
    title: qsTr("QAyo quick-search")

    property Scope searchScope: null
    property var results: []
    property string searched: ""

    Component {
        id: scopeComponent
        Scope {
            timeout: 3000 // a search that takes longer is given up
        }
    }

    function startSearch(text) {
        if (searchScope) {
            searchScope.cancel() // ends the running search now (destroy() is deferred)
            searchScope.destroy()
        }
        searchScope = scopeComponent.createObject(window, { name: "search " + text })
        if (text.length === 0) {
            results = []
            searched = ""
            return
        }
        Backend.search(text, searchScope).then(matches => {
            results = matches
            searched = text
        })
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: 16
        spacing: 12

        TextField {
            id: field
            objectName: "searchField"
            Layout.fillWidth: true
            focus: true
            placeholderText: qsTr("Search Qt classes…")
            onTextChanged: window.startSearch(text)
        }

        RowLayout {
            Layout.fillWidth: true
            BusyIndicator {
                implicitWidth: 32
                implicitHeight: 32
                running: window.searchScope ? window.searchScope.active : false
            }
            Label {
                Layout.fillWidth: true
                text: window.searchScope && window.searchScope.active
                      ? qsTr("searching “%1”…").arg(field.text)
                      : window.searched.length === 0 ? qsTr("type to search")
                      : window.results.length === 1 ? qsTr("1 match for “%1”").arg(window.searched)
                      : qsTr("%1 matches for “%2”").arg(window.results.length).arg(window.searched)
            }
            Label {
                text: qsTr("searches: %1, cancelled: %2").arg(Backend.started).arg(Backend.cancelled)
                opacity: 0.6
            }
        }

        Frame {
            Layout.fillWidth: true
            Layout.fillHeight: true
            ListView {
                anchors.fill: parent
                clip: true
                model: window.results
                delegate: Label {
                    required property string modelData
                    text: modelData
                    padding: 4
                }
            }
        }
    }
}
