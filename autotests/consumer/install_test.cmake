# SPDX-License-Identifier: MIT
# The install test (ctest install_consumer): run with cmake -P and
#   -DBUILD_DIR=<QAyo build> -DCONSUMER_DIR=<this folder> -DWORK_DIR=<scratch folder>
#   -DGENERATOR=<generator> -DBUILD_TYPE=<type> -DCXX_COMPILER=<compiler>
#   -DCXX_FLAGS=<flags> -DLINKER_FLAGS=<flags>
# 1. installs the QAyo build into WORK_DIR/prefix,
# 2. configures, builds and runs the consumer project against that prefix (the same compiler
#    and flags as the QAyo build, so a sanitizer build links),
# 3. checks that requiring a component QAyo does not have fails find_package with a message
#    naming it.
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR CONSUMER_DIR WORK_DIR GENERATOR)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "install_test.cmake: -D${var}=... is missing")
    endif()
endforeach()

function(step what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "install test: ${what} failed (${rc})\n${out}\n${err}")
    endif()
    message(STATUS "install test: ${what}: ok")
    set(step_output "${out}${err}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

step("install into ${prefix}" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

set(configure_args -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}"
    "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")

step("configure the consumer" ${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" ${configure_args})
message(STATUS "${step_output}")
step("build the consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/build")

step("run consumer_app" "${WORK_DIR}/build/consumer_app")
if(NOT step_output MATCHES "consumer: squares 1 4 9, first scope timed out: no, second: yes")
    message(FATAL_ERROR "install test: consumer_app printed something else:\n${step_output}")
endif()
step("run consumer_test" "${WORK_DIR}/build/consumer_test")

# A component this installation lacks: find_package must fail and say which one.
execute_process(COMMAND ${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build-missing"
                        ${configure_args} -DQAYO_CONSUMER_EXTRA_COMPONENTS=Gui
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
    message(FATAL_ERROR "install test: find_package(QAyo REQUIRED COMPONENTS ... Gui) succeeded")
endif()
if(NOT err MATCHES "QAyo has no component 'Gui'")
    message(FATAL_ERROR "install test: the missing component is not named clearly:\n${err}")
endif()
message(STATUS "install test: a missing required component fails find_package: ok")

file(REMOVE_RECURSE "${WORK_DIR}")
