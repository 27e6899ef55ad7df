# Provides lifeline's dependencies to the Windows cross-build (cmake/mingw-w64.cmake) without touching
# cmake/lifelineDependencies.cmake: a CMake dependency provider answers its find_package() calls with
# the header-only parts of Debian's packages, and builds GoogleTest from Debian's sources.
#
# The cross compiler must never see all of /usr/include (Linux system headers would shadow MinGW's), so
# the headers it needs are exposed through one folder holding only links to them.
set(lifeline_cross_include ${CMAKE_BINARY_DIR}/cross-include)
file(MAKE_DIRECTORY ${lifeline_cross_include})
foreach(entry boost fmt CLI xxhash.h)
  if(NOT EXISTS /usr/include/${entry})
    message(FATAL_ERROR "/usr/include/${entry} is missing: run scripts/install-deps.sh --windows")
  endif()
  file(CREATE_LINK /usr/include/${entry} ${lifeline_cross_include}/${entry} SYMBOLIC)
endforeach()

# xxHash is used header-only; find_path() keeps a value already set.
set(LIFELINE_XXHASH_INCLUDE_DIR ${lifeline_cross_include} CACHE PATH "xxhash.h for the cross-build")

# Fails the configure step when the headers are older than what find_package() asked for.
function(lifeline_cross_require_version package found requested)
  if(requested MATCHES "^[0-9]+(\\.[0-9]+)*$" AND found VERSION_LESS requested)
    message(FATAL_ERROR "${package} ${requested} is required; the headers in /usr/include are ${found}")
  endif()
endfunction()

macro(lifeline_cross_find_package method package)
  set(lifeline_cross_arguments ${ARGN})
  list(APPEND lifeline_cross_arguments "")
  list(GET lifeline_cross_arguments 0 lifeline_cross_requested)
  if(${package} STREQUAL "Boost")
    if(NOT TARGET Boost::headers)
      file(STRINGS ${lifeline_cross_include}/boost/version.hpp boost_version_line
           REGEX "^#define BOOST_VERSION [0-9]+")
      string(REGEX MATCH "[0-9]+" boost_version_number "${boost_version_line}")
      math(EXPR Boost_VERSION_MAJOR "${boost_version_number} / 100000")
      math(EXPR Boost_VERSION_MINOR "${boost_version_number} / 100 % 1000")
      math(EXPR Boost_VERSION_PATCH "${boost_version_number} % 100")
      set(Boost_VERSION ${Boost_VERSION_MAJOR}.${Boost_VERSION_MINOR}.${Boost_VERSION_PATCH} CACHE INTERNAL "")
      add_library(Boost::headers INTERFACE IMPORTED GLOBAL)
      set_target_properties(Boost::headers PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${lifeline_cross_include})
    endif()
    lifeline_cross_require_version(Boost ${Boost_VERSION} "${lifeline_cross_requested}")
    set(Boost_FOUND TRUE)
  elseif(${package} STREQUAL "fmt")
    if(NOT TARGET fmt::fmt)
      add_library(fmt::fmt INTERFACE IMPORTED GLOBAL)
      set_target_properties(fmt::fmt PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${lifeline_cross_include}
                                                INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
    endif()
    file(STRINGS ${lifeline_cross_include}/fmt/core.h fmt_version_line REGEX "^#define FMT_VERSION [0-9]+")
    string(REGEX MATCH "[0-9]+" fmt_version_number "${fmt_version_line}")
    math(EXPR fmt_major "${fmt_version_number} / 10000")
    math(EXPR fmt_minor "${fmt_version_number} / 100 % 100")
    math(EXPR fmt_patch "${fmt_version_number} % 100")
    set(fmt_VERSION ${fmt_major}.${fmt_minor}.${fmt_patch})
    lifeline_cross_require_version(fmt ${fmt_VERSION} "${lifeline_cross_requested}")
    set(fmt_FOUND TRUE)
  elseif(${package} STREQUAL "CLI11")
    if(NOT TARGET CLI11::CLI11)
      add_library(CLI11::CLI11 INTERFACE IMPORTED GLOBAL)
      set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${lifeline_cross_include})
    endif()
    set(CLI11_FOUND TRUE)
  elseif(${package} STREQUAL "GTest")
    if(NOT TARGET GTest::gtest)
      if(NOT EXISTS /usr/src/googletest/CMakeLists.txt)
        message(FATAL_ERROR "/usr/src/googletest is missing: run scripts/install-deps.sh --windows")
      endif()
      set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
      set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
      add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL SYSTEM)
    endif()
    set(GTest_FOUND TRUE)
  endif()
  # Anything else (Threads, benchmark) falls through to find_package()'s own search in the sysroot.
endmacro()

cmake_language(SET_DEPENDENCY_PROVIDER lifeline_cross_find_package SUPPORTED_METHODS FIND_PACKAGE)
