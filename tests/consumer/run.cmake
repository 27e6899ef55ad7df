# Installs the built lifeline into a scratch prefix, then configures, builds and runs tests/consumer
# against that prefix alone: one program per exported target, each linking only that target.
file(REMOVE_RECURSE ${SCRATCH_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${LIFELINE_BINARY_DIR} --prefix ${SCRATCH_DIR}/prefix
                COMMAND_ERROR_IS_FATAL ANY)
# CLI11 is disabled: the installed package must not need it.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${SCRATCH_DIR}/build -G ${CMAKE_GENERATOR}
                        -DCMAKE_PREFIX_PATH=${SCRATCH_DIR}/prefix -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
                        "-DCMAKE_CXX_FLAGS=${CMAKE_CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}"
                        -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DLIFELINE_EXPECT_SESSION=${LIFELINE_WITH_SESSION}
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${SCRATCH_DIR}/build COMMAND_ERROR_IS_FATAL ANY)
set(layers core chaos doctor lifeline)
if(LIFELINE_WITH_SESSION)
  list(APPEND layers session)
endif()
foreach(layer IN LISTS layers)
  execute_process(COMMAND ${SCRATCH_DIR}/build/consumer_${layer} COMMAND_ERROR_IS_FATAL ANY)
endforeach()
