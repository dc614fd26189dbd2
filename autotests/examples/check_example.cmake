# SPDX-License-Identifier: MIT
# Runs one example and checks its output against an expectation file (ctest example_<name>):
#   cmake -DEXAMPLE=<executable> -DEXPECTED=<file.expected> -P check_example.cmake
#
# The expectation file, one rule a line (blank lines and lines starting with # are skipped):
#   args A B ...   command-line arguments for the example
#   exit N         the exit code it must return (default 0)
#   REGEX          a line of standard output must match, after the line the previous rule
#                  matched (so the rules check the order); ^ and $ anchor at a line's start
#                  and end
#   !REGEX         no line after the previous match may match (e.g. nothing after a cancel)
#   ~REGEX         some line anywhere in standard output matches (order does not matter)
#   err REGEX      standard error matches
# In a REGEX, ".*" stays within one line.
cmake_minimum_required(VERSION 3.25)

file(STRINGS "${EXPECTED}" rules)
set(args "")
set(expected_exit 0)
foreach(rule IN LISTS rules)
    if(rule MATCHES "^args (.*)$")
        separate_arguments(args UNIX_COMMAND "${CMAKE_MATCH_1}")
    elseif(rule MATCHES "^exit ([0-9]+)$")
        set(expected_exit "${CMAKE_MATCH_1}")
    endif()
endforeach()

execute_process(COMMAND "${EXAMPLE}" ${args} RESULT_VARIABLE code
                OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
set(report "--- ${EXAMPLE} ${args} (exit code ${code})\n--- stdout:\n${out}--- stderr:\n${err}---")
if(NOT code STREQUAL expected_exit)
    message(FATAL_ERROR "exit code ${code}, expected ${expected_exit}\n${report}")
endif()

set(out "\n${out}\n") # so that ^ and $ (a line's start and end) match the first and last lines
set(pos 0)
foreach(rule IN LISTS rules)
    if(rule STREQUAL "" OR rule MATCHES "^#" OR rule MATCHES "^(args|exit) ")
        continue()
    endif()
    set(kind ordered)
    if(rule MATCHES "^err (.*)$")
        if(NOT err MATCHES "${CMAKE_MATCH_1}")
            message(FATAL_ERROR "stderr does not match: ${CMAKE_MATCH_1}\n${report}")
        endif()
        continue()
    elseif(rule MATCHES "^!(.*)$")
        set(kind absent)
        set(rule "${CMAKE_MATCH_1}")
    elseif(rule MATCHES "^~(.*)$")
        set(kind anywhere)
        set(rule "${CMAKE_MATCH_1}")
    endif()
    string(REPLACE ".*" "[^\n]*" regex "${rule}")
    if(regex MATCHES "^\\^")
        string(SUBSTRING "${regex}" 1 -1 regex)
        set(regex "\n${regex}")
    endif()
    set(line_end "[^\n]*")
    if(regex MATCHES "\\$$")
        string(REGEX REPLACE "\\$$" "" regex "${regex}")
        set(line_end "\n")
    endif()
    if(kind STREQUAL "anywhere")
        if(NOT out MATCHES "${regex}")
            message(FATAL_ERROR "no line matches: ${rule}\n${report}")
        endif()
        continue()
    endif()
    string(SUBSTRING "${out}" ${pos} -1 rest)
    string(REGEX MATCH "${regex}${line_end}" found "${rest}")
    if(kind STREQUAL "absent")
        if(NOT found STREQUAL "")
            message(FATAL_ERROR "unexpected line after the previous match: ${found}\n(rule !${rule})\n${report}")
        endif()
        continue()
    endif()
    if(found STREQUAL "")
        message(FATAL_ERROR "no line matches, in this order: ${rule}\n${report}")
    endif()
    string(FIND "${rest}" "${found}" at)
    string(LENGTH "${found}" length)
    if(found MATCHES "\n$")
        math(EXPR length "${length} - 1") # leave the newline for the next rule's ^
    endif()
    math(EXPR pos "${pos} + ${at} + ${length}")
endforeach()
message(STATUS "${report}")
