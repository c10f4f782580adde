// passes/memory_plan.h - where a model's tensors live when it runs (DESIGN.md §9, Memory plan).
//
// A compiled model reads its inputs from and writes its outputs to the caller's buffers; every
// other call result (ModelDecl::values) lives in one workspace, at an offset chosen by liveness
// so that values never live at the same time share bytes. The weights are one constant blob,
// embedded in the object or loaded from NAME.weights.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/kernel.h"

namespace kcc {

/// Offsets in the workspace and the weights blob are multiples of this (a cache line; the
/// workspace itself must be this aligned).
inline constexpr int64_t kModelAlign = 64;

/// A value of a model placed in the workspace: bytes [offset, offset + bytes), live from the
/// call that defines it to the last call that reads it (indices into ModelDecl::calls, both
/// inclusive; a value no call reads is live at its definition only).
struct PlannedValue {
  std::string name;
  int64_t bytes = 0;
  int64_t offset = 0;
  int first_call = 0, last_call = 0;
};

/// The workspace of a model: its values in ModelDecl::values order, and the workspace's size.
struct MemoryPlan {
  std::vector<PlannedValue> values;
  int64_t peak = 0;           ///< bytes of workspace the model needs (a multiple of kModelAlign)
  int64_t sum_of_values() const;  ///< what a workspace without reuse would take (each aligned)
  const PlannedValue *find(const std::string &name) const;  ///< null if not a value
};

/// Places the values of `model` in one workspace: the largest first (ties in definition order),
/// each at the lowest aligned offset where it overlaps no value placed before whose live range
/// meets its own. A value of a call never shares bytes with an argument of the same call.
MemoryPlan plan_memory(const ModelDecl &model);

/// The plan as text (`kcc compile --emit=memory`): a header line with the peak, then one row per
/// value in definition order: name, bytes, offset, live range as call indices and kernels.
std::string to_string(const MemoryPlan &plan, const ModelDecl &model);

/// The weights of a model as one blob: each weight at `offsets[i]` (model.weights order), packed
/// in declaration order at kModelAlign-aligned offsets, zeros between them.
struct PackedWeights {
  std::vector<int64_t> offsets;
  std::string bytes;
  uint64_t fnv1a = 0;  ///< FNV-1a 64 of `bytes`: the loader of external weights checks it
};

/// Reads the weights of `model` from `path` (the file its `weights` statement names) and packs
/// them. UserError when the file cannot be read or is too short for a weight (at the weight).
PackedWeights pack_weights(const ModelDecl &model, const std::string &path);

/// FNV-1a, 64 bits (offset basis 0xcbf29ce484222325, prime 0x100000001b3), as kcc_load_weights
/// computes it.
uint64_t fnv1a64(const std::string &bytes);

}  // namespace kcc
