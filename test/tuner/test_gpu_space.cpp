// GPU search spaces (NVPTX targets) without a GPU: random candidates of matmul, conv3x3 and
// softmax lower without internal errors, their PTX passes ptxas for sm_80 and sm_90 (skipped
// when /usr/local/cuda/bin/ptxas is missing), and their sequential meaning (block/thread loops
// run serially, shared buffers made local, as in test/gpu) matches the interpreter on the host.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "../support/kernel_check.h"
#include "../support/gpu_serial.h"
#include "../support/ptxas.h"
#include "../support/suite_files.h"
#include "ir/gpu_launch.h"
#include "ir/visitor.h"
#include "passes/schedule_error.h"
#include "tuner/space.h"

namespace kcc::tuner {
namespace {

test::CheckResult run_serial(const Kernel &k, const LoweredFunc &gpu) {
  return test::check_lowered(k, test::serial_meaning(gpu), 2e-4, 7);
}

TEST(GpuSpace, MatmulGetsTiledSketchesInTheFormOfTheHandSchedule) {
  const Kernel &k = *test::correctness_suite().find_kernel("matmul");
  KernelSpace s(k, make_target("nvptx-sm_90"));
  ASSERT_EQ(s.num_sketches(), 2);
  int shared = s.sketches()[0].rules.cache_read ? 0 : 1;
  EXPECT_EQ(s.sketches()[static_cast<size_t>(shared)].name, "inline+gpu_tile+shared");
  std::string text = s.schedule_text(Point{shared, std::vector<int>(s.dims(shared).size(), 0)});
  for (const char *line : {"split C.i [1, 1] -> i_0 i_1 i_2", "reorder C i_0 j_0 i_1 j_1 k_0 k_1 i_2 j_2",
                           "bind C.i_0 block.y", "bind C.j_1 thread.x", "cache_write C local at C.j_1",
                           "cache_read A shared at C.k_0 -> A_shared", "fuse A_shared ax0 ax1 -> f",
                           "split A_shared.f [1, 1] -> f_0 f_y f_x", "bind B_shared.f_x thread.x"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing in\n" << text;
}

TEST(GpuSpace, AStaticallyInvalidCandidateCarriesItsScheduleErrorKind) {
  // A candidate over the GPU's limits is answered without building; the measurement carries the
  // kind of the ScheduleError that lowering threw, not only its words.
  const Kernel &k = *test::correctness_suite().find_kernel("matmul");
  Target t = make_target("nvptx-sm_80");
  t.max_shared_bytes = 2048;  // the shared-memory sketch's panels often exceed it
  KernelSpace s(k, t);
  std::mt19937_64 rng(3);
  int found = 0;
  for (int tries = 0; tries < 2000 && found < 3; ++tries) {
    Point p = s.random_point(rng);
    if (s.statically_valid(p)) continue;
    Measurement m = s.static_measurement(p);
    EXPECT_EQ(m.outcome, Outcome::Static);
    EXPECT_EQ(m.error, "static: " + s.static_error(p));
    std::optional<ScheduleErrorKind> thrown;
    try {
      lower_kernel(k, s.schedule(p), t);
    } catch (const ScheduleError &e) {
      thrown = e.kind();
    } catch (const UserError &) {  // a decision-level rule or another user error: no kind
    }
    EXPECT_EQ(m.schedule_error, thrown) << m.error;
    found += thrown.has_value();
  }
  EXPECT_EQ(found, 3) << "too few candidates rejected by a ScheduleError";
}

class GpuCandidates : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuCandidates, RandomCandidatesAssembleAndMeanWhatTheInterpreterComputes) {
  const Kernel &k = *test::correctness_suite().find_kernel(GetParam());
  const bool have_ptxas = test::have_ptxas();
  if (!have_ptxas) std::printf("[  SKIPPED ] ptxas not found at %s: PTX not assembled\n", test::kPtxas);
  const Target sm90 = make_target("nvptx-sm_90"), sm80 = make_target("nvptx-sm_80");
  KernelSpace s(k, sm90);
  const std::string dir = std::string(KCC_BINARY_DIR) + "/test/tuner/gpu_space";
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(11);
  std::map<int, int> per_sketch;
  int checked = 0, tries = 0;
  const int want = 3;  // per sketch
  for (; tries < 400 && checked < want * s.num_sketches(); ++tries) {
    Point p = s.random_point(rng);
    if (per_sketch[p.sketch] >= want) continue;
    const bool valid = s.statically_valid(p);
    EXPECT_EQ(s.static_error(p).find("internal error"), std::string::npos) << s.static_error(p);
    if (!valid) continue;
    ++per_sketch[p.sketch];
    ++checked;
    SCOPED_TRACE(s.schedule_text(p));
    std::shared_ptr<const LoweredFunc> fp = s.lowered(p);
    const LoweredFunc &f = *fp;
    ASSERT_TRUE(f.gpu && f.gpu->body.same_as(f.body)) << "lowering made no launch plan";
    if (have_ptxas) {
      const std::string base = fmt::format("{}/{}_{}", dir, k.name, checked);
      EXPECT_EQ(test::ptxas_errors(f, sm90, base + "_90"), "");
      try {  // sm_80 has less shared memory: a limit error there is a valid answer, not a bug
        LoweredFunc f80 = lower_kernel(k, s.schedule(p), sm80);
        EXPECT_EQ(test::ptxas_errors(f80, sm80, base + "_80"), "");
      } catch (const ScheduleError &e) {
        EXPECT_EQ(e.kind(), ScheduleErrorKind::LimitExceeded) << e.what();
      }
    }
    auto r = run_serial(k, f);
    EXPECT_TRUE(r.ok) << r.message;
  }
  EXPECT_EQ(checked, want * s.num_sketches()) << "too few statically valid candidates in " << tries << " tries";
}

INSTANTIATE_TEST_SUITE_P(Kernels, GpuCandidates, ::testing::Values("matmul", "conv3x3", "softmax"),
                         [](const auto &i) { return i.param; });

}  // namespace
}  // namespace kcc::tuner
