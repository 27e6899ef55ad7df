# Finds lifeline's dependencies. All come from Debian 12's packages (scripts/install-deps.sh); the
# Windows cross-build (cmake/mingw-w64.cmake) points Boost_ROOT and friends at the header-only parts.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)
find_package(fmt 9 REQUIRED)
# Only the tool parses command lines; the libraries and their installed package never need CLI11.
if(LIFELINE_BUILD_TOOLS)
  find_package(CLI11 REQUIRED)
endif()
# The session layer (and so the tunnel) needs random numbers, HMAC-SHA-256, X25519 and AES-256-GCM:
# OpenSSL 3, or on Windows the system's own CNG and libgcrypt when OpenSSL is missing (Debian has no
# OpenSSL for MinGW-w64). TLS needs OpenSSL.
find_package(OpenSSL 3)
set(LIFELINE_WITH_TLS ${OpenSSL_FOUND})
if(OpenSSL_FOUND OR WIN32)
  set(LIFELINE_WITH_SESSION TRUE)
else()
  set(LIFELINE_WITH_SESSION FALSE)
endif()
# Without OpenSSL, Windows takes X25519 from libgcrypt (CNG under Wine has no key agreement to test),
# linked statically so that lifeline.exe needs no DLL of it: the static archives, by file name.
if(WIN32 AND NOT OpenSSL_FOUND)
  find_path(LIFELINE_GCRYPT_INCLUDE_DIR gcrypt.h)
  find_library(LIFELINE_GCRYPT_LIBRARY NAMES libgcrypt.a)
  find_library(LIFELINE_GPG_ERROR_LIBRARY NAMES libgpg-error.a)
  if(NOT LIFELINE_GCRYPT_INCLUDE_DIR OR NOT LIFELINE_GCRYPT_LIBRARY OR NOT LIFELINE_GPG_ERROR_LIBRARY)
    message(FATAL_ERROR "The Windows build without OpenSSL takes X25519 from libgcrypt, linked statically, "
                        "and its libgcrypt.a, libgpg-error.a or gcrypt.h is missing: install "
                        "libgcrypt-mingw-w64-dev (scripts/install-deps.sh --windows)")
  endif()
endif()

# xxHash is used header-only (XXH_INLINE_ALL), so only its header is needed.
find_path(LIFELINE_XXHASH_INCLUDE_DIR xxhash.h REQUIRED)

if(LIFELINE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(LIFELINE_BUILD_BENCH)
  find_package(benchmark QUIET)
endif()

# Warnings for lifeline's own targets.
add_library(lifeline_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(lifeline_warnings INTERFACE -Wall -Wextra -Wpedantic
                                                     $<$<BOOL:${LIFELINE_WERROR}>:-Werror>)
endif()
