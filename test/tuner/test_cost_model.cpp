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
    else m.outcome = Outcome::Crashed, m.error = "crashed";
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

Measurement valid_measurement() {
  Measurement m;
  m.valid = true;
  m.median = 1e-3;
  m.samples = {1e-3};
  return m;
}

TEST(Evidence, BuildFailuresAreThePointsRunFailuresWeighLessTheMachineryTellsNothing) {
  EXPECT_EQ(evidence_of(Outcome::Ok), Evidence::Valid);
  for (Outcome o : {Outcome::Static, Outcome::Schedule, Outcome::CompileTimeLimit, Outcome::Build})
    EXPECT_EQ(evidence_of(o), Evidence::Invalid) << to_string(o);
  for (Outcome o : {Outcome::Crashed, Outcome::Timeout, Outcome::WrongResult})
    EXPECT_EQ(evidence_of(o), Evidence::RunFailure) << to_string(o);
  for (Outcome o : {Outcome::Status, Outcome::Exception, Outcome::Cuda, Outcome::Runner, Outcome::Other})
    EXPECT_EQ(evidence_of(o), Evidence::None) << to_string(o);
  EXPECT_EQ(evidence_weight(Evidence::Invalid), evidence_weight(Evidence::Valid));
  EXPECT_EQ(evidence_weight(Evidence::RunFailure), evidence_weight(Evidence::Invalid) / 2);
  EXPECT_EQ(evidence_weight(Evidence::None), 0);
}

TEST(XgbValidityModel, ErrorsOfTheMeasuringMachineryAreNotFeaturesOfThePoint) {
  // x0 >= 6 fails to build: a feature of those points. Every measurement with x1 >= 6 met a
  // CUDA or runtime-status error (a broken context, a busy device): not the points' doing, so
  // the region stays predicted valid where it builds.
  Box space;
  std::mt19937_64 rng(5);
  XgbValidityModel model;
  std::vector<Point> pts;
  std::vector<Measurement> ms;
  for (int i = 0; i < 300; ++i) {
    Point p = space.random_point(rng);
    pts.push_back(p);
    if (p.x[0] >= 6)
      ms.push_back(Measurement::invalid(Outcome::Build, "build: LLVM ERROR"));
    else if (p.x[1] >= 6)
      ms.push_back(Measurement::invalid(i % 2 ? Outcome::Cuda : Outcome::Status, "cuda error: launch failed"));
    else
      ms.push_back(valid_measurement());
  }
  model.update(space, pts, ms);
  ASSERT_TRUE(model.trained());
  auto pr = model.predict(space, {Point{0, {2, 9, 4}}, Point{0, {3, 11, 8}}, Point{0, {9, 2, 4}}, Point{0, {8, 9, 1}}});
  EXPECT_GT(pr[0], 0.5);
  EXPECT_GT(pr[1], 0.5);
  EXPECT_LT(pr[2], 0.5);
  EXPECT_LT(pr[3], 0.5);
}

TEST(XgbValidityModel, OnlyMachineryErrorsLeaveItUntrained) {
  Box space;
  XgbValidityModel model;
  std::vector<Point> pts;
  std::vector<Measurement> ms;
  for (int i = 0; i < 12; ++i) {
    pts.push_back(Point{0, {i, i, i}});
    ms.push_back(i < 6 ? valid_measurement() : Measurement::invalid(Outcome::Runner, "runner: no response"));
  }
  model.update(space, pts, ms);
  EXPECT_FALSE(model.trained());
  EXPECT_EQ(model.predict(space, {Point{0, {11, 11, 11}}})[0], 1.0);
}

/// Features that see only x0: points with one x0 are one row to the model, so it must weigh
/// their measurements against each other.
class FirstCoordinateOnly : public Box {
 public:
  std::vector<std::vector<float>> features(const Point &p) override { return {{static_cast<float>(p.x[0])}}; }
  int feature_count() const override { return 1; }
};

TEST(XgbValidityModel, ARunFailureWeighsHalfABuildFailure) {
  // Rows x0 = 1 and x0 = 2 each hold 2 valid measurements and 3 failures: crashes at x0 = 1
  // (3 x 1/2 < 2: valid wins), build failures at x0 = 2 (3 > 2: invalid wins).
  FirstCoordinateOnly space;
  XgbValidityModel model;
  std::vector<Point> pts;
  std::vector<Measurement> ms;
  auto add = [&](int x0, int n, const Measurement &m) {
    for (int i = 0; i < n; ++i) {
      pts.push_back(Point{0, {x0, static_cast<int>(pts.size() % 12), 0}});
      ms.push_back(m);
    }
  };
  add(0, 4, valid_measurement());
  add(1, 2, valid_measurement());
  add(1, 3, Measurement::invalid(Outcome::Crashed, "crashed: signal 11"));
  add(2, 2, valid_measurement());
  add(2, 3, Measurement::invalid(Outcome::Build, "build: LLVM ERROR"));
  add(3, 4, Measurement::invalid(Outcome::Timeout, "timeout"));
  model.update(space, pts, ms);
  ASSERT_TRUE(model.trained());
  auto pr = model.predict(space, {Point{0, {0, 0, 0}}, Point{0, {1, 0, 0}}, Point{0, {2, 0, 0}}, Point{0, {3, 0, 0}}});
  EXPECT_GT(pr[0], 0.5);
  EXPECT_GT(pr[1], 0.5);
  EXPECT_LT(pr[2], 0.5);
  EXPECT_LT(pr[3], 0.5);  // run failures alone still mark a region invalid
}

/// Measures `truth` with a few samples; points with x0 > 9 crash.
class BoxEval : public Evaluator {
 public:
  std::vector<Measurement> measure(const std::vector<Point> &pts) override {
    std::vector<Measurement> out;
    for (auto &p : pts) {
      Measurement m;
      if (p.x[0] > 9) {
        m.outcome = Outcome::Crashed;
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
