// Search spaces generated from kernels: sketches, decisions, schedule text, static checks, and
// random candidates of every correctness-suite kernel compared with the interpreter.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "../support/kernel_check.h"
#include "ir/visitor.h"
#include "tuner/cost_model.h"
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

TEST(KernelSpace, ReadsAcrossTheVectorAxisArePackedTransposed) {
  // dense_relu reads W[j, k] with j vectorized: its packs put j innermost. matmul's B[k, j] is
  // contiguous along j already: packed as it is.
  std::mt19937_64 rng(3);
  for (const char *name : {"dense_relu", "matmul"}) {
    KernelSpace s(*suite().find_kernel(name), host());
    int packs = 0;
    for (int sk = 0; sk < s.num_sketches(); ++sk) {
      if (s.sketches()[sk].name.find("cache_read") == std::string::npos) continue;
      for (int i = 0; i < 10; ++i) {
        const std::string text = s.schedule_text(s.random_point_of(sk, rng));
        ++packs;
        if (std::string(name) == "dense_relu")
          EXPECT_NE(text.find("reorder_storage W_pack ax1 ax0"), std::string::npos) << text;
        else
          EXPECT_EQ(text.find("reorder_storage"), std::string::npos) << text;
      }
    }
    EXPECT_GT(packs, 0) << name;
  }
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

TEST(KernelSpace, ContainsItsPointsAndNoOther) {
  KernelSpace s(*suite().find_kernel("conv3x3"), host());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20; ++i) {
    Point p = s.random_point(rng);
    EXPECT_TRUE(s.contains(p));
    EXPECT_EQ(s.schedule(p).kernel, "conv3x3");
  }
  Point p{0, std::vector<int>(s.dims(0).size(), 0)};
  EXPECT_TRUE(s.contains(p));
  p.x[0] = s.dims(0)[0];  // one past the last candidate
  EXPECT_FALSE(s.contains(p));
  EXPECT_FALSE(s.contains(Point{0, {0}}));                    // too few decisions
  EXPECT_FALSE(s.contains(Point{s.num_sketches(), p.x}));     // no such sketch
}

// The sketches build typed steps; their text (what the database and the registry store) must
// parse back to the same schedule, or a stored schedule would mean something else.
TEST(KernelSpace, CandidateSchedulesParseBackFromTheirText) {
  std::mt19937_64 rng(7);
  for (const char *target : {"host", "nvptx-sm_90", "aarch64-sve"})
    for (const Kernel &k : suite().kernels) {
      KernelSpace s(k, make_target(target));
      for (int i = 0; i < 2 * s.num_sketches(); ++i) {
        const Schedule sch = s.schedule(s.random_point_of(i % s.num_sketches(), rng));
        const std::string text = to_string(sch);
        std::vector<Schedule> back = parse_schedules("<test>", text);
        ASSERT_EQ(back.size(), 1u) << text;
        ASSERT_EQ(back[0].steps.size(), sch.steps.size()) << text;
        for (size_t j = 0; j < sch.steps.size(); ++j) {
          EXPECT_EQ(primitive_name(back[0].steps[j]), primitive_name(sch.steps[j])) << text;
          EXPECT_EQ(to_string(back[0].steps[j]), to_string(sch.steps[j])) << text;
        }
      }
    }
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

// An evolutionary search checks far more points than it measures; the space must not keep the
// lowered function of each (a 3,000-measurement tuning ran out of 24 GiB that way).
TEST(KernelSpace, KeepsABoundedNumberOfLoweredFunctions) {
  KernelSpace s(*suite().find_kernel("matmul"), host());
  std::mt19937_64 rng(5);
  std::vector<Point> valid;
  for (int i = 0; i < 8000 && valid.size() < KernelSpace::kKeepLowered + 200; ++i) {
    Point p = s.random_point_of(i % s.num_sketches(), rng);
    if (s.statically_valid(p) && std::find(valid.begin(), valid.end(), p) == valid.end()) valid.push_back(p);
  }
  ASSERT_GT(valid.size(), KernelSpace::kKeepLowered) << "too few distinct valid points to test the bound";
  EXPECT_LE(s.lowered_held(), KernelSpace::kKeepLowered);
  // The first point's function was dropped; asked again, it is lowered again, the same code.
  std::shared_ptr<const LoweredFunc> again = s.lowered(valid.front());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(to_string(*again), to_string(lower_kernel(s.kernel(), s.schedule(valid.front()), host())));
  EXPECT_FALSE(s.features(valid.front()).empty());
  // A function handed out stays valid while the space drops it.
  for (size_t i = 1; i < valid.size(); ++i) s.lowered(valid[i]);
  EXPECT_LE(s.lowered_held(), KernelSpace::kKeepLowered);
  EXPECT_EQ(to_string(*again), to_string(lower_kernel(s.kernel(), s.schedule(valid.front()), host())));
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

// ------------------------------------------------------------------ target-aware CPU sketches

const Decision *decision(const KernelSpace &s, int sketch, const std::string &name) {
  for (auto &d : s.sketches()[static_cast<size_t>(sketch)].decisions)
    if (d.name == name) return &d;
  return nullptr;
}

TEST(TargetAwareSketches, InnerVectorTilesAreWholeVectorsOfTheTarget) {
  Module m = parse_module("mm.ir", "kernel mm(A: f32[64, 96], B: f32[96, 128]) -> C: f32[64, 128] {\n"
                                   "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n");
  const Kernel &k = m.kernels[0];
  struct Want {
    const char *target;
    std::vector<int64_t> tiles;
  };
  // No scalar inner tile on an axis of whole vectors (it never won and took a third of the samples).
  for (const Want &w : {Want{"aarch64-a64fx", {16, 32}}, Want{"aarch64-neon", {4, 8}},
                        Want{"aarch64-sve", {4, 8, 16}}, Want{"x86_64-avx2", {8, 16}},
                        Want{"x86_64-avx512", {16, 32}}}) {
    KernelSpace s(k, make_target(w.target));
    const Decision *d = decision(s, 0, "C.j.tile3");
    ASSERT_NE(d, nullptr) << w.target;
    EXPECT_EQ(d->candidates, w.tiles) << w.target;
  }
}

TEST(TargetAwareSketches, ShortAndRaggedVectorAxesGetHalfVectors) {
  Module m = parse_module("mm.ir", "kernel c(A: f32[64, 96], B: f32[96, 56]) -> C: f32[64, 56] {\n"
                                   "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n"
                                   "kernel e(A: f32[64, 96], D: f32[96, 12]) -> E: f32[64, 12] {\n"
                                   "  E[i, j] = sum(k) A[i, k] * D[k, j]\n}\n");
  KernelSpace sc(m.kernels[0], make_target("x86_64-avx512")), se(m.kernels[1], make_target("x86_64-avx512"));
  const Decision *c = decision(sc, 0, "C.j.tile3");
  const Decision *e = decision(se, 0, "E.j.tile3");
  ASSERT_NE(c, nullptr);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(c->candidates, (std::vector<int64_t>{8, 16, 32}));  // 56 = 7 x 8: half vectors, no tail
  EXPECT_EQ(e->candidates, (std::vector<int64_t>{1, 8, 12}));   // shorter than a vector
}

/// Measures every point as valid with a time from its schedule's hash (a stand-in for the
/// Measurer, so search runs over a real kernel's space without building anything).
class FakeEvaluator : public Evaluator {
 public:
  std::vector<Measurement> measure(const std::vector<Point> &pts) override {
    std::vector<Measurement> out;
    for (auto &p : pts) {
      Measurement m;
      m.valid = true;
      m.samples = {1e-3 * (1 + static_cast<double>(std::hash<std::string>()(to_string(p)) % 100))};
      m.median = m.samples[0];
      out.push_back(m);
    }
    return out;
  }
};

TEST(KernelSpace, EvolutionarySearchOnAChannelBlockedConvFindsValidCandidates) {
  // Regression: the evolutionary initial population drew uniform decision indices without the
  // sampler's tile-product repair; on this five-axis conv none passed the static checks and
  // `kcc tune --strategy hybrid` measured nothing.
  Module m = parse_module("c.ir",
                          "kernel c(X: f32[1, 4, 56, 56, 16], W: f32[4, 4, 3, 3, 16, 16]) -> Y: f32[1, 4, 56, 56, 16] {\n"
                          "  P[n, c, h, w, ci] = select(h >= 1 and h <= 56 and w >= 1 and w <= 56, X[n, c, h - 1, w - 1, ci], 0.0)"
                          " : f32[1, 4, 58, 58, 16]\n"
                          "  Y[n, f, y, x, fi] = sum(c, r, s, ci) P[n, c, y + r, x + s, ci] * W[f, c, r, s, ci, fi]\n}\n");
  KernelSpace s(m.kernels[0], make_target("x86_64-avx512"));
  std::mt19937_64 rng(3);
  int valid = 0;
  for (int sk = 0; sk < s.num_sketches(); ++sk)
    for (int i = 0; i < 20; ++i) valid += s.statically_valid(s.random_point_of(sk, rng));
  EXPECT_GE(valid, 4);
  FakeEvaluator eval;
  SearchOptions o;
  o.budget = 24;
  o.batch = 24;
  o.population = 48;
  o.generations = 1;
  SearchResult r = run_search(Strategy::Evolutionary, s, eval, o);
  EXPECT_EQ(r.measured, 24);
  for (auto &t : r.trials) {
    EXPECT_TRUE(s.statically_valid(t.point)) << s.schedule_text(t.point);
    // The batch axis has extent 1: parallel on it (alone or first in a fused loop) is never offered.
    const std::string text = s.schedule_text(t.point);
    EXPECT_EQ(text.find("parallel Y.n\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("fuse Y n "), std::string::npos) << text;
    EXPECT_NE(text.find("parallel Y."), std::string::npos) << text;
  }
}

TEST(KernelSpace, CheckingOnTwoThreadsChangesNoAnswerAndNoSearch) {
  // prepare() lowers and extracts features on threads; what statically_valid, static_error and
  // features answer, and every point a cost-model-guided hybrid search measures, must be what
  // one thread gives (draw_ahead rewinds the engine past the draws it did not take).
  Module m = parse_module("c.ir",
                          "kernel c(X: f32[1, 4, 30, 30, 16], W: f32[4, 4, 3, 3, 16, 16]) -> Y: f32[1, 4, 28, 28, 16] {\n"
                          "  Y[n, f, y, x, fi] = sum(c, r, s, ci) X[n, c, y + r, x + s, ci] * W[f, c, r, s, ci, fi]\n}\n");
  const Target t = make_target("x86_64-avx512");
  KernelSpace one(m.kernels[0], t), two(m.kernels[0], t);
  two.set_threads(2);
  std::mt19937_64 rng(5);
  std::vector<Point> pts;
  for (int i = 0; i < 60; ++i) pts.push_back(two.random_point_of(i % two.num_sketches(), rng));
  pts.push_back(pts[3]);  // a repeat
  two.prepare(pts);
  int valid = 0, invalid = 0;
  for (const Point &p : pts) {
    ASSERT_EQ(one.statically_valid(p), two.statically_valid(p)) << to_string(p);
    EXPECT_EQ(one.static_error(p), two.static_error(p));
    EXPECT_EQ(one.features(p), two.features(p)) << to_string(p);
    (one.statically_valid(p) ? valid : invalid) += 1;
  }
  EXPECT_GT(valid, 0);
  EXPECT_GT(invalid, 0);  // both kinds of answer were compared

  auto search = [&](KernelSpace &s) {
    FakeEvaluator eval;
    XgbCostModel cost;
    SearchOptions o;
    o.budget = 40;
    o.batch = 16;
    o.population = 48;
    o.generations = 2;
    o.hybrid_switch = 32;
    return run_search(Strategy::Hybrid, s, eval, o, &cost);
  };
  KernelSpace fresh_one(m.kernels[0], t), fresh_two(m.kernels[0], t);
  fresh_two.set_threads(2);
  const SearchResult a = search(fresh_one), b = search(fresh_two);
  ASSERT_EQ(a.trials.size(), b.trials.size());
  EXPECT_EQ(a.measured, 40);
  for (size_t i = 0; i < a.trials.size(); ++i) EXPECT_EQ(a.trials[i].point, b.trials[i].point) << i;
  EXPECT_EQ(a.static_rejected, b.static_rejected);
}

/// The trip counts of a function's parallel loops (constant extents).
struct ParallelTrips : IRVisitor {
  std::vector<int64_t> trips;
  using IRVisitor::visit_node;
  void visit_node(const For *op) override {
    if (op->kind == ForKind::Parallel)
      if (auto *c = op->extent.as<IntImm>()) trips.push_back(c->value);
    IRVisitor::visit_node(op);
  }
};

TEST(KernelSpace, TiledStagesKeepEnoughParallelIterationsForTheCores) {
  // The best one-thread tunings of these convs had tiles covering whole axes and a parallel loop
  // of one iteration. Now every valid point runs the tiled stage's parallel loop >= 2 x cores times.
  Module m = parse_module("c.ir",
                          "kernel c(X: f32[1, 64, 58, 58], W: f32[64, 64, 3, 3]) -> Y: f32[1, 64, 56, 56] {\n"
                          "  Y[n, f, y, x] = sum(c, r, s) X[n, c, y + r, x + s] * W[f, c, r, s]\n}\n");
  Target t = make_target("x86_64-avx512");
  t.cores = 8;
  KernelSpace s(m.kernels[0], t);
  std::mt19937_64 rng(5);
  int valid = 0, rejected = 0;
  for (int i = 0; i < 300; ++i) {
    Point p = s.random_point(rng);
    if (!s.statically_valid(p)) {
      rejected += s.static_error(p).find("parallel loop of Y runs") != std::string::npos;
      continue;
    }
    ++valid;
    ParallelTrips v;
    v.visit(s.lowered(p)->body);
    ASSERT_EQ(v.trips.size(), 1u) << s.schedule_text(p);
    EXPECT_GE(v.trips[0], 16) << s.schedule_text(p);
  }
  EXPECT_GT(valid, 10);
  EXPECT_GT(rejected, 0);
}

TEST(TargetAwareSketches, RegisterTileBeyondTheVectorRegistersIsStaticallyInvalid) {
  Module m = parse_module("mm.ir", "kernel mm(A: f32[64, 96], B: f32[96, 128]) -> C: f32[64, 128] {\n"
                                   "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n");
  const Kernel &k = m.kernels[0];
  auto point = [](const KernelSpace &s, int64_t i3, int64_t j3) {
    Point p{0, std::vector<int>(s.dims(0).size(), 0)};
    const auto &dec = s.sketches()[0].decisions;
    for (size_t x = 0; x < dec.size(); ++x) {
      int64_t want = dec[x].name == "C.i.tile3" ? i3 : dec[x].name == "C.j.tile3" ? j3 : 1;
      auto it = std::find(dec[x].candidates.begin(), dec[x].candidates.end(), want);
      if (it != dec[x].candidates.end()) p.x[x] = static_cast<int>(it - dec[x].candidates.begin());
    }
    return p;
  };
  KernelSpace avx2(k, make_target("x86_64-avx2"));  // 16 ymm registers
  Point ok = point(avx2, 6, 16), big = point(avx2, 12, 16);
  EXPECT_TRUE(avx2.statically_valid(ok)) << avx2.static_error(ok);
  EXPECT_FALSE(avx2.statically_valid(big));
  EXPECT_NE(avx2.static_error(big).find("register tile of C needs 24 vector registers (> 16)"), std::string::npos)
      << avx2.static_error(big);
  KernelSpace a64fx(k, make_target("aarch64-a64fx"));  // 32 z registers of 16 lanes
  Point fx = point(a64fx, 12, 32);
  EXPECT_TRUE(a64fx.statically_valid(fx)) << a64fx.static_error(fx);
}

TEST(TargetAwareSketches, PanelsThatOverflowL2AreStaticallyInvalid) {
  Module m = parse_module("mm.ir", "kernel mm(A: f32[512, 4096], B: f32[4096, 512]) -> C: f32[512, 512] {\n"
                                   "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n");
  Target t = make_target("x86_64-avx2");
  t.l2_bytes = 256 << 10;
  KernelSpace s(m.kernels[0], t);
  Point p{0, std::vector<int>(s.dims(0).size(), 0)};
  const auto &dec = s.sketches()[0].decisions;
  for (size_t x = 0; x < dec.size(); ++x)
    if (dec[x].name == "C.i.tile2" || dec[x].name == "C.j.tile2")
      p.x[x] = static_cast<int>(std::find(dec[x].candidates.begin(), dec[x].candidates.end(), 16) -
                                dec[x].candidates.begin());
  // 16 x 16 outputs with a 4096-long reduction: 2 x 16 x 4096 x 4 bytes = 512 KiB > 256 KiB.
  EXPECT_FALSE(s.statically_valid(p));
  EXPECT_NE(s.static_error(p).find("> L2"), std::string::npos) << s.static_error(p);
}

// ------------------------------------------------------------------ rfactor

TEST(RfactorSketch, SoftmaxAndDotProductsAreRfactoredVectorizedAndCorrect) {
  Module m = parse_module("r.ir", "kernel dot(X: f32[1000], W: f32[1000]) -> Y: f32[1] {\n"
                                  "  Y[o] = sum(k) X[k] * W[k]\n}\n");
  for (const Kernel *k : std::vector<const Kernel *>{suite().find_kernel("softmax"), &m.kernels[0]}) {
    KernelSpace s(*k, host());
    int rf = -1;
    for (int i = 0; i < s.num_sketches(); ++i)
      if (s.sketches()[i].rules.rfactor && s.sketches()[i].rules.inline_elementwise) rf = i;
    ASSERT_GE(rf, 0) << k->name;
    std::mt19937_64 rng(3);
    int checked = 0;
    for (int tries = 0; tries < 200 && checked < 3; ++tries) {
      Point p = s.random_point(rng);
      if (p.sketch != rf || !s.statically_valid(p)) continue;
      const std::string text = s.schedule_text(p);
      EXPECT_NE(text.find("rfactor"), std::string::npos) << text;
      const std::string vec = k->name == "dot" ? "vectorize Y_rf.k_1" : "vectorize s_rf.j_1";
      EXPECT_NE(text.find(vec), std::string::npos) << text;
      auto r = test::check_kernel(*k, s.schedule(p));
      EXPECT_TRUE(r.ok) << text << r.message;
      ++checked;
    }
    EXPECT_EQ(checked, 3) << k->name << ": " << s.static_error(Point{rf, std::vector<int>(s.dims(rf).size(), 0)});
  }
}

// ------------------------------------------------------------------ the default schedule's sketch

// A blocked (8c) convolution with a bias + relu epilogue; no tile divides its 7 x 11 outputs.
const std::string kBlockedConv =
    "kernel conv_bias_relu(X: f32[1, 2, 9, 13, 8], W: f32[3, 2, 3, 3, 8, 8], b: f32[3, 8])"
    " -> Y: f32[1, 3, 7, 11, 8] {\n"
    "  C[n, f, y, x, fi] = sum(c, r, s, ci) X[n, c, y + r, x + s, ci] * W[f, c, r, s, ci, fi]"
    " : f32[1, 3, 7, 11, 8]\n"
    "  Y[n, f, y, x, fi] = max(C[n, f, y, x, fi] + b[f, fi], 0.0)\n}\n";

// The "default" sketch is the default schedule with its choices as decisions: its zero point is
// default_schedule() exactly (so the tuner's baseline is a point the search can start from), and
// every one of its alternatives that lowers computes what the interpreter computes.
TEST(DefaultSketch, ItsZeroPointIsTheDefaultScheduleAndEveryAlternativeIsCorrect) {
  Module m = parse_module("d.ir", kBlockedConv +
                                     "kernel mm(A: f32[19, 70], B: f32[70, 400]) -> C: f32[19, 400] {\n"
                                     "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n");
  std::vector<const Kernel *> kernels{&m.kernels[0], &m.kernels[1]};
  for (const char *n : {"matmul", "dense_relu", "conv3x3", "depthwise", "maxpool", "softmax"})
    kernels.push_back(suite().find_kernel(n));
  for (const Kernel *k : kernels) {
    KernelSpace s(*k, host());
    const std::optional<Point> zero = s.default_point();
    ASSERT_TRUE(zero.has_value()) << k->name;
    EXPECT_EQ(s.sketches()[static_cast<size_t>(zero->sketch)].name, "default");
    EXPECT_EQ(s.schedule_text(*zero), to_string(default_schedule(*k, host()))) << k->name;
    // The default, then each other alternative of each decision, the others at the default's.
    const auto &dec = s.sketches()[static_cast<size_t>(zero->sketch)].decisions;
    int checked = 0;
    ASSERT_TRUE(s.statically_valid(*zero)) << k->name << ": " << s.static_error(*zero);
    for (size_t d = 0; d <= dec.size(); ++d)
      for (int a = d == dec.size() ? 0 : 1; a < (d == dec.size() ? 1 : static_cast<int>(dec[d].candidates.size())); ++a) {
        Point p = *zero;
        if (d < dec.size()) p.x[d] = a;
        if (!s.statically_valid(p)) continue;
        auto r = test::check_kernel(*k, s.schedule(p));
        EXPECT_TRUE(r.ok) << k->name << " " << (d < dec.size() ? dec[d].name : "default") << "=" << a << "\n" << s.schedule_text(p) << r.message;
        ++checked;
      }
    EXPECT_GE(checked, 1) << k->name;
    if (k == kernels[0]) {  // the blocked conv: several tiles, its epilogue and order to choose
      std::set<std::string> names;
      for (auto &x : dec) names.insert(x.name);
      for (const char *n : {"C.tile", "C.pack", "C.epilogue", "C.order", "C.unroll"}) EXPECT_TRUE(names.count(n)) << n;
      EXPECT_GE(dec[0].candidates.size(), 4u);
      EXPECT_GE(checked, 9);
    }
  }
  // No such sketch on a GPU target.
  EXPECT_FALSE(KernelSpace(m.kernels[1], make_target("nvptx-sm_80")).default_point().has_value());
}

// A model's weight larger than half of L2 adds STAGE.prefetch: 0 = none (the heuristic), 1 =
// the weight prefetched one iteration of the outermost reduction loop ahead; both correct. (The
// target's L2 is made small so that the check does not depend on this machine's.)
TEST(DefaultSketch, AModelsLargeWeightMayBePrefetched) {
  Module m = parse_module("d.ir", kBlockedConv +
                                     "model net(x: f32[1, 2, 9, 13, 8]) -> y: f32[1, 3, 7, 11, 8] {\n"
                                     "  weights \"net.weights\"\n"
                                     "  w: f32[3, 2, 3, 3, 8, 8] = weight at 0\n"
                                     "  b: f32[3, 8] = weight at 13824\n"
                                     "  y = conv_bias_relu(x, w, b)\n}\n");
  const Kernel &k = m.kernels[0];
  ASSERT_EQ(k.weight_inputs, (std::vector<int>{1, 2}));
  Target t = host();
  t.l2_bytes = 16 << 10;  // W is 13.5 KiB
  KernelSpace s(k, t);
  const std::optional<Point> zero = s.default_point();
  ASSERT_TRUE(zero.has_value());
  const auto &dec = s.sketches()[static_cast<size_t>(zero->sketch)].decisions;
  size_t d = 0;
  while (d < dec.size() && dec[d].name != "C.prefetch") ++d;
  ASSERT_LT(d, dec.size()) << "no C.prefetch decision";
  EXPECT_EQ(s.schedule_text(*zero).find("prefetch"), std::string::npos) << s.schedule_text(*zero);
  Point p = *zero;
  p.x[d] = 1;
  ASSERT_TRUE(s.statically_valid(p)) << s.static_error(p);
  EXPECT_NE(s.schedule_text(p).find("prefetch W at C."), std::string::npos) << s.schedule_text(p);
  auto r = test::check_kernel(k, s.schedule(p));
  EXPECT_TRUE(r.ok) << s.schedule_text(p) << r.message;
  // Without the model (no weight inputs) there is nothing to prefetch and no such decision.
  const Module alone = parse_module("p.ir", kBlockedConv);
  KernelSpace plain(alone.kernels[0], t);
  for (auto &x : plain.sketches()[static_cast<size_t>(plain.default_point()->sketch)].decisions)
    EXPECT_NE(x.name, "C.prefetch");
}

// The decision a point of the default sketch takes for `name`, set to alternative `a`; the
// point, or nothing when the sketch has no such decision.
std::optional<Point> with_choice(const KernelSpace &s, const std::string &name, int a) {
  std::optional<Point> p = s.default_point();
  const auto &dec = s.sketches()[static_cast<size_t>(p->sketch)].decisions;
  for (size_t d = 0; d < dec.size(); ++d)
    if (dec[d].name == name && a < static_cast<int>(dec[d].candidates.size())) {
      p->x[d] = a;
      return p;
    }
  return std::nullopt;
}

// Three choices of the default sketch, each correct where no tile divides the shape:
// - a convolution without an epilogue may be K-blocked (the tile rows inside the block loop,
//   their accumulators written back to the output per block: VGG's 512-channel 3x3);
// - a long reduction 4 divides is unrolled by 4 (the heuristic's choice; SGEMM's best schedule);
// - a pack read across the vector axis (W[out, in] of a dense layer) is copied a vector at a
//   time, gathering along its contiguous axis.
TEST(DefaultSketch, KBlocksWithoutAnEpilogueUnrollsByFourAndCopiesTransposedPacksByVectors) {
  const Module m = parse_module("k.ir",
                                "kernel conv(X: f32[1, 4, 9, 10, 8], W: f32[6, 4, 3, 3, 8, 8]) -> Y: f32[1, 6, 7, 8, 8] {\n"
                                "  Y[n, f, y, x, fi] = sum(c, r, s, ci) X[n, c, y + r, x + s, ci] * W[f, c, r, s, ci, fi]\n}\n"
                                "kernel mm(A: f32[13, 48], B: f32[48, 70]) -> C: f32[13, 70] {\n"
                                "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n"
                                "kernel dense(X: f32[21, 36], W: f32[50, 36]) -> Y: f32[21, 50] {\n"
                                "  Y[i, j] = sum(k) X[i, k] * W[j, k]\n}\n");
  struct Case {
    int kernel;
    const char *decision;
    int alternative;
    const char *expect;
  };
  for (const Case &c : {Case{0, "Y.kblock", 1, "split Y.c [1] -> c_o c_i"}, Case{0, "Y.kblock", 2, "split Y.c [2] -> c_o c_i"},
                        Case{1, "C.unroll", 0, "split C.k [4] -> k_k k_u"}, Case{2, "Y.tile", 0, "vectorize W_pack.ax0_v"}}) {
    const Kernel &k = m.kernels[static_cast<size_t>(c.kernel)];
    KernelSpace s(k, host());
    const std::optional<Point> p = with_choice(s, c.decision, c.alternative);
    ASSERT_TRUE(p.has_value()) << k.name << ": no " << c.decision << "=" << c.alternative;
    ASSERT_TRUE(s.statically_valid(*p)) << s.static_error(*p);
    const std::string text = s.schedule_text(*p);
    EXPECT_NE(text.find(c.expect), std::string::npos) << k.name << " " << c.decision << "=" << c.alternative << "\n" << text;
    auto r = test::check_kernel(k, s.schedule(*p));
    EXPECT_TRUE(r.ok) << text << r.message;
  }
}

}  // namespace
}  // namespace kcc::tuner
