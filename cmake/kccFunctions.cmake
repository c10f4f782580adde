# kccFunctions.cmake - kcc_add_kernels(): compile model.ir files with kcc at build time.
#
#   kcc_add_kernels(NAME
#     SOURCES model.ir [more.ir ...]   kernels (and hand schedules)
#     [TARGET host]                    host | x86_64-avx2 | x86_64-avx512 | aarch64-neon |
#                                      aarch64-sve | aarch64-a64fx | ... (default host; a
#                                      project cross-compiling for AArch64 must name one)
#     [MCPU cpu] [MATTR attrs]         overrides, as in llc
#     [REGISTRY file.kreg]             a locked registry: exactly these schedules, no tuning;
#                                      entries recorded on another cpu of the same instruction
#                                      set are used with a note (retune for best speed)
#     [LOCKED]                         with REGISTRY: demand entries recorded for this exact
#                                      target (cpu, features, options): --registry-strict
#     [SCHEDULES extra.ir ...]         more schedule files, applied after those in SOURCES
#     [TUNE_BUDGET n]                  measurements kcc may spend tuning at build time
#     [OPTIONS flag ...])              any other `kcc compile` flags
#
# Runs `kcc compile` into ${CMAKE_CURRENT_BINARY_DIR}/kcc/NAME/ (NAME.o, NAME.h, NAME.kreg),
# again only when a source, schedule file, the registry or kcc itself changes, and defines a
# static library NAME holding NAME.o, with NAME.h's folder on its include path and
# kcc::runtime linked, so `target_link_libraries(app PRIVATE NAME)` is all an app needs.
# The output folder is in the variable NAME_KCC_DIR afterwards (and the property KCC_DIR).
include_guard(GLOBAL)

function(kcc_add_kernels name)
  cmake_parse_arguments(PARSE_ARGV 1 K "LOCKED" "TARGET;MCPU;MATTR;REGISTRY;TUNE_BUDGET"
                        "SOURCES;SCHEDULES;OPTIONS")
  if(K_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "kcc_add_kernels(${name}): unknown arguments: ${K_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT K_SOURCES)
    message(FATAL_ERROR "kcc_add_kernels(${name}): SOURCES is required")
  endif()
  if(NOT K_TARGET)
    set(K_TARGET host)
  endif()
  if(CMAKE_CROSSCOMPILING AND K_TARGET STREQUAL "host")
    message(FATAL_ERROR "kcc_add_kernels(${name}): this project cross-compiles for "
                        "${CMAKE_SYSTEM_PROCESSOR}; give a TARGET for it (e.g. aarch64-a64fx, aarch64-sve, aarch64-neon)")
  endif()

  set(outdir ${CMAKE_CURRENT_BINARY_DIR}/kcc/${name})
  set(out ${outdir}/${name})
  set(inputs "")
  foreach(f IN LISTS K_SOURCES K_SCHEDULES)
    get_filename_component(f "${f}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND inputs "${f}")
  endforeach()

  set(args compile ${inputs} --target ${K_TARGET} -o ${out})
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
    message(FATAL_ERROR "kcc_add_kernels(${name}): LOCKED needs a REGISTRY")
  endif()
  if(K_TUNE_BUDGET)
    list(APPEND args --budget ${K_TUNE_BUDGET})
  endif()
  list(APPEND args ${K_OPTIONS})

  add_custom_command(
    OUTPUT ${out}.o ${out}.h ${out}.kreg
    COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
    COMMAND kcc::kcc ${args}
    DEPENDS ${inputs} ${registry} kcc::kcc
    COMMENT "kcc: compiling ${name} for ${K_TARGET}"
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
