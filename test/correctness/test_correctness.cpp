// Every kernel of kernels.ir x {default schedule, hand schedules of schedules.ir, random
// schedules}, compiled for the host and compared with the reference interpreter on random data.
#include <fmt/format.h>

#include <random>

#include "../support/kernel_check.h"
#include "../support/random_schedule.h"
#include "../support/suite_files.h"
#include "ir/visitor.h"
#include "passes/schedule_error.h"

namespace kcc::test {
namespace {

const Module &suite() { return correctness_suite(); }

std::vector<Schedule> hand_schedules() { return source_schedules("test/correctness/schedules.ir"); }

std::vector<std::string> kernel_names() {
  std::vector<std::string> n;
  for (auto &k : suite().kernels) n.push_back(k.name);
  return n;
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
