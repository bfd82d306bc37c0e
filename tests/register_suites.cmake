# Included by CTest (TEST_INCLUDE_FILES) before it runs: one CTest entry per GoogleTest
# suite of the test binary, `c2fmae_tests --gtest_filter=Suite.*`. One entry per test case
# would start LibTorch (about 0.5 s) for every one of them; a suite starts it once.
# A suite of more than C2FMAE_CASES_PER_ENTRY cases is split into GoogleTest shards
# (GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX), entries "Suite:1/3" ..., so that no entry runs long
# (CI's budget: 60 s an entry, scripts/check_budget.py) and CTest can run them side by side.
# Expects C2FMAE_TEST_EXE, C2FMAE_TEST_WORKING_DIR and C2FMAE_TEST_TIMEOUT (seconds).
set(C2FMAE_CASES_PER_ENTRY 4)
# Suites whose cases each train for seconds: fewer cases an entry.
set(C2FMAE_CASES_PER_ENTRY_Recipes/RecipesTwin 2)
# Suites whose tests start several processes at once (the ranks of a run): CTest runs their
# entries alone (PROCESSORS 2), so that no other entry shares the 2 cores with 3 LibTorch
# processes (oversubscribed, a neighbour ran 3 times slower).
set(C2FMAE_MULTI_PROCESS_SUITES DataParallel DataParallelStep GradientSync)
# One intra-op thread per test process (and the programs it starts), as torchrun sets: CTest
# runs 2 entries at once on 2 cores, and 2 LibTorch pools of 2 threads each made an entry's
# time depend on its neighbour (up to 3x). The tests' figures do not depend on it.
set(C2FMAE_TEST_THREADS "OMP_NUM_THREADS=1")
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
set(_suites "")
foreach(_line IN LISTS _lines)
  # A suite line starts in column 0 and ends with '.', perhaps followed by a comment
  # ("Suite/0.  # TypeParam = ..."); the test lines under it are indented.
  if(_line MATCHES "^([^ #][^ ]*)\\.( .*)?$")
    set(_suite "${CMAKE_MATCH_1}")
    list(APPEND _suites "${_suite}")
    set(_cases_${_suite} 0)
  elseif(_line MATCHES "^  [^ ]" AND DEFINED _suite)
    math(EXPR _cases_${_suite} "${_cases_${_suite}} + 1")
  endif()
endforeach()
foreach(_suite IN LISTS _suites)
  set(_per_entry ${C2FMAE_CASES_PER_ENTRY})
  if(DEFINED C2FMAE_CASES_PER_ENTRY_${_suite})
    set(_per_entry ${C2FMAE_CASES_PER_ENTRY_${_suite}})
  endif()
  math(EXPR _shards "(${_cases_${_suite}} + ${_per_entry} - 1) / ${_per_entry}")
  if(_shards LESS_EQUAL 1)
    add_test("${_suite}" "${C2FMAE_TEST_EXE}" "--gtest_filter=${_suite}.*")
    set_tests_properties("${_suite}" PROPERTIES
                         WORKING_DIRECTORY "${C2FMAE_TEST_WORKING_DIR}"
                         TIMEOUT "${C2FMAE_TEST_TIMEOUT}"
                         ENVIRONMENT "${C2FMAE_TEST_THREADS}")
    list(FIND C2FMAE_MULTI_PROCESS_SUITES "${_suite}" _multi)
    if(_multi GREATER -1)
      set_tests_properties("${_suite}" PROPERTIES PROCESSORS 2)
    endif()
    continue()
  endif()
  set(_index 0)
  while(_index LESS _shards)
    math(EXPR _number "${_index} + 1")
    set(_name "${_suite}:${_number}/${_shards}")
    add_test("${_name}" "${C2FMAE_TEST_EXE}" "--gtest_filter=${_suite}.*")
    set_tests_properties("${_name}" PROPERTIES
                         WORKING_DIRECTORY "${C2FMAE_TEST_WORKING_DIR}"
                         TIMEOUT "${C2FMAE_TEST_TIMEOUT}"
                         ENVIRONMENT "GTEST_TOTAL_SHARDS=${_shards};GTEST_SHARD_INDEX=${_index};${C2FMAE_TEST_THREADS}"
                         LABELS "${_suite}")
    list(FIND C2FMAE_MULTI_PROCESS_SUITES "${_suite}" _multi)
    if(_multi GREATER -1)
      set_tests_properties("${_name}" PROPERTIES PROCESSORS 2)
    endif()
    math(EXPR _index "${_index} + 1")
  endwhile()
endforeach()
