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

# kcc_add_model (and kcc_add_kernels) called wrongly: the message names the function, the
# library and the mistake.
set(cases "MODEL is required" "WEIGHTS is embed or external, not 'inline'"
          "unknown arguments: BOGUS" "LOCKED needs a REGISTRY" "unknown arguments: SOURCE")
set(n 0)
foreach(want IN LISTS cases)
  execute_process(COMMAND ${CMAKE_COMMAND} -DFUNCTIONS=${prefix}/lib/cmake/kcc/kccFunctions.cmake
                          -DCASE=${n} -P ${CMAKE_CURRENT_LIST_DIR}/model_package/errors.cmake
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  string(REPLACE "\n" " " err "${err}")
  string(REGEX REPLACE " +" " " err "${err}")
  if(rc EQUAL 0 OR NOT err MATCHES "kcc_add_(model|kernels)\\(bad\\): ")
    message(FATAL_ERROR "error case ${n}: exit ${rc}, no message naming the call: ${err}")
  endif()
  string(FIND "${err}" "${want}" at)
  if(at LESS 0)
    message(FATAL_ERROR "error case ${n}: expected '${want}' in: ${err}")
  endif()
  math(EXPR n "${n} + 1")
endforeach()
message(STATUS "kcc_add_model, kcc_add_kernels: ${n} wrong calls rejected with their messages")

# WEIGHTS external and INPUT_SHAPE, on the model examples/resnet exported (when it did).
if(EXISTS ${build}/resnet/data/resnet18.onnx)
  run("configure model_package" ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/model_package
      -B ${WORK_DIR}/model_package -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_BUILD_TYPE=Release -DMODEL_DIR=${build}/resnet/data ${cc_arg})
  run("build model_package" ${CMAKE_COMMAND} --build ${WORK_DIR}/model_package --parallel 2)
  run("r18_app" ${WORK_DIR}/model_package/r18_app)
endif()
