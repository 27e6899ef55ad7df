# Runs the same `lifeline explain` queries through the Linux binary and through the Windows binary under
# Wine, and fails on the first difference in standard output or exit status.
# cmake -DHOST_CLI=... -DWINDOWS_CLI=... -DEMULATOR=wine|args -P explain_parity.cmake
if(NOT HOST_CLI OR NOT EXISTS "${HOST_CLI}")
  message(FATAL_ERROR "the Linux lifeline binary '${HOST_CLI}' is missing: build it first "
                      "(cmake --build --preset debug --target lifeline_cli) or set LIFELINE_HOST_CLI")
endif()
string(REPLACE "|" ";" emulator "${EMULATOR}")

# Numbers below 10000 are read with an explicit --windows or --posix: without one, each binary reads
# them in its own platform's space, which is the documented difference.
set(queries
    "--json|--windows|10052" "--json|--windows|10054" "--json|--windows|10060" "--json|--windows|995"
    "--json|--windows|6" "--json|--posix|104" "--json|--posix|110" "--json|--posix|11"
    "--json|10052" "--json|0x2744" "--json|WSAENETRESET" "--json|wsaetimedout" "--json|ECONNRESET"
    "--json|ewouldblock" "--json|11001" "--windows|10052" "--posix|104" "ENETRESET"
    "--list|--json" "--list|--windows|--json" "--list|--posix|--json" "--list"
    "--json|--windows|12345" "--json|0xZZ" "--json|WSAENOTREAL" "--json|--posix|9999")
set(compared 0)
foreach(query IN LISTS queries)
  string(REPLACE "|" ";" arguments "${query}")
  execute_process(COMMAND ${HOST_CLI} explain ${arguments} RESULT_VARIABLE host_status
                  OUTPUT_VARIABLE host_out ERROR_QUIET TIMEOUT 30)
  execute_process(COMMAND ${emulator} ${WINDOWS_CLI} explain ${arguments} RESULT_VARIABLE windows_status
                  OUTPUT_VARIABLE windows_out ERROR_VARIABLE windows_err TIMEOUT 30)
  # The Windows C runtime writes text-mode newlines.
  string(REPLACE "\r\n" "\n" windows_out "${windows_out}")
  string(REPLACE ";" " " shown "${arguments}")
  if(NOT host_status STREQUAL windows_status)
    message(FATAL_ERROR "lifeline explain ${shown}: Linux exits ${host_status}, Windows ${windows_status}\n"
                        "Windows printed:\n${windows_out}\nand on standard error:\n${windows_err}")
  endif()
  if(host_out STREQUAL "")
    message(FATAL_ERROR "lifeline explain ${shown}: the Linux binary printed nothing")
  endif()
  if(NOT host_out STREQUAL windows_out)
    message(FATAL_ERROR "lifeline explain ${shown}: outputs differ\nLinux:\n${host_out}\nWindows:\n${windows_out}")
  endif()
  math(EXPR compared "${compared} + 1")
endforeach()
message(STATUS "lifeline explain: ${compared} queries answered identically by Linux and Windows")
