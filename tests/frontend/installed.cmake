# Installs Canary into a fresh prefix and builds and runs a job with the
# installed canaryc, far from the source and build trees.
#   cmake -DBUILD_DIR=... -DDRIVER=... -DWORK=... -P installed.cmake
file(REMOVE_RECURSE "${WORK}")
include(${CMAKE_CURRENT_LIST_DIR}/../install/install_canary.cmake)
install_canary("${BUILD_DIR}" "${WORK}/prefix" bin/canaryc include/canary/dsl.h include/canary/program.h
               lib/libcanary.a)
execute_process(COMMAND "${WORK}/prefix/bin/canaryc" "${DRIVER}" -o "${WORK}/job" RESULT_VARIABLE status
                ERROR_VARIABLE err)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the installed canaryc failed:\n${err}")
endif()
file(READ "${WORK}/job.tasks.cpp" tasks)
if(NOT tasks MATCHES "#include \"${DRIVER}\"")
  message(FATAL_ERROR "the generated code does not include the driver")
endif()
execute_process(COMMAND "${WORK}/job" --threads 1 --samples=1000 --iterations=2 OUTPUT_VARIABLE out
                RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR NOT out MATCHES "^weights = \\[")
  message(FATAL_ERROR "the job built by the installed canaryc did not run: ${status}\n${out}")
endif()
