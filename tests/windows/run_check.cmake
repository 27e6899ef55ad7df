# Runs one command (through Wine), and fails unless it exits with EXIT and its output (standard output
# and error together) matches every regular expression in MATCH.
# cmake -DCOMMAND=wine|prog|args -DEXIT=0 -DMATCH=regex|regex -P run_check.cmake
string(REPLACE "|" ";" command "${COMMAND}")
string(REPLACE "|" ";" patterns "${MATCH}")
execute_process(COMMAND ${command} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 90)
string(REPLACE "\r\n" "\n" output "${out}${err}")
string(REPLACE ";" " " shown "${command}")
if(NOT status STREQUAL "${EXIT}")
  message(FATAL_ERROR "${shown}\nexited ${status}, expected ${EXIT}; it printed:\n${output}")
endif()
foreach(pattern IN LISTS patterns)
  if(NOT output MATCHES "${pattern}")
    message(FATAL_ERROR "${shown}\nprinted nothing matching '${pattern}'; it printed:\n${output}")
  endif()
endforeach()
message(STATUS "${shown}: exit ${status} as expected\n${output}")
