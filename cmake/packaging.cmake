# Installation layout and the Debian package (CPack).
#   cmake --install build --prefix /usr      binary, public headers, docs, examples, systemd unit
#   (cd build && cpack -G DEB)               vigil_<version>_<arch>.deb with its Debian dependencies
include(GNUInstallDirs)

install(TARGETS vigil RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vigil DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
# The CMake package plugins build against: find_package(vigil) -> vigil::plugin
# (the headers of <vigil/plugin.h> and <vigil/plugin.hpp>; nothing to link).
include(CMakePackageConfigHelpers)
set_target_properties(vigil_plugin_api PROPERTIES EXPORT_NAME plugin)
install(TARGETS vigil_plugin_api EXPORT vigilTargets)
install(EXPORT vigilTargets NAMESPACE vigil:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vigil)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vigilConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vigilConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vigil)
# Plugins built for ABI major 1 load in every vigil 1.x: same-major compatibility.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vigilConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vigilConfig.cmake ${PROJECT_BINARY_DIR}/vigilConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vigil)
# The example plugins, ready to load (paths in docs/plugins.md).
install(TARGETS rule_kurtosis decoder_hexframe LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/vigil/plugins)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# The unit runs /usr/bin/vigil: only meaningful for a /usr install (the package).
install(FILES ${PROJECT_SOURCE_DIR}/examples/systemd/vigil.service DESTINATION lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME vigil)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "vigil")
set(CPACK_PACKAGE_CONTACT "vigil maintainers <vigil@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "stream-processing rules engine for sensor data")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
# The shared libraries the binary links (Debian 12 package names; checked by
# tests/packaging/package_test.sh against ldd of the installed binary).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "librocksdb7.8, libsimdjson14, libyaml-cpp0.7, libprometheus-cpp-core1.0, libcivetweb1, libpaho-mqttpp3-1, libpaho-mqtt1.3, librdkafka1, libcurl4, libfmt9, libssl3, libstdc++6, libc6")
include(CPack)
