// Strategies on synthetic spaces with known optima, and the statistics behind Droplet's test.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "tuner/search.h"
#include "tuner/stats.h"

namespace kcc::tuner {
namespace {

TEST(Stats, IncompleteBetaAndTCdfMatchClosedForms) {
  EXPECT_NEAR(incomplete_beta(2, 3, 0.4), 0.5248, 1e-12);
  EXPECT_NEAR(incomplete_beta(1, 1, 0.3), 0.3, 1e-12);
  EXPECT_NEAR(student_t_cdf(1.0, 1), 0.75, 1e-12);                                  // Cauchy
  EXPECT_NEAR(student_t_cdf(1.0, 2), 0.5 + 1.0 / (2 * std::sqrt(3.0)), 1e-12);      // closed form for df 2
  EXPECT_NEAR(student_t_cdf(2.0, 10), 0.963305982, 1e-8);
  EXPECT_NEAR(student_t_cdf(-2.0, 10), 1 - 0.963305982, 1e-8);
  EXPECT_NEAR(student_t_cdf(0.0, 7.3), 0.5, 1e-12);
  EXPECT_NEAR(student_t_cdf(1.96, 1e6), 0.9750021, 1e-6);                           // -> normal
}

TEST(Stats, WelchStatisticAndDegreesOfFreedom) {
  TTest r = welch_t_test({1, 2, 3, 4, 5}, {2, 3, 4, 5, 9});
  EXPECT_NEAR(r.t, -1.6 / 1.4, 1e-12);
  EXPECT_NEAR(r.df, 3.8416 / 0.5954, 1e-9);
  EXPECT_GT(r.two_sided_p, 0.2);
  EXPECT_LT(r.two_sided_p, 0.4);
  EXPECT_LT(welch_t_test({1.0, 1.01, 0.99, 1.0}, {2.0, 2.02, 1.98, 2.0}).two_sided_p, 1e-6);
  EXPECT_EQ(welch_t_test({1.0}, {2.0, 2.1}).two_sided_p, 1.0);  // too few samples: no evidence
  EXPECT_EQ(welch_t_test({1, 1, 1}, {2, 2, 2}).two_sided_p, 0.0);
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 2, 3}), 2.5);
}

TEST(Stats, TTestRejectsNoiseOnlyDifferences) {
  // Samples from one distribution: p <= 0.05 should happen about 5% of the time, no more.
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(1.0, 0.05);
  int significant = 0;
  const int kPairs = 400;
  for (int i = 0; i < kPairs; ++i) {
    std::vector<double> a(5), b(5);
    for (auto &v : a) v = noise(rng);
    for (auto &v : b) v = noise(rng);
    if (welch_t_test(a, b).two_sided_p <= 0.05) ++significant;
  }
  EXPECT_LE(significant, kPairs * 10 / 100);
}

/// A box of integer coordinates with a function of them; samples carry multiplicative noise.
class Synthetic : public SearchSpace, public Evaluator {
 public:
  Synthetic(std::vector<int> dims, std::function<double(const std::vector<int> &)> f, double noise = 0.01,
            uint64_t seed = 3)
      : dims_(std::move(dims)), f_(std::move(f)), noise_(noise), rng_(seed) {}
  int num_sketches() const override { return sketches; }
  int sketches = 1;
  std::function<double(const Point &)> per_sketch;  ///< replaces f when set
  std::vector<int> dims(int) const override { return dims_; }
  bool statically_valid(const Point &p) override { return !static_invalid || !static_invalid(p.x); }
  std::vector<Point> coupled_neighbours(const Point &p, int r) const override {
    if (!coupled) return {};
    Point up = p, down = p;  // coordinates 0 and 1 moved in opposite directions
    up.x[0] += r, up.x[1] -= r;
    down.x[0] -= r, down.x[1] += r;
    std::vector<Point> out;
    for (const Point &q : {up, down})
      if (q.x[0] >= 0 && q.x[1] >= 0 && q.x[0] < dims_[0] && q.x[1] < dims_[1]) out.push_back(q);
    return out;
  }
  bool coupled = false;
  std::vector<Measurement> measure(const std::vector<Point> &pts) override {
    std::vector<Measurement> out;
    for (auto &p : pts) {
      ++measured_[p];
      Measurement m;
      if (run_invalid && run_invalid(p.x)) {
        out.push_back(Measurement::invalid(Outcome::Crashed, "crashed"));
        continue;
      }
      m.valid = true;
      std::normal_distribution<double> n(1.0, noise_);
      for (int i = 0; i < 5; ++i) m.samples.push_back((per_sketch ? per_sketch(p) : f_(p.x)) * n(rng_));
      out.push_back(m);
    }
    return out;
  }
  int max_times_measured() const {
    int m = 0;
    for (auto &[p, n] : measured_) m = std::max(m, n);
    return m;
  }
  std::function<bool(const std::vector<int> &)> static_invalid, run_invalid;

 private:
  std::vector<int> dims_;
  std::function<double(const std::vector<int> &)> f_;
  double noise_;
  std::mt19937_64 rng_;
  std::map<Point, int> measured_;
};

double bowl(const std::vector<int> &x) {
  const int c[] = {7, 3, 11, 5};
  double s = 1;
  for (size_t i = 0; i < x.size(); ++i) s += 0.1 * (x[i] - c[i]) * (x[i] - c[i]);
  return 1e-3 * s;
}

/// A cost model that knows the function (an oracle): tests that ranking is used.
class OracleModel : public CostModel {
 public:
  void update(SearchSpace &, const std::vector<Point> &, const std::vector<Measurement> &) override { updates++; }
  std::vector<double> predict(SearchSpace &, const std::vector<Point> &pts) override {
    std::vector<double> s;
    for (auto &p : pts) s.push_back(1.0 / bowl(p.x));
    return s;
  }
  bool trained() const override { return true; }
  int updates = 0;
};

/// A space that records what prepare() was given.
class PreparedSpace : public SearchSpace {
 public:
  int num_sketches() const override { return 1; }
  std::vector<int> dims(int) const override { return {1000}; }
  void prepare(const std::vector<Point> &pts) override { prepared.push_back(pts.size()); }
  std::vector<size_t> prepared;
};

TEST(DrawAhead, TakesWhatThePlainLoopTakesAndLeavesTheEngineWhereItWould) {
  // Keep the even draws until 37 are kept or 150 tries: the plain loop, then draw_ahead asked
  // for five more than are still missing each round, so that it draws beyond the last try it
  // takes (those must not count).
  auto draw = [](std::mt19937_64 &rng) { return Point{0, {std::uniform_int_distribution<int>(0, 999)(rng)}}; };
  std::mt19937_64 plain_rng(11);
  std::vector<Point> plain;
  int plain_tries = 0;
  for (int i = 0; plain.size() < 37 && i < 150; ++i, ++plain_tries) {
    Point p = draw(plain_rng);
    if (p.x[0] % 2 == 0) plain.push_back(p);
  }
  PreparedSpace space;
  std::mt19937_64 rng(11);
  std::vector<Point> kept;
  int tries = 0;
  draw_ahead(
      space, rng, [&](int i) { return kept.size() < 37 && i < 150; }, [&](int) { return draw(rng); },
      [&](const Point &p) {
        ++tries;
        if (p.x[0] % 2 == 0) kept.push_back(p);
      },
      [&] { return 37 - kept.size() + 5; });
  EXPECT_EQ(kept, plain);
  EXPECT_EQ(tries, plain_tries);
  EXPECT_EQ(rng(), plain_rng());  // the next draw is the plain loop's next draw
  ASSERT_GT(space.prepared.size(), 1u);  // several rounds, each prepared at once
  EXPECT_EQ(space.prepared[0], 42u);
}

TEST(Droplet, FindsTheMinimumOfAConvexFunctionFromTheOrigin) {
  Synthetic s({16, 16, 16, 16}, bowl);
  SearchOptions o;
  o.budget = 2000;
  SearchResult r = run_search(Strategy::Droplet, s, s, o);
  ASSERT_TRUE(r.found);
  EXPECT_EQ(r.best.x, (std::vector<int>{7, 3, 11, 5}));
  EXPECT_TRUE(r.droplet_converged);
  EXPECT_LT(r.measured, 2000);
  EXPECT_EQ(s.max_times_measured(), 1);  // never measures a point twice
}

TEST(Droplet, AcceptsNoMoveOnANoiseOnlyFunction) {
  // Flat function with 5% noise: every apparent improvement is noise, and the t-test refuses it
  // (a few false positives at p = 0.05 are possible; with this seed there are none at radius 1).
  Synthetic s({8, 8, 8}, [](const std::vector<int> &) { return 1e-3; }, 0.05, 11);
  SearchOptions o;
  o.budget = 500;
  o.max_radius = 1;
  SearchResult r = run_search(Strategy::Droplet, s, s, o);
  EXPECT_LE(r.droplet_moves, 1);
  EXPECT_TRUE(r.droplet_converged);
}

TEST(Droplet, SkipsInvalidNeighboursWithoutCountingThemAsSlow) {
  Synthetic s({16, 16, 16, 16}, bowl);
  // A wall of statically invalid points and a band of run-time failures on the way.
  s.static_invalid = [](const std::vector<int> &x) { return x[0] == 2 && x[1] == 0; };
  s.run_invalid = [](const std::vector<int> &x) { return x[2] == 4; };
  SearchOptions o;
  o.budget = 3000;
  SearchResult r = run_search(Strategy::Droplet, s, s, o);
  ASSERT_TRUE(r.found);
  EXPECT_EQ(r.best.x, (std::vector<int>{7, 3, 11, 5}));  // radius 2 jumps over the bands
  EXPECT_GT(r.static_rejected, 0);
  EXPECT_GT(r.invalid, 0);
}

TEST(Droplet, CoupledMovesLeaveACornerThatSingleMovesCannot) {
  // Points with x0 + x1 > 15 are invalid (like tile factors whose product exceeds the extent),
  // and leaving the boundary costs more than any single move gains: from (3, 12) every valid
  // single-coordinate neighbour is worse, so plain coordinate descent stops there; the space's
  // coupled moves (one coordinate up, the other down) walk along the boundary to (12, 3).
  auto f = [](const std::vector<int> &x) {
    return 1e-3 * (1 + (x[0] - 12) * (x[0] - 12) + (x[1] - 3) * (x[1] - 3) + 40.0 * (15 - x[0] - x[1]));
  };
  for (bool coupled : {false, true}) {
    Synthetic s({16, 16}, f);
    s.static_invalid = [](const std::vector<int> &x) { return x[0] + x[1] > 15; };
    s.coupled = coupled;
    SearchOptions o;
    o.budget = 500;
    o.start = Point{0, {3, 12}};
    SearchResult r = run_search(Strategy::Droplet, s, s, o);
    ASSERT_TRUE(r.found);
    EXPECT_TRUE(r.droplet_converged);
    if (coupled)
      EXPECT_EQ(r.best.x, (std::vector<int>{12, 3}));
    else
      EXPECT_EQ(r.best.x, (std::vector<int>{3, 12}));
  }
}

TEST(Random, StaysWithinBudgetAndNeverRepeatsAPoint) {
  Synthetic s({6, 6, 6, 6}, bowl);
  SearchOptions o;
  o.budget = 150;
  o.batch = 64;
  SearchResult r = run_search(Strategy::Random, s, s, o);
  EXPECT_EQ(r.measured, 150);
  EXPECT_EQ(s.max_times_measured(), 1);
  EXPECT_EQ(r.best_curve.size(), 150u);
  for (size_t i = 1; i < r.best_curve.size(); ++i) EXPECT_LE(r.best_curve[i], r.best_curve[i - 1]);
}

TEST(Random, StopsWhenTheSpaceIsExhausted) {
  Synthetic s({3, 3}, bowl);
  SearchOptions o;
  o.budget = 100;
  SearchResult r = run_search(Strategy::Random, s, s, o);
  EXPECT_EQ(r.measured, 9);
}

TEST(Evolutionary, RanksWithTheCostModelAndFindsTheOptimum) {
  Synthetic s({16, 16, 16, 16}, bowl);  // 65,536 points
  OracleModel model;
  SearchOptions o;
  o.budget = 128;
  o.population = 128;
  o.generations = 4;
  SearchResult r = run_search(Strategy::Evolutionary, s, s, o, &model);
  ASSERT_TRUE(r.found);
  EXPECT_EQ(r.best.x, (std::vector<int>{7, 3, 11, 5}));
  EXPECT_GT(model.updates, 0);
  EXPECT_EQ(r.measured, 128);
}

TEST(Evolutionary, WithoutAModelStillMeasuresDistinctValidPoints) {
  Synthetic s({10, 10, 10}, bowl);
  s.static_invalid = [](const std::vector<int> &x) { return x[0] > 5; };
  SearchOptions o;
  o.budget = 100;
  o.population = 64;
  SearchResult r = run_search(Strategy::Evolutionary, s, s, o);
  EXPECT_EQ(r.measured, 100);
  EXPECT_EQ(s.max_times_measured(), 1);
  for (auto &t : r.trials) EXPECT_LE(t.point.x[0], 5);
}

TEST(Hybrid, SwitchesToDropletAfterNMeasurementsAndConverges) {
  Synthetic s({16, 16, 16, 16}, bowl);
  SearchOptions o;
  o.budget = 1000;
  o.hybrid_switch = 64;
  o.population = 64;
  SearchResult r = run_search(Strategy::Hybrid, s, s, o);
  ASSERT_TRUE(r.found);
  int evo = 0;
  for (auto &t : r.trials) evo += t.phase == "evolutionary";
  EXPECT_EQ(evo, 64);
  EXPECT_TRUE(r.droplet_converged);
  EXPECT_EQ(r.best.x, (std::vector<int>{7, 3, 11, 5}));
}

TEST(Hybrid, DescendsFromTheBestOfEachOfTheBestSketches) {
  // Sketch 0's known point is the best measured, but sketch 1 holds the optimum: coordinate
  // descent from sketch 0 alone cannot reach it.
  Synthetic s({16, 16}, bowl);
  s.sketches = 2;
  s.per_sketch = [](const Point &p) {
    const double d0 = p.x[0] - 12, d1 = p.x[1] - 12, e0 = p.x[0] - 3, e1 = p.x[1] - 3;
    return p.sketch == 0 ? 1e-3 * (1 + 0.01 * (e0 * e0 + e1 * e1)) : 0.2e-3 * (1 + 0.1 * (d0 * d0 + d1 * d1));
  };
  auto known = [](int sketch, std::vector<int> x, double secs) {
    Trial t{Point{sketch, std::move(x)}, {}, "evolutionary"};
    t.m.valid = true;
    t.m.samples = {secs, secs, secs};
    t.m.median = secs;
    return t;
  };
  // Sketch 0 at (3, 3): its optimum, 1.0 ms; sketch 1 at (0, 0): 5.96 ms.
  const std::vector<Trial> history{known(0, {3, 3}, 1e-3), known(1, {0, 0}, 0.2e-3 * (1 + 0.1 * 288))};
  SearchOptions o;
  o.budget = 500;
  o.hybrid_switch = 0;
  o.hybrid_margin = std::numeric_limits<double>::infinity();
  for (int sketches : {1, 2}) {
    o.hybrid_sketches = sketches;
    SearchResult r = run_search(Strategy::Hybrid, s, s, o, nullptr, nullptr, history);
    ASSERT_TRUE(r.found);
    if (sketches == 1) {
      EXPECT_EQ(r.best.sketch, 0);  // the descent from the best point stays in its sketch
    } else {
      EXPECT_EQ(r.best.sketch, 1);
      EXPECT_EQ(r.best.x, (std::vector<int>{12, 12}));
    }
  }
  std::map<Point, Measurement> measured;
  for (auto &t : history) measured[t.point] = t.m;
  auto starts = best_per_sketch(measured, 5);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].sketch, 0);
  EXPECT_EQ(best_per_sketch(measured, 1).size(), 1u);
  // Within the default margin (15%) only: sketch 1's best is 6 times slower.
  EXPECT_EQ(best_per_sketch(measured, 5, SearchOptions{}.hybrid_margin).size(), 1u);
  measured[Point{1, {11, 12}}] = known(1, {11, 12}, 1.1e-3).m;
  auto close = best_per_sketch(measured, 5, 0.15);
  ASSERT_EQ(close.size(), 2u);
  EXPECT_EQ(close[1], (Point{1, {11, 12}}));
}

/// An oracle within each sketch that ranks every point of sketch 0 above every point of sketch 1
/// (a cost model that learned the wrong sketch early).
class SketchBiasedOracle : public CostModel {
 public:
  explicit SketchBiasedOracle(std::function<double(const Point &)> f) : f_(std::move(f)) {}
  void update(SearchSpace &, const std::vector<Point> &, const std::vector<Measurement> &) override {}
  std::vector<double> predict(SearchSpace &, const std::vector<Point> &pts) override {
    std::vector<double> s;
    for (auto &p : pts) s.push_back((p.sketch == 0 ? 1e6 : 0) + 1.0 / f_(p));
    return s;
  }
  bool trained() const override { return true; }

 private:
  std::function<double(const Point &)> f_;
};

TEST(Evolutionary, ASketchTheModelRanksLastStillGetsItsShareAndItsOptimumIsFound) {
  // Sketch 0: 1 ms at best. Sketch 1: 0.5 ms at (20, 20, 20), rising steeply (under 1 ms in a
  // ball of radius 3 only: random points almost never land there).
  Synthetic s({32, 32, 32}, bowl);
  s.sketches = 2;
  s.per_sketch = [](const Point &p) {
    double d = 0;
    for (int v : p.x) d += p.sketch == 0 ? 0.001 * (v - 8) * (v - 8) : 0.1 * (v - 20) * (v - 20);
    return (p.sketch == 0 ? 1e-3 : 0.5e-3) * (1 + d);
  };
  for (double share : {0.25, 0.0}) {
    SketchBiasedOracle model(s.per_sketch);
    SearchOptions o;
    o.budget = 320;
    o.sketch_share = share;
    SearchResult r = run_search(Strategy::Evolutionary, s, s, o, &model);
    ASSERT_TRUE(r.found);
    int sketch1 = 0;
    for (size_t i = 0; i < 64; ++i) sketch1 += r.trials[i].point.sketch == 1;
    if (share > 0) {
      EXPECT_GE(sketch1, 8);  // 25% of 64, split between the two sketches
      EXPECT_EQ(r.best.sketch, 1);
      EXPECT_EQ(r.best.x, (std::vector<int>{20, 20, 20}));
    } else {
      EXPECT_LE(sketch1, 6);  // the random share only
      EXPECT_NE(r.best.x, (std::vector<int>{20, 20, 20}));
    }
  }
}

TEST(Search, HistoryIsNeverMeasuredAgainAndCountsTowardTheBest) {
  Synthetic s({16, 16, 16, 16}, bowl);
  Trial known{Point{0, {7, 3, 11, 5}}, {}, "droplet"};
  known.m.valid = true;
  known.m.samples = {1e-3, 1e-3, 1e-3};
  known.m.median = 1e-3;
  SearchOptions o;
  o.budget = 200;
  SearchResult r = run_search(Strategy::Droplet, s, s, o, nullptr, nullptr, {known});
  EXPECT_EQ(r.best.x, known.point.x);  // droplet starts from the best known point
  EXPECT_TRUE(r.droplet_converged);
  for (auto &t : r.trials) EXPECT_NE(t.point, known.point);
}

TEST(Search, StrategyNamesRoundTrip) {
  for (Strategy k : {Strategy::Random, Strategy::Evolutionary, Strategy::Droplet, Strategy::Hybrid}) {
    Strategy back;
    ASSERT_TRUE(parse_strategy(to_string(k), back));
    EXPECT_EQ(back, k);
  }
  Strategy x;
  EXPECT_FALSE(parse_strategy("annealing", x));
}

}  // namespace
}  // namespace kcc::tuner
