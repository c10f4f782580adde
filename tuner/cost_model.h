// tuner/cost_model.h - XGBoost models over loop-IR features (DESIGN §6 "Cost model",
// "Validity-driven initialization").
//
// A point's row is the sum and the maximum over its per-store feature rows (so a kernel with
// many stores and one with few compare on the same columns). Both models retrain from scratch
// on all data after each measured batch (data stays small: thousands of rows).
//   XgbCostModel       regression on normalized throughput: best median / median in (0, 1],
//                      0 for invalid points; higher = faster
//   XgbValidityModel   binary classifier: does a point build, run and give the right result;
//                      each measurement labelled and weighted by evidence_of(outcome)
//                      (tuner/outcome.h): build failures weigh 1, run failures 1/2, failures
//                      of the measuring machinery (status, CUDA, runner) are left out
#pragma once
#include <memory>
#include <vector>

#include "tuner/search.h"

namespace kcc::tuner {

struct XgbOptions {
  int rounds = 40;
  int max_depth = 6;
  double eta = 0.3;
  int threads = 2;
  int min_rows = 8;  ///< not trained before this many measured points
};

/// The per-point row: sum and max of the space's per-store feature rows.
std::vector<float> point_row(SearchSpace &space, const Point &p);

class XgbCostModel : public CostModel {
 public:
  explicit XgbCostModel(XgbOptions o = {});
  ~XgbCostModel() override;
  void update(SearchSpace &space, const std::vector<Point> &points, const std::vector<Measurement> &m) override;
  std::vector<double> predict(SearchSpace &space, const std::vector<Point> &points) override;
  bool trained() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class XgbValidityModel : public ValidityModel {
 public:
  explicit XgbValidityModel(XgbOptions o = {});
  ~XgbValidityModel() override;
  void update(SearchSpace &space, const std::vector<Point> &points, const std::vector<Measurement> &m) override;
  /// Probability of validity; 1 when not trained (no failure of a point seen yet).
  std::vector<double> predict(SearchSpace &space, const std::vector<Point> &points) override;
  bool trained() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kcc::tuner
