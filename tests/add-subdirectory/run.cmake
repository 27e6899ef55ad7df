# Configures, builds and runs tests/add-subdirectory in a scratch folder: lifeline is built again there,
# from source, as part of that project. GoogleTest and CLI11 are disabled: such a project needs neither.
file(REMOVE_RECURSE ${SCRATCH_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${TEST_PROJECT_DIR} -B ${SCRATCH_DIR} -G ${CMAKE_GENERATOR}
                        -DLIFELINE_SOURCE_DIR=${LIFELINE_SOURCE_DIR} -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
                        "-DCMAKE_CXX_FLAGS=${CMAKE_CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}"
                        -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${SCRATCH_DIR} COMMAND_ERROR_IS_FATAL ANY)
foreach(program user_core user_lifeline)
  execute_process(COMMAND ${SCRATCH_DIR}/${program} COMMAND_ERROR_IS_FATAL ANY)
endforeach()
