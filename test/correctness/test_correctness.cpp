// Every kernel of kernels.ir x {default schedule, hand schedules of schedules.ir, random
// schedules}, compiled for the host and compared with the reference interpreter on random data.
#include <fmt/format.h>

#include <fstream>
#include <random>
#include <sstream>

#include "../support/kernel_check.h"
#include "ir/visitor.h"
#include "passes/schedule_error.h"

namespace kcc::test {
namespace {

std::string read_file(const std::string &p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const Module &suite() {
  static Module m = parse_module_file(std::string(KCC_SOURCE_DIR) + "/test/correctness/kernels.ir");
  return m;
}

std::vector<Schedule> hand_schedules() {
  std::string path = std::string(KCC_SOURCE_DIR) + "/test/correctness/schedules.ir";
  return parse_schedules(path, read_file(path));
}

std::vector<std::string> kernel_names() {
  std::vector<std::string> n;
  for (auto &k : suite().kernels) n.push_back(k.name);
  return n;
}

/// A random but mostly legal schedule: splits with any factors (dividing or not), a random
/// loop order, vectorize/unroll/parallel on suitable loops, random compute locations and
/// cache_write. Illegal combinations are rejected by the schedule checks and skipped.
std::string random_schedule(const Kernel &k, std::mt19937 &rng) {
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

class Correctness : public ::testing::TestWithParam<std::string> {};

TEST_P(Correctness, DefaultSchedule) {
  const Kernel &k = kernel_of(suite(), GetParam());
  auto r = check_kernel(k, default_schedule(k, make_target("host")));
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_P(Correctness, HandSchedules) {
  const Kernel &k = kernel_of(suite(), GetParam());
  int n = 0;
  for (const Schedule &s : hand_schedules()) {
    if (s.kernel != k.name) continue;
    ++n;
    auto r = check_kernel(k, s);
    EXPECT_TRUE(r.ok) << r.message;
  }
  EXPECT_GE(n, 1) << "no hand schedule for " << k.name;
}

TEST_P(Correctness, RandomSchedules) {
  const Kernel &k = kernel_of(suite(), GetParam());
  std::mt19937 rng(std::hash<std::string>{}(k.name));
  int legal = 0, tried = 0;
  for (; tried < 40 && legal < 8; ++tried) {
    std::string text = random_schedule(k, rng);
    std::vector<Schedule> ss = parse_schedules("random.ir", text);
    ASSERT_EQ(ss.size(), 1u);
    try {
      auto r = check_kernel(k, ss[0], 2e-4, static_cast<unsigned>(tried));
      EXPECT_TRUE(r.ok) << r.message;
      ++legal;
    } catch (const ScheduleError &e) {
      // An illegal random combination: rejected by the checks, which is what they are for.
    }
  }
  EXPECT_GE(legal, 3) << "too few legal random schedules for " << k.name;
}

INSTANTIATE_TEST_SUITE_P(Kernels, Correctness, ::testing::ValuesIn(kernel_names()),
                         [](const auto &info) { return info.param; });

}  // namespace
}  // namespace kcc::test
