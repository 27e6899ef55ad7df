# Cross-builds lifeline for 64-bit Windows with Debian's MinGW-w64 (GCC 12, POSIX threads) and runs
# what it builds under Wine: `cmake --preset windows`, or -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(lifeline_mingw_triple x86_64-w64-mingw32)
# The -posix variants: the win32-thread variants have no std::thread, std::mutex or
# std::condition_variable.
set(CMAKE_C_COMPILER ${lifeline_mingw_triple}-gcc-posix)
set(CMAKE_CXX_COMPILER ${lifeline_mingw_triple}-g++-posix)
set(CMAKE_RC_COMPILER ${lifeline_mingw_triple}-windres)

# Libraries and packages come from the MinGW sysroot only; never from the build machine's /usr. The
# header-only dependencies the build does take from /usr/include come through one folder of links,
# made by cmake/lifelineCrossProvider.cmake.
set(CMAKE_FIND_ROOT_PATH /usr/${lifeline_mingw_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static: an executable that misses a DLL (libstdc++-6, libwinpthread-1, libgcc_s_seh-1) exits 53
# under Wine without a word.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# GCC 12 for MinGW reports a false -Wmismatched-new-delete on coroutine frames; the Linux build keeps
# the warning.
set(CMAKE_CXX_FLAGS_INIT "-Wno-mismatched-new-delete")

# Runs what the build makes, for ctest and gtest_discover_tests. Crashes must fail: with Wine's
# debugger disabled a crashing process exits non-zero instead of 0. scripts/test-windows.sh boots this
# prefix and starts its wineserver before ctest runs, so that neither inherits ctest's pipes.
set(LIFELINE_WINEPREFIX "${CMAKE_BINARY_DIR}/wine" CACHE PATH "The Wine prefix tests run in")
set(CMAKE_CROSSCOMPILING_EMULATOR
    /usr/bin/env WINEPREFIX=${LIFELINE_WINEPREFIX} WINEDEBUG=-all WINEDLLOVERRIDES=winedbg.exe=d wine)
# Under Wine, the build machine's / is drive Z:, which is how a test running under Wine names a file
# the build made (tests/CMakeLists.txt).
set(LIFELINE_EMULATOR_PATH_PREFIX "Z:")

# Boost, fmt, CLI11, xxHash and GoogleTest for the cross-build: see that file.
list(APPEND CMAKE_PROJECT_TOP_LEVEL_INCLUDES ${CMAKE_CURRENT_LIST_DIR}/lifelineCrossProvider.cmake
     ${CMAKE_CURRENT_LIST_DIR}/lifelineWineSession.cmake)
