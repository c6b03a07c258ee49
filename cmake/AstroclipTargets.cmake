# One small helper per kind of target (in the manner of ImHex's cmake helpers).

# astroclip_add_core_library(NAME SOURCES... [DEPS targets...])
#   A static piece of core/: no Qt allowed; include root is the project root so headers
#   are included as "core/<folder>/<file>.h".
function(astroclip_add_core_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  target_compile_definitions(${name} PUBLIC
    ASTROCLIP_RESOURCE_DIR="${ASTROCLIP_RESOURCE_DIR}")
endfunction()

# astroclip_add_plugin(NAME SOURCES... [DEPS ...])
#   A reader plugin loaded at run time: a shared library with one extern "C" factory
#   (see core/ingest/plugin_abi.h). Lands in <build>/plugins so the CLI finds it.
function(astroclip_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;DEPS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE astroclip_core ${ARG_DEPS})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)
  endif()
  set_target_properties(${name} PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
endfunction()

# astroclip_add_test(NAME SOURCES... LABELS unit|integration|gui|gpu|slow|bench [DEPS ...]
#                    [FIXTURES_REQUIRED ...] [TIMEOUT s] [EXCLUDE_FROM_ALL])
#   A Qt Test executable registered with ctest under its labels. EXCLUDE_FROM_ALL leaves it out
#   of the default build (a fixture test must then build it before it runs).
function(astroclip_add_test name)
  cmake_parse_arguments(ARG "EXCLUDE_FROM_ALL" "TIMEOUT" "SOURCES;LABELS;DEPS;FIXTURES_REQUIRED;ENVIRONMENT" ${ARGN})
  if(ARG_EXCLUDE_FROM_ALL)
    add_executable(${name} EXCLUDE_FROM_ALL ${ARG_SOURCES})
  else()
    add_executable(${name} ${ARG_SOURCES})
  endif()
  target_link_libraries(${name} PRIVATE Qt6::Test astroclip_core ${ARG_DEPS})
  target_compile_definitions(${name} PRIVATE QT_NO_KEYWORDS
    ASTROCLIP_SHARED_DATA="${PROJECT_SOURCE_DIR}/../shared/data"
    ASTROCLIP_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
    ASTROCLIP_TEST_FIXTURE_DIR="${CMAKE_BINARY_DIR}/test-fixtures")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests AUTOMOC ON)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "QT_QPA_PLATFORM=offscreen;${ARG_ENVIRONMENT}")
  if(ARG_FIXTURES_REQUIRED)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES_REQUIRED}")
  endif()
endfunction()

# astroclip_use_torch_pch(TARGET)
#   LibTorch's headers are most of the compile time of every file that includes them (~30 s
#   each on the CI machines). Core libraries and the torch programs share one precompiled
#   header, built once for astroclip_models and reused: GCC accepts a PCH only under the flags
#   it was built with, which all static core libraries have in common. Executables are built
#   with -fPIE instead of -fPIC, so they get their own. -Winvalid-pch turns a rejected PCH
#   into a warning in the build log instead of a silently slow build.
function(astroclip_use_torch_pch target)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY" AND NOT target STREQUAL "astroclip_models")
    target_precompile_headers(${target} REUSE_FROM astroclip_models)
  else()
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  endif()
  target_compile_options(${target} PRIVATE -Winvalid-pch)
endfunction()
