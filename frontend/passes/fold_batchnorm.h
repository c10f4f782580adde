// frontend/passes/fold_batchnorm.h - BatchNormalization folded into the convolution before it.
#pragma once
#include "frontend/graph.h"

namespace kcc::frontend {

/// Each BatchNormalization whose input is a Conv's output read by nothing else (and not a graph
/// output), with constant weights and statistics, is folded into that Conv: W' = W·s and
/// B' = (B − mean)·s + beta with s = scale / sqrt(var + epsilon) per output channel, computed in
/// double. The Conv then writes the BatchNormalization's output and the BatchNormalization is
/// gone; the old weights stay in `tensors` (eliminate_dead_code drops them from `initializers`).
Graph fold_batchnorm(Graph g);

}  // namespace kcc::frontend
