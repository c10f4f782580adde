# cmake -P cmake_package.cmake: installs the built kcc into a fresh prefix, builds examples/
# against the installed package in a separate build folder and runs every example app (resnet:
# kcc_add_model on a ResNet-18 that PyTorch exports at build time; skipped, saying why, when the
# examples' python lacks torch).
#   -DKCC_BUILD_DIR=... -DKCC_SOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -DC_COMPILER=...
#   -DPYTHON=... (the examples' python; when it has torch, skipping resnet is a failure)
foreach(v KCC_BUILD_DIR KCC_SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "cmake_package.cmake: -D${v}= is required")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}): ${ARGN}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/examples)
file(REMOVE_RECURSE ${WORK_DIR})

run("install" ${CMAKE_COMMAND} --install ${KCC_BUILD_DIR} --prefix ${prefix})
foreach(f bin/kcc lib/libkcc_runtime.a include/kcc_runtime.h lib/cmake/kcc/kccConfig.cmake
          lib/cmake/kcc/kccConfigVersion.cmake lib/cmake/kcc/kccTargets.cmake
          lib/cmake/kcc/kccFunctions.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "the install lacks ${f}")
  endif()
endforeach()

set(cc_arg "")
if(C_COMPILER)
  set(cc_arg -DCMAKE_C_COMPILER=${C_COMPILER})
endif()
set(python_arg "")
set(have_torch FALSE)
if(PYTHON)
  set(python_arg -DKCC_EXAMPLE_PYTHON=${PYTHON})
  execute_process(COMMAND ${PYTHON} -c "import torch, torchvision" RESULT_VARIABLE rc
                  OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    set(have_torch TRUE)
  endif()
endif()
run("configure examples" ${CMAKE_COMMAND} -S ${KCC_SOURCE_DIR}/examples -B ${build} -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release ${cc_arg} ${python_arg})
run("build examples" ${CMAKE_COMMAND} --build ${build} --parallel 2)
foreach(app matmul/matmul_app mlp/mlp_app resnet_block/resnet_block_app resnet/resnet_app)
  get_filename_component(dir ${build}/${app} DIRECTORY)
  if(EXISTS ${dir}/SKIPPED)
    file(READ ${dir}/SKIPPED why)
    if(have_torch)
      message(FATAL_ERROR "${PYTHON} has torch, yet ${why}")
    endif()
    message(STATUS "${why}")
    continue()
  endif()
  message(STATUS "running ${app}")
  run("${app}" ${build}/${app})
endforeach()
