// ir/layers.h - layer shorthands: `Y = conv2d(X, W, stride=2, pad=1)` stands for stages.
//
// Inside a kernel body, `NAME = LAYER(TENSOR, ..., key=value, ...)` is replaced, while parsing,
// by the stages in index notation it stands for, built as the same syntax trees the parser
// builds for hand-written stages. The checker, printer, interpreter, schedules and code
// generators never see a layer. The last stage defines NAME; helper stages are named
// `NAME_pad`, `NAME_max`, ... (docs/language.md lists every expansion). Output shapes are
// computed from the arguments' shapes; a NAME declared as an output must have that shape.
//
// Each layer is one expansion function in layers.cpp, found by name in one table.
// Internal to ir/: parser.cpp parses the call, expand_layer builds the stages.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/check.h"

namespace kcc::ast {

/// A tensor argument of a layer: a plain tensor name.
struct LayerArg {
  std::string name;
  SourceLoc loc;
};

/// `key=value`: an integer or float literal (a leading '-' folded in), or a list of integers
/// `key=[a, b, ...]` (per-axis values: `stride=[2, 1]`, `pad=[top, left, bottom, right]`).
struct LayerKey {
  std::string key;
  SourceLoc loc;  ///< the key
  SourceLoc value_loc;  ///< the number, or the list's '['
  bool is_int = true;
  int64_t int_value = 0;
  double float_value = 0;  ///< the value for floats and integers alike
  std::string text;        ///< the value as written
  bool is_list = false;
  std::vector<int64_t> list;          ///< the integers of a list
  std::vector<SourceLoc> list_locs;   ///< where each one is
};

/// `NAME = LAYER(args..., keys...)`
struct LayerCall {
  std::string result;
  SourceLoc result_loc;
  std::string layer;
  SourceLoc layer_loc;
  std::vector<LayerArg> args;  ///< tensors, in order
  std::vector<LayerKey> keys;  ///< as written, in order
};

/// A tensor's element type (as written) and shape.
struct TensorShape {
  std::string elem;
  std::vector<int64_t> dims;
};

/// What the kernel around a call holds, as far as the parser knows it.
struct LayerScope {
  std::map<std::string, TensorShape> known;  ///< inputs, outputs, annotated and layer-defined stages
  std::set<std::string> unknown;             ///< earlier stages whose shape only the checker infers
  std::set<std::string> tensor_names;        ///< every tensor of the kernel; index variables avoid them
  const Param *output = nullptr;             ///< the declared output named like the result, if any
};

/// Is `name` a layer?
bool is_layer(const std::string &name);
/// "conv2d, matmul, ..." for messages.
std::string layer_names();

/// The stages `call` stands for, in order; the last defines `call.result`. Throws UserError at
/// the offending token: unknown or repeated keyword, wrong number of tensors, wrong rank or
/// element type, mismatched shapes, bad keyword values, a declared output of another shape.
std::vector<Stage> expand_layer(const LayerCall &call, const LayerScope &scope);

}  // namespace kcc::ast
