// test/support/random_schedule.h - random, mostly legal schedules for a kernel (the
// correctness suites: host JIT and AArch64 under qemu). Header-only.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ir/kernel.h"
#include "ir/visitor.h"

namespace kcc::test {

/// A random but mostly legal schedule: splits with any factors (dividing or not), a random
/// loop order, vectorize/unroll/parallel on suitable loops, random compute locations and
/// cache_write. Illegal combinations are rejected by the schedule checks and skipped.
inline std::string random_schedule(const Kernel &k, std::mt19937 &rng) {
  auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const int factors[] = {2, 3, 4, 5, 7, 8, 16};
  struct L {
    std::string name;
    bool reduce;
    int64_t extent;
  };
  std::string out = "schedule " + k.name + " {\n";
  std::map<std::string, std::vector<L>> final_leaves;
  for (auto it = k.stages.rbegin(); it != k.stages.rend(); ++it) {
    const Stage &st = *it;
    const std::string s = st.name();
    std::vector<L> leaves;
    for (auto &a : st.axes) leaves.push_back({a.var->name, false, a.extent});
    for (auto &a : st.raxes) leaves.push_back({a.var->name, true, a.extent});
    int nsplit = static_cast<int>(pick(3));
    for (int n = 0; n < nsplit; ++n) {
      size_t i = pick(leaves.size());
      L l = leaves[i];
      int f = factors[pick(7)];
      std::string o = l.name + "o", in = l.name + "i";
      out += fmt::format("  split {}.{} [{}] -> {} {}\n", s, l.name, f, o, in);
      leaves[i] = {o, l.reduce, (l.extent + f - 1) / f};
      leaves.insert(leaves.begin() + static_cast<long>(i) + 1, L{in, l.reduce, f});
    }
    if (coin(0.7)) {
      std::shuffle(leaves.begin(), leaves.end(), rng);
      out += "  reorder " + s;
      for (auto &l : leaves) out += " " + l.name;
      out += "\n";
    }
    const L &inner = leaves.back();
    if (!inner.reduce && inner.extent <= 32 && coin(0.7)) out += fmt::format("  vectorize {}.{}\n", s, inner.name);
    if (leaves.size() > 1 && !leaves[leaves.size() - 2].reduce && leaves[leaves.size() - 2].extent <= 8 && coin(0.4))
      out += fmt::format("  unroll {}.{}\n", s, leaves[leaves.size() - 2].name);
    if (!leaves.front().reduce && coin(0.5)) out += fmt::format("  parallel {}.{}\n", s, leaves.front().name);
    if (st.reduce != ReduceOp::None && coin(0.3)) {
      std::vector<std::string> sp;
      for (auto &l : leaves)
        if (!l.reduce) sp.push_back(l.name);
      if (!sp.empty()) out += fmt::format("  cache_write {} local at {}.{}\n", s, s, sp[pick(sp.size())]);
    }
    final_leaves[s] = leaves;
    // Where to compute this stage: root, inline, or inside a consumer's loop.
    bool is_output = false;
    for (auto &o : k.outputs) is_output |= o->name == s;
    if (is_output) continue;
    std::vector<std::string> consumers;
    for (auto &c : k.stages) {
      bool reads = false;
      for_each_expr(c.body, [&](const Expr &e) {
        if (auto *a = e.as<Access>()) reads |= a->tensor->name == s;
      });
      if (reads && final_leaves.count(c.name())) consumers.push_back(c.name());
    }
    double r = std::uniform_real_distribution<double>(0, 1)(rng);
    if (r < 0.3 && st.reduce == ReduceOp::None) {
      out += "  compute_inline " + s + "\n";
    } else if (r < 0.7 && consumers.size() == 1) {
      const auto &cl = final_leaves[consumers[0]];
      out += fmt::format("  compute_at {} {}.{}\n", s, consumers[0], cl[pick(cl.size())].name);
    }
  }
  return out + "}\n";
}

}  // namespace kcc::test
