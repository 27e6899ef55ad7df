# Makes a bare `ctest` in the Windows cross-build safe under Wine, as scripts/test-windows.sh does:
# before ctest lists or runs any test, a script it includes starts the prefix's wineserver and
# Wine's services with their output in a log file. Started from inside a test instead, they would
# inherit ctest's pipes and stall it. The server outlives the last Wine process by 10 s, then exits
# and takes the services with it.
set(lifeline_wine_session ${CMAKE_BINARY_DIR}/wine-session.cmake)
file(CONFIGURE OUTPUT ${lifeline_wine_session} @ONLY CONTENT [=[
# Generated from cmake/lifelineWineSession.cmake: prepares the Wine prefix the tests run in.
set(prefix "@LIFELINE_WINEPREFIX@")
set(log "@CMAKE_BINARY_DIR@/wine-boot.log")
file(MAKE_DIRECTORY "${prefix}")
# Fails harmlessly when a server already runs (scripts/test-windows.sh starts one).
execute_process(COMMAND /usr/bin/env "WINEPREFIX=${prefix}" wineserver -p10
                INPUT_FILE /dev/null OUTPUT_FILE "${log}.server" ERROR_FILE "${log}.server")
execute_process(COMMAND /usr/bin/env "WINEPREFIX=${prefix}" WINEDEBUG=-all
                        "WINEDLLOVERRIDES=winedbg.exe=d;mscoree,mshtml=" wine cmd /c exit
                INPUT_FILE /dev/null OUTPUT_FILE "${log}" ERROR_FILE "${log}" TIMEOUT 300
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "could not start Wine in ${prefix} (${status}); see ${log}")
endif()
]=])
set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${lifeline_wine_session})
