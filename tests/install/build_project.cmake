# Installs Canary into a fresh prefix, then builds tests/install/project (a
# user's project: find_package(Canary), canary_add_job) against it with plain
# CMake, runs the job it built, and checks its answer against the formula.
#   cmake -DBUILD_DIR=... -DPROJECT=... -DWORK=... -P build_project.cmake
file(REMOVE_RECURSE "${WORK}")
include(${CMAKE_CURRENT_LIST_DIR}/install_canary.cmake)
install_canary("${BUILD_DIR}" "${WORK}/prefix" bin/canaryc bin/canary-ssh lib/cmake/Canary/CanaryConfig.cmake
               share/canary/graph-viewer.html)
execute_process(COMMAND ${CMAKE_COMMAND} -S "${PROJECT}" -B "${WORK}/build" -G Ninja
                        "-DCMAKE_PREFIX_PATH=${WORK}/prefix"
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "configuring the user's project failed:\n${out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK}/build" RESULT_VARIABLE status
                OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT status EQUAL 0 OR NOT EXISTS "${WORK}/build/bin/sum_squares.graph.json")
  message(FATAL_ERROR "building the user's project failed:\n${out}")
endif()
set(n 100000)
execute_process(COMMAND "${WORK}/build/bin/sum_squares" --quiet --partitions=7 --n=${n}
                OUTPUT_VARIABLE out RESULT_VARIABLE status)
math(EXPR want "(${n} - 1) * ${n} * (2 * ${n} - 1) / 6")
if(NOT status EQUAL 0 OR NOT out STREQUAL "sum = ${want}\n")
  message(FATAL_ERROR "the user's job said '${out}' (exit ${status}); the sum of squares below ${n} is ${want}")
endif()
# A second build with nothing changed does nothing; touching the header the
# driver includes rebuilds the job (canaryc -MD names it to Ninja).
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK}/build" OUTPUT_VARIABLE out)
if(out MATCHES "canaryc sum_squares")
  message(FATAL_ERROR "an unchanged project ran canaryc again:\n${out}")
endif()
file(TOUCH "${PROJECT}/include/range.h")
execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK}/build" OUTPUT_VARIABLE out)
if(NOT out MATCHES "canaryc sum_squares")
  message(FATAL_ERROR "a changed header the driver includes did not rebuild the job:\n${out}")
endif()
