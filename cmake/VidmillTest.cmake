include(GoogleTest)

# vidmill_test(NAME name SOURCES a_test.cc … LIBS lib … [LABELS label] [TIMEOUT s])
# Builds one GoogleTest binary and registers each of its tests with CTest, so
# `ctest -j` runs them in parallel. Tests find the built tools through
# VIDMILL_BINARY (the server binary) and VIDMILL_SOURCE_DIR. Tests that stop
# and restart a private PostgreSQL cluster run beside the others: its port is
# below the kernel's ephemeral range (scripts/pg-cluster.sh), so nothing
# beside it takes the port while it is stopped.
# Test code is built with -Og, not the build type's -O3: it drives the
# libraries (built as the product is) and spends its time waiting on them, and
# -Og halves its compile time (test code is half of a fresh build). Its
# designated initializers name only the options a test changes, so GCC's
# missing-field-initializers warning is off for it.
function(vidmill_test_compile_options target)
  if(CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$")
    target_compile_options(${target} PRIVATE -Og)
  endif()
  target_compile_options(${target} PRIVATE -Wno-missing-field-initializers)
endfunction()

function(vidmill_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/src)
  target_compile_definitions(${T_NAME} PRIVATE
    VIDMILL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    VIDMILL_BINARY="$<TARGET_FILE:vidmill>")
  vidmill_test_compile_options(${T_NAME})
  # Tests that talk to the store run a second time on PostgreSQL (label
  # "postgres"); every integration test does but those labelled "media",
  # which check what comes out of the worker (the store's part in it is the
  # same for every request, and other integration tests run it on both).
  set(labels ${T_LABELS})
  string(FIND "${CMAKE_CURRENT_SOURCE_DIR}" "/tests/integration" in_integration)
  if(NOT in_integration EQUAL -1 AND NOT "postgres" IN_LIST labels AND NOT "media" IN_LIST labels)
    list(APPEND labels postgres)
  endif()
  # gtest_discover_tests flattens its PROPERTIES into one argument list, so a
  # second label, or an empty one, would shift the names and values after it.
  set(properties TIMEOUT ${T_TIMEOUT})
  list(LENGTH labels label_count)
  if(label_count GREATER 1)
    message(FATAL_ERROR "${T_NAME}: one label at most (got ${labels})")
  elseif(label_count EQUAL 1)
    list(APPEND properties LABELS ${labels})
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES ${properties})
endfunction()
