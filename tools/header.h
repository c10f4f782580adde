// tools/header.h - the C header kcc writes beside the object file (DESIGN §5, NAME.h).
#pragma once
#include <string>

#include "codegen/target.h"
#include "passes/pipeline.h"

namespace kcc {

/// Text of NAME.h for the kernels of a compiled module (CompileResult::kernels): prototypes,
/// shape constants and the kernel table `kcc_NAME_registry[]`; for each model
/// (CompileResult::models) its entry points, workspace and weights sizes and tensor shapes. Valid C99 and C++; several
/// generated headers can be included in one translation unit. `name` is the output's base name (made into a C identifier here),
/// `source_path` the .ir file it came from. Each kernel's C symbol is `symbol_prefix` + its name
/// (kernel_symbol_prefix); the table's `name` stays the kernel's.
std::string generate_header(const std::string &name, const std::string &source_path,
                            const std::vector<CompiledKernel> &kernels,
                            const Target &t, const std::string &kcc_version,
                            const std::vector<CompiledModel> &models = {}, const std::string &symbol_prefix = "");

/// The prefix of the kernels' C symbols in the object NAME.o: "NAME_" when `m` holds a model
/// (its kernels are named after their workloads, so two models' objects would define the same
/// symbols), else "" (kernels keep the names the user gave them). A UserError, at the kernel,
/// when a prefixed name would be one of a model's entry points.
std::string kernel_symbol_prefix(const std::string &name, const Module &m);

/// `name` as a C identifier: characters other than [A-Za-z0-9_] become '_', and a leading
/// digit gets a '_' in front.
std::string c_identifier(const std::string &name);

}  // namespace kcc
