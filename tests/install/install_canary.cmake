# install_canary(BUILD_DIR PREFIX FILE...): cmake --install of BUILD_DIR into
# a fresh PREFIX, failing unless every FILE (relative to PREFIX) is there.
function(install_canary build_dir prefix)
  file(REMOVE_RECURSE "${prefix}")
  execute_process(COMMAND ${CMAKE_COMMAND} --install "${build_dir}" --prefix "${prefix}"
                  OUTPUT_QUIET RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "cmake --install failed")
  endif()
  foreach(f ${ARGN})
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "the install lacks ${f}")
    endif()
  endforeach()
endfunction()
