// frontend/onnx_import.h - reads an ONNX model into a typed, shape-inferred Graph.
//
// Reads ai.onnx opsets 11 to 18. Every operator must be one of frontend/graph.h's OpKinds or one
// the importer folds away (Shape, Constant, ConstantOfShape, Cast, Range, Equal, Where, Expand,
// Identity, Dropout); shapes are inferred with ONNX's rules for the model's opset and constant
// shape computations are folded. Inputs with dynamic dimensions must be pinned.
//
// Errors in the model are ModelErrors (UserErrors) that name the file and, where there is one,
// the node:
//   model.onnx: node 'conv_12' (Conv): error: input X has 3 channels but W expects 4 (group 1)
//   model.onnx: error: input 'input' has a dynamic dimension 'batch'; pin it with
//     --input-shape input=1x3x224x224
#pragma once
#include <map>
#include <string>
#include <utility>

#include "frontend/graph.h"
#include "ir/diag.h"

namespace kcc::frontend {

struct ImportOptions {
  /// Static shapes for the model's inputs (`--input-shape input=1x3x224x224`); required for inputs
  /// with dynamic dimensions, and must agree with the model's static ones.
  std::map<std::string, Shape> input_shapes;
};

/// Parses one `--input-shape` value, "NAME=D0xD1x..." (a scalar: "NAME=" with no dimensions);
/// a UserError if it is malformed.
std::pair<std::string, Shape> parse_input_shape(const std::string &spec);

/// Reads the ONNX model at `path`. Throws ModelError for a bad or unsupported model and UserError
/// when the file cannot be read.
Graph import_onnx(const std::string &path, const ImportOptions &options);
/// The same for a model already in memory; `path` names it in messages (and locates external
/// data).
Graph import_onnx_bytes(const std::string &bytes, const std::string &path, const ImportOptions &options);

/// An error in a model file. Its text is the whole message, "PATH: [node 'N' (Op): ]error: MSG"
/// (there is no line and column to point at); message() is MSG.
class ModelError : public UserError {
 public:
  ModelError(const std::string &path, const std::string &where, const std::string &msg);
  const char *what() const noexcept override { return text_.c_str(); }

 private:
  std::string text_;
};

}  // namespace kcc::frontend
