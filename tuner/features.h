// tuner/features.h - cost-model features of a lowered kernel, one row per store (DESIGN §6).
//
// Per store: arithmetic counts by kind (per execution and in total), the loop nest around it
// (depth, iterations, innermost extent, parallel extent and count), vector lanes, where it writes
// (local accumulator or global), and for the three buffers it reads most: bytes touched, unique
// bytes, the stride of the innermost loop in the index, reuse and vector access. Counts are
// log2(1 + x) so that trees split on orders of magnitude.
#pragma once
#include <vector>

#include "codegen/target.h"
#include "ir/stmt.h"

namespace kcc::tuner {

constexpr int kFeatureCount = 36;

/// One row of kFeatureCount values per Store of `f` (at least one row).
std::vector<std::vector<float>> extract_features(const LoweredFunc &f, const Target &t);

}  // namespace kcc::tuner
