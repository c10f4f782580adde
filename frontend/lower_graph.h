// frontend/lower_graph.h - a Graph (after the graph passes) as `.ir` text: kernels and one model.
//
// Each group of a Partition becomes one kernel, written with the language's layer shorthands
// where one fits (conv2d, maxpool2d, avgpool2d, dense, matmul, bias_add, softmax, layernorm) and in
// index notation otherwise; kernels whose text is the same (one workload used several times, as
// ResNet's repeated convolutions) are written once and called several times. Operators that only
// move data within one tensor (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice, Split,
// Gather with constant indices) are views: they make no kernel of their own, the kernels that
// read them index the viewed tensor directly. Constants become weights in a binary file (f32,
// 64-byte aligned offsets); single-element constants are written as literals.
//
// The text parses back with parse_module and passes its checks. A node the language cannot
// express yet is a ModelError naming it: `model.onnx: node 'c' (Conv): error: ...`.
#pragma once
#include <string>
#include <vector>

#include "frontend/graph.h"

namespace kcc::frontend {

/// The nodes each kernel computes: indices into Graph::nodes, in graph order, one group per
/// kernel. Every node that is not a view (is_view) is in exactly one group; only the outputs of
/// a group's nodes that are read outside it (or are graph outputs) leave the kernel.
struct Partition {
  std::vector<std::vector<size_t>> groups;
};

/// True for the operators lowered as views of their input (see the banner): no kernel of their own.
bool is_view(const Graph &g, const Node &n);

struct LowerOptions {
  std::string path;          ///< the model file, for messages
  std::string model_name;    ///< the `model` block's name (an identifier)
  std::string weights_file;  ///< as the `weights` line names it, relative to the .ir file
};

struct LoweredModel {
  std::string ir;       ///< the .ir text
  std::string weights;  ///< the weights file's bytes
};

/// Lowers `g`, one kernel per group of `p`. Throws ModelError for what cannot be lowered.
LoweredModel lower_graph(const Graph &g, const Partition &p, const LowerOptions &o);

}  // namespace kcc::frontend
