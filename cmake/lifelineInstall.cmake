# Install rules and the exported package, so that a project can find_package(lifeline) and link
# lifeline::lifeline.
include(CMakePackageConfigHelpers)

install(TARGETS lifeline EXPORT lifelineTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS lifeline_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/lifeline DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/lifeline)
install(EXPORT lifelineTargets NAMESPACE lifeline:: DESTINATION ${config_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/lifelineConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/lifelineConfig.cmake INSTALL_DESTINATION ${config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/lifelineConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/lifelineConfig.cmake ${PROJECT_BINARY_DIR}/lifelineConfigVersion.cmake
        DESTINATION ${config_dir})
