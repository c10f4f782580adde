// frontend/passes/graph_uses.h - who writes and who reads each tensor of a Graph.
#pragma once
#include <vector>

#include "frontend/graph.h"

namespace kcc::frontend {

/// A snapshot: recompute it after changing the graph.
class Uses {
 public:
  explicit Uses(const Graph &g) : producer_(g.tensors.size(), -1), readers_(g.tensors.size()), output_(g.tensors.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      for (TensorId t : g.nodes[i].outputs) producer_[t] = int(i);
      for (TensorId t : g.nodes[i].inputs) readers_[t].push_back(i);
    }
    for (TensorId t : g.outputs) output_[t] = true;
  }
  /// The node writing `t`, or -1 (an input or a constant).
  int producer(TensorId t) const { return producer_[t]; }
  /// How many node inputs read `t` (a node reading it twice counts twice).
  size_t readers(TensorId t) const { return readers_[t].size(); }
  const std::vector<size_t> &reader_nodes(TensorId t) const { return readers_[t]; }
  bool is_output(TensorId t) const { return output_[t]; }

 private:
  std::vector<int> producer_;
  std::vector<std::vector<size_t>> readers_;
  std::vector<bool> output_;
};

}  // namespace kcc::frontend
