// passes/memory_plan.cpp - the workspace plan and the weights blob of a model.
//
// Placement is the greedy-by-size heuristic of TFLite's and TVM's static planners: the largest
// value first, each at the lowest offset free for all its live time. It is not optimal (that is
// NP-hard) but puts the largest activations, which decide the peak, next to each other.
#include "passes/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <numeric>

namespace kcc {

namespace {

int64_t align_up(int64_t n) { return (n + kModelAlign - 1) / kModelAlign * kModelAlign; }

int64_t tensor_bytes(const ModelTensor &t) { return t.num_elements() * Type{t.elem, 1}.bytes(); }

bool lives_overlap(const PlannedValue &a, const PlannedValue &b) {
  return a.first_call <= b.last_call && b.first_call <= a.last_call;
}

/// The live ranges of the values, before placement.
std::vector<PlannedValue> live_ranges(const ModelDecl &model) {
  std::map<std::string, size_t> index;
  std::vector<PlannedValue> out;
  for (const ModelTensor &v : model.values) {
    index[v.name] = out.size();
    out.push_back({v.name, tensor_bytes(v), 0, -1, -1});
  }
  for (size_t c = 0; c < model.calls.size(); ++c) {
    const ModelCall &call = model.calls[c];
    for (const std::string &a : call.args)
      if (auto it = index.find(a); it != index.end()) out[it->second].last_call = static_cast<int>(c);
    for (const std::string &r : call.results)
      if (auto it = index.find(r); it != index.end()) out[it->second].first_call = static_cast<int>(c);
  }
  for (PlannedValue &v : out) {
    KCC_INTERNAL(v.first_call >= 0, "model value '" + v.name + "' is defined by no call");
    v.last_call = std::max(v.last_call, v.first_call);
  }
  return out;
}

}  // namespace

int64_t MemoryPlan::sum_of_values() const {
  int64_t s = 0;
  for (const PlannedValue &v : values) s += align_up(v.bytes);
  return s;
}

const PlannedValue *MemoryPlan::find(const std::string &name) const {
  for (const PlannedValue &v : values)
    if (v.name == name) return &v;
  return nullptr;
}

MemoryPlan plan_memory(const ModelDecl &model) {
  MemoryPlan plan;
  plan.values = live_ranges(model);
  std::vector<size_t> order(plan.values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return plan.values[a].bytes > plan.values[b].bytes; });
  std::vector<size_t> placed;
  for (size_t i : order) {
    PlannedValue &v = plan.values[i];
    // The placed values live at the same time as v, by offset; v goes into the first gap.
    std::vector<const PlannedValue *> busy;
    for (size_t p : placed)
      if (lives_overlap(plan.values[p], v)) busy.push_back(&plan.values[p]);
    std::sort(busy.begin(), busy.end(), [](auto *a, auto *b) { return a->offset < b->offset; });
    int64_t offset = 0;
    for (const PlannedValue *b : busy) {
      if (b->offset >= offset + v.bytes) break;
      offset = std::max(offset, align_up(b->offset + b->bytes));
    }
    v.offset = offset;
    plan.peak = std::max(plan.peak, align_up(offset + v.bytes));
    placed.push_back(i);
  }
  return plan;
}

std::string to_string(const MemoryPlan &plan, const ModelDecl &model) {
  std::string s = fmt::format("model {}: workspace peak {} bytes, sum of values {} bytes, {} values\n", model.name,
                              plan.peak, plan.sum_of_values(), plan.values.size());
  s += fmt::format("  {:<20} {:>12} {:>12}  {}\n", "value", "bytes", "offset", "live (calls)");
  for (const PlannedValue &v : plan.values)
    s += fmt::format("  {:<20} {:>12} {:>12}  {}..{} ({} .. {})\n", v.name, v.bytes, v.offset, v.first_call,
                     v.last_call, model.calls[v.first_call].kernel, model.calls[v.last_call].kernel);
  return s;
}

uint64_t fnv1a64(const std::string &bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

PackedWeights pack_weights(const ModelDecl &model, const std::string &path) {
  PackedWeights out;
  if (model.weights.empty()) return out;
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UserError(SourceLoc{}, fmt::format("cannot read the weights of model '{}' from '{}'", model.name, path));
  std::string file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  int64_t end = 0;
  for (const ModelWeight &w : model.weights) {
    if (w.offset + w.bytes() > static_cast<int64_t>(file.size()))
      throw UserError(w.tensor.loc, fmt::format("weight '{}' needs bytes [{}, {}) of '{}', which has {}", w.tensor.name,
                                                w.offset, w.offset + w.bytes(), path, file.size()));
    out.offsets.push_back(end);
    end = align_up(end + w.bytes());
  }
  out.bytes.assign(static_cast<size_t>(end), '\0');
  for (size_t i = 0; i < model.weights.size(); ++i) {
    const ModelWeight &w = model.weights[i];
    std::copy_n(file.data() + w.offset, w.bytes(), out.bytes.data() + out.offsets[i]);
  }
  out.fnv1a = fnv1a64(out.bytes);
  return out;
}

}  // namespace kcc
