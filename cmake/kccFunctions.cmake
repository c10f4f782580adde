# kccFunctions.cmake - kcc_add_kernels() and kcc_add_model(): compile .ir files or an ONNX
# model with kcc at build time into a static library an app links.
#
#   kcc_add_kernels(NAME
#     SOURCES model.ir [more.ir ...]   kernels (and hand schedules, and `model` blocks)
#     [SCHEDULES extra.ir ...]         more schedule files, applied after those in SOURCES
#     [common options, below])
#
#   kcc_add_model(NAME
#     MODEL file.onnx                  an ONNX model (opsets 11 to 18), imported by kcc
#     [INPUT_SHAPE name=DIMS ...]      pin a dynamic input's shape, e.g. input=1x3x224x224
#     [WEIGHTS embed|external]         embed (default): the weights are read-only data in the
#                                      object; external: they go to NAME.weights beside it
#                                      (${NAME_KCC_WEIGHTS}), loaded by NAME_load_weights()
#     [common options, below])
#
#   common options:
#     [TARGET host]                    host | x86_64-avx2 | x86_64-avx512 | aarch64-neon |
#                                      aarch64-sve | aarch64-a64fx | ... (default host; a
#                                      project cross-compiling for AArch64 must name one)
#     [MCPU cpu] [MATTR attrs]         overrides, as in llc
#     [REGISTRY file.kreg]             a locked registry: exactly these schedules, no tuning;
#                                      entries recorded on another cpu of the same instruction
#                                      set are used with a note (retune for best speed)
#     [LOCKED]                         with REGISTRY: demand entries recorded for this exact
#                                      target (cpu, features, options): --registry-strict
#     [TUNE_BUDGET n]                  measurements kcc may spend tuning at build time
#     [OPTIONS flag ...]               any other `kcc compile` flags
#
# Each runs `kcc compile` into ${CMAKE_CURRENT_BINARY_DIR}/kcc/NAME/ (NAME.o, NAME.h,
# NAME.kreg), again only when an input (source, schedule file, model), the registry or kcc
# itself changes, and defines a static library NAME holding NAME.o, with NAME.h's folder on its
# include path and kcc::runtime linked, so `target_link_libraries(app PRIVATE NAME)` is all an
# app needs. The output folder is in the variable NAME_KCC_DIR afterwards (and the property
# KCC_DIR). A model's entry points are `int NAME(const float *input, float *output)`,
# NAME_run() and NAME_workspace_size(); NAME.h has their sizes (KCC_<NAME>_INPUT_SIZE, ...).
include_guard(GLOBAL)

function(kcc_add_kernels name)
  cmake_parse_arguments(PARSE_ARGV 1 K "LOCKED" "TARGET;MCPU;MATTR;REGISTRY;TUNE_BUDGET"
                        "SOURCES;SCHEDULES;OPTIONS")
  _kcc_check_arguments(kcc_add_kernels ${name})
  if(NOT K_SOURCES)
    message(FATAL_ERROR "kcc_add_kernels(${name}): SOURCES is required")
  endif()
  _kcc_add_library(kcc_add_kernels ${name} INPUTS ${K_SOURCES} ${K_SCHEDULES})
  set(${name}_KCC_DIR ${${name}_KCC_DIR} PARENT_SCOPE)
endfunction()

function(kcc_add_model name)
  cmake_parse_arguments(PARSE_ARGV 1 K "LOCKED"
                        "MODEL;WEIGHTS;TARGET;MCPU;MATTR;REGISTRY;TUNE_BUDGET"
                        "INPUT_SHAPE;OPTIONS")
  _kcc_check_arguments(kcc_add_model ${name})
  if(NOT K_MODEL)
    message(FATAL_ERROR "kcc_add_model(${name}): MODEL is required (an .onnx file)")
  endif()
  set(args "")
  foreach(shape IN LISTS K_INPUT_SHAPE)
    list(APPEND args --input-shape ${shape})
  endforeach()
  set(weights_file "")
  if(K_WEIGHTS STREQUAL "external")
    list(APPEND args --weights external)
    set(weights_file WEIGHTS)
  elseif(K_WEIGHTS AND NOT K_WEIGHTS STREQUAL "embed")
    message(FATAL_ERROR "kcc_add_model(${name}): WEIGHTS is embed or external, not '${K_WEIGHTS}'")
  endif()
  _kcc_add_library(kcc_add_model ${name} INPUTS ${K_MODEL} ARGS ${args} ${weights_file})
  set(${name}_KCC_DIR ${${name}_KCC_DIR} PARENT_SCOPE)
  if(weights_file)
    set(${name}_KCC_WEIGHTS ${${name}_KCC_DIR}/${name}.weights PARENT_SCOPE)
  endif()
endfunction()

# The caller's arguments that no keyword took (its cmake_parse_arguments with prefix K).
macro(_kcc_check_arguments fn name)
  if(K_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${fn}(${name}): unknown arguments: ${K_UNPARSED_ARGUMENTS}")
  endif()
endmacro()

# _kcc_add_library(FUNCTION NAME INPUTS file... [ARGS flag...] [WEIGHTS]): what the kcc_add_*
# functions share. Reads the common options from the caller's K_* variables (its
# cmake_parse_arguments with prefix K), runs `kcc compile INPUTS... ARGS...` at build time and
# defines the library NAME; WEIGHTS: the command also writes NAME.weights. Sets NAME_KCC_DIR in
# the caller's scope.
function(_kcc_add_library fn name)
  cmake_parse_arguments(PARSE_ARGV 2 L "WEIGHTS" "" "INPUTS;ARGS")
  set(target host)
  if(K_TARGET)
    set(target ${K_TARGET})
  endif()
  if(CMAKE_CROSSCOMPILING AND target STREQUAL "host")
    message(FATAL_ERROR "${fn}(${name}): this project cross-compiles for "
                        "${CMAKE_SYSTEM_PROCESSOR}; give a TARGET for it (e.g. aarch64-a64fx, aarch64-sve, aarch64-neon)")
  endif()

  set(outdir ${CMAKE_CURRENT_BINARY_DIR}/kcc/${name})
  set(out ${outdir}/${name})
  set(inputs "")
  foreach(f IN LISTS L_INPUTS)
    get_filename_component(f "${f}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND inputs "${f}")
  endforeach()

  set(args compile ${inputs} --target ${target} -o ${out} ${L_ARGS})
  if(K_MCPU)
    list(APPEND args --mcpu ${K_MCPU})
  endif()
  if(K_MATTR)
    list(APPEND args --mattr ${K_MATTR})
  endif()
  set(registry "")
  if(K_REGISTRY)
    get_filename_component(registry "${K_REGISTRY}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args --registry ${registry})
    if(K_LOCKED)
      list(APPEND args --registry-strict)
    endif()
  elseif(K_LOCKED)
    message(FATAL_ERROR "${fn}(${name}): LOCKED needs a REGISTRY")
  endif()
  if(K_TUNE_BUDGET)
    list(APPEND args --budget ${K_TUNE_BUDGET})
  endif()
  list(APPEND args ${K_OPTIONS})

  set(outputs ${out}.o ${out}.h ${out}.kreg)
  if(L_WEIGHTS)
    list(APPEND outputs ${out}.weights)
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
    COMMAND kcc::kcc ${args}
    DEPENDS ${inputs} ${registry} kcc::kcc
    COMMENT "kcc: compiling ${name} for ${target}"
    VERBATIM)

  # A static library made of kcc's object file alone: the custom command's outputs stay in
  # this directory, so any target in any directory can link it.
  add_library(${name} STATIC ${out}.o ${out}.h)
  set_target_properties(${name} PROPERTIES LINKER_LANGUAGE C KCC_DIR ${outdir})
  target_include_directories(${name} PUBLIC ${outdir})
  # kcc::runtime, or the AArch64 runtime in a project cross-compiling for AArch64 (kccConfig).
  set(runtime kcc::runtime)
  if(KCC_RUNTIME_TARGET)
    set(runtime ${KCC_RUNTIME_TARGET})
  endif()
  target_link_libraries(${name} PUBLIC ${runtime} m)
  set(${name}_KCC_DIR ${outdir} PARENT_SCOPE)
endfunction()
