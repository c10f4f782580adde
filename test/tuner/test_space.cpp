// Search spaces generated from kernels: sketches, decisions, schedule text, static checks, and
// random candidates of every correctness-suite kernel compared with the interpreter.
#include <gtest/gtest.h>

#include <random>

#include "../support/kernel_check.h"
#include "tuner/features.h"
#include "tuner/space.h"

namespace kcc::tuner {
namespace {

const Module &suite() {
  static Module m = parse_module_file(std::string(KCC_SOURCE_DIR) + "/test/correctness/kernels.ir");
  return m;
}

Target host() {
  static Target t = make_target("host");
  return t;
}

bool has_sketch(const KernelSpace &s, const std::string &name) {
  for (auto &k : s.sketches())
    if (k.name == name) return true;
  return false;
}

TEST(KernelSpace, MatmulGetsMultiLevelTilingWithCacheWriteAndPacking) {
  KernelSpace s(*suite().find_kernel("matmul"), host());
  EXPECT_TRUE(has_sketch(s, "inline+cache_write"));
  EXPECT_TRUE(has_sketch(s, "inline+cache_write+cache_read"));
  Point p{0, std::vector<int>(s.dims(0).size(), 0)};
  for (int i = 0; i < s.num_sketches(); ++i)
    if (s.sketches()[i].name == "inline+cache_write+cache_read") p = Point{i, std::vector<int>(s.dims(i).size(), 0)};
  std::string text = s.schedule_text(p);
  EXPECT_NE(text.find("split C.i [1, 1, 1] -> i_0 i_1 i_2 i_3"), std::string::npos) << text;
  EXPECT_NE(text.find("reorder C i_0 j_0 i_1 j_1 k_0 i_2 j_2 k_1 i_3 j_3"), std::string::npos) << text;
  EXPECT_NE(text.find("cache_read B local at C.k_0 -> B_pack"), std::string::npos) << text;
  EXPECT_NE(text.find("cache_write C local at C.j_1"), std::string::npos) << text;
  // Tile candidates of the extent-37 axis include non-divisors.
  const auto &dec = s.sketches()[static_cast<size_t>(p.sketch)].decisions;
  ASSERT_FALSE(dec.empty());
  EXPECT_EQ(dec[0].name, "C.i.tile1");
  EXPECT_NE(std::find(dec[0].candidates.begin(), dec[0].candidates.end(), 4), dec[0].candidates.end());
}

TEST(KernelSpace, DenseReluFusesTheEpilogueAndInlinesNothingElse) {
  KernelSpace s(*suite().find_kernel("dense_relu"), host());
  int fused = -1;
  for (int i = 0; i < s.num_sketches(); ++i)
    if (s.sketches()[i].rules.fuse_consumer) fused = i;
  ASSERT_GE(fused, 0);
  std::string text = s.schedule_text(Point{fused, std::vector<int>(s.dims(fused).size(), 0)});
  EXPECT_NE(text.find("compute_at acc Y.j_1"), std::string::npos) << text;
}

TEST(KernelSpace, PointsRoundTripThroughTheirScheduleText) {
  KernelSpace s(*suite().find_kernel("conv3x3"), host());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20; ++i) {
    Point p = s.random_point(rng);
    auto back = s.point_of(s.schedule_text(p));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, p);
    Schedule sch = s.schedule(p);  // parses
    EXPECT_EQ(sch.kernel, "conv3x3");
  }
  KernelSpace other(*suite().find_kernel("matmul"), host());
  EXPECT_FALSE(other.point_of(s.schedule_text(Point{0, std::vector<int>(s.dims(0).size(), 0)})).has_value());
}

TEST(KernelSpace, TilesLargerThanTheExtentAreStaticallyInvalid) {
  KernelSpace s(*suite().find_kernel("matmul"), host());
  std::vector<int> d = s.dims(0);
  Point p{0, std::vector<int>(d.size(), 0)};
  p.x[0] = d[0] - 1;  // i: biggest tile at two levels: product > 37
  p.x[1] = d[1] - 1;
  EXPECT_FALSE(s.statically_valid(p));
  EXPECT_NE(s.static_error(p).find("exceed"), std::string::npos);
  Point zero{0, std::vector<int>(d.size(), 0)};
  EXPECT_TRUE(s.statically_valid(zero)) << s.static_error(zero);
  ASSERT_NE(s.lowered(zero), nullptr);
  auto rows = s.features(zero);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0].size(), static_cast<size_t>(kFeatureCount));
}

TEST(KernelSpace, RandomCandidatesOfEveryCorrectnessKernelMatchTheInterpreter) {
  std::mt19937_64 rng(17);
  for (const Kernel &k : suite().kernels) {
    KernelSpace s(k, host());
    ASSERT_GE(s.num_sketches(), 1) << k.name;
    int checked = 0, tries = 0;
    for (; checked < 1 && tries < 60; ++tries) {
      Point p = s.random_point(rng);
      if (!s.statically_valid(p)) continue;
      auto r = test::check_kernel(k, s.schedule(p));
      EXPECT_TRUE(r.ok) << k.name << " " << to_string(p) << "\n" << s.schedule_text(p) << r.message;
      ++checked;
    }
    EXPECT_GE(checked, 1) << k.name << ": no statically valid point in " << tries << " tries";
  }
}

}  // namespace
}  // namespace kcc::tuner
