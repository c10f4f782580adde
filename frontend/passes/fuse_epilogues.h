// frontend/passes/fuse_epilogues.h - which nodes share a kernel.
#pragma once
#include "frontend/graph.h"
#include "frontend/lower_graph.h"

namespace kcc::frontend {

/// Groups each node with the chain of element-wise nodes that follow it (bias and residual adds,
/// Relu, Clip and the other activations, Mul/Div by constants, an unfolded BatchNormalization):
/// a node joins its producer's kernel when it is element-wise, keeps the shape of the value it
/// takes from the producer, and that value is read by nothing else and is no graph output. The
/// other operands of a fused node (a residual, a bias) become arguments of the kernel. Views
/// (is_view) are in no group.
Partition fuse_epilogues(const Graph &g);

/// One kernel per node (every view excepted): the partition without fusion.
Partition one_kernel_per_node(const Graph &g);

}  // namespace kcc::frontend
