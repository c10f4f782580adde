# cmake/toolchain-aarch64.cmake - cross-compile a project that uses kcc for 64-bit Arm Linux
# with Debian's cross toolchain (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross):
#   cmake -S app -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=<kcc>/lib/cmake/kcc/toolchain-aarch64.cmake \
#         -DCMAKE_PREFIX_PATH=<kcc install prefix>
#   kcc_add_kernels(mlp SOURCES model.ir TARGET aarch64-a64fx)   # or aarch64-sve, aarch64-neon
# find_package(kcc) then provides the AArch64 runtime (lib/aarch64-linux-gnu/libkcc_runtime.a)
# while kcc itself runs on the build machine. Tests run through qemu-user when it is installed
# (CMAKE_CROSSCOMPILING_EMULATOR); choose the SVE length with e.g.
#   -DKCC_QEMU_CPU=max,sve512=on   (default; a64fx code needs 512-bit SVE)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_AR aarch64-linux-gnu-ar CACHE FILEPATH "")

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)   # kcc and other build tools run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)    # find_package(kcc) in the host prefix

if(NOT KCC_QEMU_CPU)
  set(KCC_QEMU_CPU "max,sve512=on" CACHE STRING "qemu-aarch64 -cpu for running AArch64 tests")
endif()
find_program(KCC_QEMU_AARCH64 qemu-aarch64 NO_CMAKE_FIND_ROOT_PATH)
if(KCC_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${KCC_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu;-cpu;${KCC_QEMU_CPU})
endif()
