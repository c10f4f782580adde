// XGBoost cost and validity models on synthetic spaces (features = the coordinates).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tuner/cost_model.h"

namespace kcc::tuner {
namespace {

class Box : public SearchSpace {
 public:
  int num_sketches() const override { return 1; }
  std::vector<int> dims(int) const override { return {12, 12, 12}; }
};

double truth(const Point &p) {  // seconds; optimum at (8, 2, 5)
  return 1e-3 * (1 + 0.2 * (p.x[0] - 8) * (p.x[0] - 8) + 0.1 * (p.x[1] - 2) * (p.x[1] - 2) +
                 0.05 * (p.x[2] - 5) * (p.x[2] - 5));
}

double spearman(const std::vector<double> &a, const std::vector<double> &b) {
  auto ranks = [](const std::vector<double> &v) {
    std::vector<size_t> idx(v.size());
    for (size_t i = 0; i < v.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return v[x] < v[y]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < idx.size(); ++i) r[idx[i]] = static_cast<double>(i);
    return r;
  };
  auto ra = ranks(a), rb = ranks(b);
  double n = static_cast<double>(a.size()), d2 = 0;
  for (size_t i = 0; i < a.size(); ++i) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return 1 - 6 * d2 / (n * (n * n - 1));
}

TEST(XgbCostModel, LearnsTheRankingOfThroughput) {
  Box space;
  std::mt19937_64 rng(3);
  XgbCostModel model;
  EXPECT_FALSE(model.trained());
  std::vector<Point> train;
  std::vector<Measurement> ms;
  for (int i = 0; i < 300; ++i) {
    Point p = space.random_point(rng);
    Measurement m;
    m.valid = true;
    m.median = truth(p);
    m.samples = {m.median};
    train.push_back(p);
    ms.push_back(m);
  }
  model.update(space, train, ms);
  ASSERT_TRUE(model.trained());
  std::vector<Point> test;
  std::vector<double> speed;
  for (int i = 0; i < 200; ++i) {
    test.push_back(space.random_point(rng));
    speed.push_back(1 / truth(test.back()));
  }
  EXPECT_GT(spearman(model.predict(space, test), speed), 0.8);
}

TEST(XgbValidityModel, PredictsTheInvalidRegionOnlyAfterSeeingFailures) {
  Box space;
  std::mt19937_64 rng(4);
  XgbValidityModel model;
  auto measure = [](const Point &p) {
    Measurement m;
    m.valid = p.x[0] <= 5;
    if (m.valid) m.median = 1e-3, m.samples = {1e-3};
    else m.error = "crashed";
    return m;
  };
  std::vector<Point> pts;
  std::vector<Measurement> ms;
  for (int i = 0; i < 10; ++i) {
    Point p{0, {i % 5, i, i}};
    pts.push_back(p);
    ms.push_back(measure(p));
  }
  model.update(space, pts, ms);
  EXPECT_FALSE(model.trained());  // no failure yet: everything predicted valid
  EXPECT_EQ(model.predict(space, {Point{0, {11, 0, 0}}})[0], 1.0);
  pts.clear();
  ms.clear();
  for (int i = 0; i < 200; ++i) {
    Point p = space.random_point(rng);
    pts.push_back(p);
    ms.push_back(measure(p));
  }
  model.update(space, pts, ms);
  ASSERT_TRUE(model.trained());
  auto pr = model.predict(space, {Point{0, {10, 3, 3}}, Point{0, {1, 7, 2}}});
  EXPECT_LT(pr[0], 0.5);
  EXPECT_GT(pr[1], 0.5);
}

/// Measures `truth` with a few samples; points with x0 > 9 crash.
class BoxEval : public Evaluator {
 public:
  std::vector<Measurement> measure(const std::vector<Point> &pts) override {
    std::vector<Measurement> out;
    for (auto &p : pts) {
      Measurement m;
      if (p.x[0] > 9) {
        m.error = "crashed";
      } else {
        m.valid = true;
        m.samples = {truth(p), truth(p) * 1.01, truth(p) * 0.99};
      }
      out.push_back(m);
    }
    return out;
  }
};

TEST(XgbModels, GuideEvolutionaryToTheOptimumAndAvoidTheInvalidRegion) {
  Box space;
  BoxEval eval;
  XgbCostModel cost;
  XgbValidityModel validity;
  SearchOptions o;
  o.budget = 192;
  o.batch = 32;
  o.population = 128;
  SearchResult r = run_search(Strategy::Evolutionary, space, eval, o, &cost, &validity);
  ASSERT_TRUE(r.found);
  EXPECT_LT(r.best_m.median, truth(Point{0, {8, 2, 5}}) * 1.3);
  // After the first batches the validity model keeps the crashing region out of the batches.
  int64_t late_invalid = 0;
  for (size_t i = 96; i < r.trials.size(); ++i) late_invalid += !r.trials[i].m.valid;
  EXPECT_LT(late_invalid, 10);
  EXPECT_GT(r.model_rejected, 0);
}

}  // namespace
}  // namespace kcc::tuner
