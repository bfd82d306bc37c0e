# Included by CTest (TEST_INCLUDE_FILES) before it runs: one CTest entry per GoogleTest
# suite of the test binary, `c2fmae_tests --gtest_filter=Suite.*`. One entry per test case
# would start LibTorch (about 0.5 s) for every one of them; a suite starts it once.
# Expects C2FMAE_TEST_EXE, C2FMAE_TEST_WORKING_DIR and C2FMAE_TEST_TIMEOUT (seconds).
if(NOT EXISTS "${C2FMAE_TEST_EXE}")
  add_test(c2fmae_tests_NOT_BUILT c2fmae_tests_NOT_BUILT)
  return()
endif()
execute_process(COMMAND "${C2FMAE_TEST_EXE}" --gtest_list_tests
                WORKING_DIRECTORY "${C2FMAE_TEST_WORKING_DIR}"
                OUTPUT_VARIABLE _listing RESULT_VARIABLE _rc TIMEOUT 60)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${C2FMAE_TEST_EXE} --gtest_list_tests failed (${_rc}):\n${_listing}")
endif()
string(REPLACE "\n" ";" _lines "${_listing}")
foreach(_line IN LISTS _lines)
  # A suite line starts in column 0 and ends with '.', perhaps followed by a comment
  # ("Suite/0.  # TypeParam = ..."); the test lines under it are indented.
  if(_line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
    set(_suite "${CMAKE_MATCH_1}")
    add_test("${_suite}" "${C2FMAE_TEST_EXE}" "--gtest_filter=${_suite}.*")
    set_tests_properties("${_suite}" PROPERTIES
                         WORKING_DIRECTORY "${C2FMAE_TEST_WORKING_DIR}"
                         TIMEOUT "${C2FMAE_TEST_TIMEOUT}")
  endif()
endforeach()
