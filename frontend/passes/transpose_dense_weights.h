// frontend/passes/transpose_dense_weights.h - a dense layer's constant weights stored [in, out].
#pragma once
#include "frontend/graph.h"

namespace kcc::frontend {

/// PyTorch exports nn.Linear as Gemm(X, W, b) with transB = 1 and W [out, in]: the kernel's
/// vectorized axis (the outputs) then runs across W's rows, and every vector load is a gather
/// (VGG-16's first classifier layer: 411 MB of weights, 0.2 GFLOP/s). Each Gemm with transB = 1
/// whose B is an f32 constant of rank 2 read by no other node gets B transposed at import time
/// (a new constant `NAME_t`, [in, out]) and transB = 0: the outputs are contiguous in the
/// weights, which are read once, in order. The old constant is left for eliminate_dead_code.
Graph transpose_dense_weights(Graph g);

}  // namespace kcc::frontend
