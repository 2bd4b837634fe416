# Runs canaryc once and checks what it did.
#   cmake -DCANARYC=... -DARGS="a|b" -DWORK=dir -DEXPECT_EXIT=0
#         [-DSTDOUT_MATCHES=regex] [-DSTDERR_MATCHES=regex]
#         [-DJSON_CONTAINS=tool -DEXPECTED_JSON=file [-DJSON_FILE=file]] -P run_canaryc.cmake
# With EXPECTED_JSON, the graph (JSON_FILE if given, else stdout) must hold
# everything the expected file says (see tools/json_contains.cpp).
string(REPLACE "|" ";" ARGS "${ARGS}")
file(MAKE_DIRECTORY "${WORK}")
string(MD5 tag "${ARGS}")
set(stdout_file "${WORK}/${tag}.stdout")
execute_process(COMMAND "${CANARYC}" ${ARGS} WORKING_DIRECTORY "${WORK}"
                OUTPUT_FILE "${stdout_file}" ERROR_VARIABLE stderr RESULT_VARIABLE status)
file(READ "${stdout_file}" stdout)
if(NOT status STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "canaryc ${ARGS}: expected exit ${EXPECT_EXIT}, got ${status}\n${stderr}")
endif()
if(DEFINED STDOUT_MATCHES AND NOT stdout MATCHES "${STDOUT_MATCHES}")
  message(FATAL_ERROR "canaryc ${ARGS}: stdout does not match '${STDOUT_MATCHES}':\n${stdout}")
endif()
if(DEFINED STDERR_MATCHES AND NOT stderr MATCHES "${STDERR_MATCHES}")
  message(FATAL_ERROR "canaryc ${ARGS}: stderr does not match '${STDERR_MATCHES}':\n${stderr}")
endif()
if(DEFINED EXPECTED_JSON)
  if(NOT DEFINED JSON_FILE)
    set(JSON_FILE "${stdout_file}")
  endif()
  execute_process(COMMAND "${JSON_CONTAINS}" "${EXPECTED_JSON}" "${JSON_FILE}" RESULT_VARIABLE differs)
  if(NOT differs EQUAL 0)
    message(FATAL_ERROR "canaryc ${ARGS}: the graph in ${JSON_FILE} differs from ${EXPECTED_JSON}")
  endif()
endif()
