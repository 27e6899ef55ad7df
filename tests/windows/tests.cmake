# Tests that only the Windows cross-build has: they check the Wine harness itself and compare the
# Windows binary with the Linux one. Included from tests/CMakeLists.txt.

# A crash must fail the run. With Wine's debugger enabled a crashing program can exit 0; this test
# passes only if a program that crashes is reported as failing (WILL_FAIL).
# The probe's clean run shows that the failure comes from the crash, not from a program that cannot start.
add_executable(wine_crash_probe windows/crash_probe.cpp)
add_test(NAME wine.probe_runs COMMAND wine_crash_probe exit)
add_test(NAME wine.crash_fails_the_test COMMAND wine_crash_probe)
set_tests_properties(wine.crash_fails_the_test PROPERTIES WILL_FAIL TRUE)
set_tests_properties(wine.probe_runs wine.crash_fails_the_test PROPERTIES LABELS wine TIMEOUT 60)

# `lifeline explain` answers the same on Linux and on Windows: the Linux binary of the debug preset
# (LIFELINE_HOST_CLI) and this build's lifeline.exe under Wine, query by query.
set(LIFELINE_HOST_CLI "" CACHE FILEPATH "The Linux lifeline binary to compare lifeline.exe with")
string(REPLACE ";" "|" emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")
add_test(NAME explain.same_answers_as_linux
         COMMAND ${CMAKE_COMMAND} -DHOST_CLI=${LIFELINE_HOST_CLI} -DWINDOWS_CLI=$<TARGET_FILE:lifeline_cli>
                 -DEMULATOR=${emulator} -P ${CMAKE_CURRENT_SOURCE_DIR}/windows/explain_parity.cmake)
set_tests_properties(explain.same_answers_as_linux PROPERTIES LABELS cli_explain TIMEOUT 120)

# `lifeline tunnel` asked for TLS in a build without OpenSSL: refused with the reason (exit 2), never
# quietly replaced by plain TCP. (The demo, end to end through the tunnel and the chaos proxy, is
# cli_demo_test, which runs here as on Linux.)
function(lifeline_wine_check name expected_exit patterns)
  string(REPLACE ";" "|" command "${emulator};$<TARGET_FILE:lifeline_cli>;${ARGN}")
  string(REPLACE ";" "|" match "${patterns}")
  add_test(NAME ${name} COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${command}" -DEXIT=${expected_exit} "-DMATCH=${match}"
                                -P ${CMAKE_CURRENT_SOURCE_DIR}/windows/run_check.cmake)
  set_tests_properties(${name} PROPERTIES LABELS wine_cli TIMEOUT 120)
endfunction()
lifeline_wine_check(tunnel.tls_is_refused_without_openssl 2 "TLS is not available in this build" tunnel server
                    --listen 127.0.0.1:0 --to 127.0.0.1:9 --tls-cert ${PROJECT_SOURCE_DIR}/README.md --tls-key
                    ${PROJECT_SOURCE_DIR}/README.md)

# The two builds interoperate: a Windows tunnel end (CNG) and a Linux one (OpenSSL), each way round, with a
# pre-shared key, through the Linux chaos proxy cutting every connection after 2 MiB; 16 MiB must arrive
# intact after seven or more resumes. Needs the Linux binary (LIFELINE_HOST_CLI) and socat.
foreach(windows_end client server)
  add_test(NAME interop.windows_${windows_end}_with_linux
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/windows/interop.sh ${windows_end} ${LIFELINE_HOST_CLI}
                   $<TARGET_FILE:lifeline_cli> ${CMAKE_CROSSCOMPILING_EMULATOR})
  set_tests_properties(interop.windows_${windows_end}_with_linux PROPERTIES LABELS interop TIMEOUT 300)
endforeach()

# `lifeline doctor` reads keep-alive and retransmission settings from the registry, else Windows' defaults.
add_test(NAME doctor.reads_the_registry_and_names_it_in_advice
         COMMAND ${CMAKE_COMMAND} -DWINDOWS_CLI=$<TARGET_FILE:lifeline_cli> -DEMULATOR=${emulator}
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/windows/doctor_registry.cmake)
set_tests_properties(doctor.reads_the_registry_and_names_it_in_advice PROPERTIES LABELS cli_doctor TIMEOUT 300)
