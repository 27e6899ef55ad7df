# Install rules and the exported package, so that a project can find_package(lifeline) and link one
# layer (lifeline::core, lifeline::session, lifeline::chaos, lifeline::doctor) or all (lifeline::lifeline).
include(CMakePackageConfigHelpers)

set(lifeline_install_targets lifeline_core lifeline_chaos lifeline_doctor lifeline)
if(TARGET lifeline_session)
  list(APPEND lifeline_install_targets lifeline_session)
endif()
install(TARGETS ${lifeline_install_targets} EXPORT lifelineTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET lifeline_cli)
  install(TARGETS lifeline_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lifeline DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/lifeline)
install(EXPORT lifelineTargets NAMESPACE lifeline:: DESTINATION ${config_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lifelineConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/lifelineConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lifelineConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lifelineConfig.cmake ${PROJECT_BINARY_DIR}/lifelineConfigVersion.cmake
        DESTINATION ${config_dir})
