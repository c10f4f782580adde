// ir/model.h - the weights of a `model` block (docs/language.md, Models).
//
// A weights file is raw data: each weight's elements, row-major and little-endian, at the byte
// offset its declaration gives (a multiple of 64), with anything in between ignored. The .ir
// text is the file's index, so the file needs no header and the text shows the whole layout.
#pragma once
#include <string>
#include <vector>

#include "ir/kernel.h"

namespace kcc {

/// Where the weights file of `model` is: its name relative to the directory of `m`'s file.
std::string weights_path(const Module &m, const ModelDecl &model);

/// The weights of `model`, in declaration order, read from the file at `path` and converted to
/// double. UserError if the file cannot be read or is too short for a weight, and for f16/bf16
/// weights (not supported yet).
std::vector<std::vector<double>> read_model_weights(const ModelDecl &model, const std::string &path);

}  // namespace kcc
