# `lifeline doctor` on Windows reads the machine's keep-alive and retransmission settings from the
# registry (HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters) and names them in its advice; with
# nothing set there it reports Windows' documented defaults. Sets values in the test's own Wine prefix,
# runs doctor, and removes them again whatever happened.
# cmake -DWINDOWS_CLI=... -DEMULATOR=env|...|wine -P doctor_registry.cmake
string(REPLACE "|" ";" emulator "${EMULATOR}")
set(key "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters")
set(values KeepAliveTime KeepAliveInterval TcpMaxDataRetransmissions)

function(clear_values)
  foreach(v IN LISTS values)
    execute_process(COMMAND ${emulator} reg delete ${key} /v ${v} /f OUTPUT_QUIET ERROR_QUIET TIMEOUT 60)
  endforeach()
endfunction()

function(doctor out_var)
  # Port 9 on loopback refuses: doctor exits 1 for that problem and still reports the system settings.
  execute_process(COMMAND ${emulator} ${WINDOWS_CLI} doctor 127.0.0.1:9 RESULT_VARIABLE status
                  OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  string(REPLACE "\r\n" "\n" out "${out}${err}")
  if(NOT status EQUAL 1)
    message(FATAL_ERROR "lifeline doctor 127.0.0.1:9 exited ${status}, expected 1 (refused):\n${out}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

function(expect text pattern)
  if(NOT text MATCHES "${pattern}")
    message(FATAL_ERROR "lifeline doctor printed nothing matching '${pattern}':\n${text}")
  endif()
endfunction()

clear_values()
doctor(defaults)
expect("${defaults}" "dead idle peer after 2\\.0 h \\(7210 s\\) \\(idle 7200 s, interval 1 s x 10 probes[^\n]*from the Windows defaults")
expect("${defaults}" "with TcpMaxDataRetransmissions=5 a dead peer is found only after about 18\\.9 s")
expect("${defaults}" "or lower KeepAliveTime / KeepAliveInterval \\(ms\\) under HKLM")

execute_process(COMMAND ${emulator} reg add ${key} /v KeepAliveTime /t REG_DWORD /d 45000 /f
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET TIMEOUT 60)
execute_process(COMMAND ${emulator} reg add ${key} /v KeepAliveInterval /t REG_DWORD /d 3000 /f
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET TIMEOUT 60)
execute_process(COMMAND ${emulator} reg add ${key} /v TcpMaxDataRetransmissions /t REG_DWORD /d 12 /f
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET TIMEOUT 60)
doctor(set)
clear_values()
expect("${set}" "ok +keepalive_defaults +sockets that set nothing find a dead idle peer after 75 s \\(idle 45 s, interval 3 s x 10 probes[^\n]*from the registry")
expect("${set}" "warning +unacknowledged_data [^\n]*TcpMaxDataRetransmissions=12 a dead peer is found only after about 10\\.6 min")
expect("${set}" "set TCP_MAXRT per socket \\(lifeline sets 20 s\\), or lower TcpMaxDataRetransmissions under HKLM")
message(STATUS "lifeline doctor read the registry's settings and Windows' defaults")
