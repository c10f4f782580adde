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
/// `source_path` the .ir file it came from.
std::string generate_header(const std::string &name, const std::string &source_path,
                            const std::vector<CompiledKernel> &kernels,
                            const Target &t, const std::string &kcc_version,
                            const std::vector<CompiledModel> &models = {});

/// `name` as a C identifier: characters other than [A-Za-z0-9_] become '_', and a leading
/// digit gets a '_' in front.
std::string c_identifier(const std::string &name);

}  // namespace kcc
