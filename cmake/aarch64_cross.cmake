# cmake/aarch64_cross.cmake - AArch64 pieces built by the host build with the Debian cross
# compiler (gcc-aarch64-linux-gnu), when it is installed:
#   ${CMAKE_BINARY_DIR}/aarch64/libkcc_runtime.a   the runtime for AArch64 apps and tests
#   ${CMAKE_BINARY_DIR}/aarch64/kcc-runner         the measurement runner (docs/runner.md)
# and installed as lib/aarch64-linux-gnu/libkcc_runtime.a and
# libexec/kcc/aarch64-linux-gnu/kcc-runner, where kccConfig.cmake finds them for projects
# configured with cmake/toolchain-aarch64.cmake. Sets KCC_HAVE_AARCH64_CROSS, and
# KCC_QEMU_AARCH64 when qemu-user is there to run AArch64 tests.

find_program(KCC_AARCH64_CC aarch64-linux-gnu-gcc)
find_program(KCC_AARCH64_AR aarch64-linux-gnu-ar)
find_program(KCC_QEMU_AARCH64 qemu-aarch64)
set(KCC_AARCH64_SYSROOT /usr/aarch64-linux-gnu CACHE PATH "AArch64 libc for qemu-aarch64 -L")
set(KCC_HAVE_AARCH64_CROSS OFF)
if(KCC_AARCH64_CC AND KCC_AARCH64_AR)
  set(KCC_HAVE_AARCH64_CROSS ON)
endif()

function(kcc_add_aarch64_cross_targets)
  if(NOT KCC_HAVE_AARCH64_CROSS)
    message(STATUS "kcc: no aarch64-linux-gnu-gcc: AArch64 runtime, runner and tests skipped")
    return()
  endif()
  set(dir ${CMAKE_BINARY_DIR}/aarch64)
  set(src ${PROJECT_SOURCE_DIR}/runtime/runtime.c)
  set(lib ${dir}/libkcc_runtime.a)
  add_custom_command(
    OUTPUT ${lib}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
    COMMAND ${KCC_AARCH64_CC} -O2 -std=c11 -fPIC -pthread -I${PROJECT_SOURCE_DIR}/runtime
            -c ${src} -o ${dir}/runtime.o
    COMMAND ${CMAKE_COMMAND} -E rm -f ${lib}
    COMMAND ${KCC_AARCH64_AR} rcs ${lib} ${dir}/runtime.o
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/runtime/kcc_runtime.h
    COMMENT "kcc: cross-building libkcc_runtime.a for AArch64"
    VERBATIM)
  add_custom_target(kcc_runtime_aarch64 ALL DEPENDS ${lib})

  set(rsrc ${PROJECT_SOURCE_DIR}/tools/runner/kcc_runner.c)
  set(runner ${dir}/kcc-runner)
  add_custom_command(
    OUTPUT ${runner}
    COMMAND ${KCC_AARCH64_CC} -O2 -std=c11 -rdynamic -I${PROJECT_SOURCE_DIR}/runtime ${rsrc}
            -Wl,--whole-archive ${lib} -Wl,--no-whole-archive -ldl -lm -pthread -o ${runner}
    DEPENDS ${rsrc} ${PROJECT_SOURCE_DIR}/tools/runner/kccd.h ${lib}
    COMMENT "kcc: cross-building kcc-runner for AArch64"
    VERBATIM)
  add_custom_target(kcc_runner_aarch64 ALL DEPENDS ${runner})

  install(FILES ${lib} DESTINATION lib/aarch64-linux-gnu)
  install(PROGRAMS ${runner} DESTINATION libexec/kcc/aarch64-linux-gnu)
endfunction()
