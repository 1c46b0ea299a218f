# The libraries tadlora needs besides ns-3, found the same way in both builds (out of tree and
# in an ns-3 tree) by contrib/tadlora/CMakeLists.txt.
# All from Debian bookworm's packages (README "Dependencies").
include_guard(GLOBAL)

# Imported targets must be visible outside the directory that found them: in tree ns-3's test
# runner links the module from the top directory, out of tree tests/ and bench/ link them.
set(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL ON)
find_package(Torch REQUIRED)
find_package(Boost REQUIRED COMPONENTS graph)
# libdeflate (gzip decompression, CRC-32) ships no CMake package: an imported target of our own.
find_path(LIBDEFLATE_INCLUDE_DIR libdeflate.h REQUIRED)
find_library(LIBDEFLATE_LIBRARY deflate REQUIRED)
add_library(libdeflate::libdeflate UNKNOWN IMPORTED GLOBAL)
set_target_properties(libdeflate::libdeflate PROPERTIES IMPORTED_LOCATION "${LIBDEFLATE_LIBRARY}"
                      INTERFACE_INCLUDE_DIRECTORIES "${LIBDEFLATE_INCLUDE_DIR}")
# SLEEF, the vectorized math library LibTorch runs on (libtorch depends on libsleef3):
# tadlora-exp.cc calls the exp LibTorch calls.
find_library(SLEEF_LIBRARY NAMES sleef libsleef.so.3 REQUIRED)
add_library(sleef::sleef UNKNOWN IMPORTED GLOBAL)
set_target_properties(sleef::sleef PROPERTIES IMPORTED_LOCATION "${SLEEF_LIBRARY}")
# oneDNN (libdnnl-dev), whose sgemm runs the frozen layers' products (tadlora-product.h). Its
# CMake package also wants OpenCL's development files, which its CPU matmul does not use: an
# imported target of our own, on the library and its C header.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h REQUIRED)
find_library(DNNL_LIBRARY dnnl REQUIRED)
add_library(dnnl::dnnl UNKNOWN IMPORTED GLOBAL)
set_target_properties(dnnl::dnnl PROPERTIES IMPORTED_LOCATION "${DNNL_LIBRARY}"
                      INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}")
find_package(nlohmann_json REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(OpenMP REQUIRED)
