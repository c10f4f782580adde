// tuner/cost_model.cpp - XGBoost through its C API.
#include "tuner/cost_model.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <stdexcept>
#include <string>


namespace kcc::tuner {

namespace {

void check(int rc, const char *what) {
  if (rc != 0) throw std::runtime_error(std::string("xgboost: ") + what + ": " + XGBGetLastError());
}

/// Owns a DMatrix.
struct Matrix {
  DMatrixHandle h = nullptr;
  Matrix(const std::vector<float> &data, size_t rows, size_t cols) {
    check(XGDMatrixCreateFromMat(data.data(), rows, cols, -1e30f, &h), "create matrix");
  }
  ~Matrix() { XGDMatrixFree(h); }
};

/// Training data and a booster, retrained on update.
class Booster {
 public:
  Booster(XgbOptions o, bool classify) : o_(o), classify_(classify) {}
  ~Booster() { reset(); }

  void add(std::vector<float> row, float label, float weight = 1.0f) {
    if (cols_ == 0) cols_ = row.size();
    if (row.size() != cols_) return;  // a point from another space: ignore
    data_.insert(data_.end(), row.begin(), row.end());
    labels_.push_back(label);
    weights_.push_back(weight);
    weighted_ = weighted_ || weight != 1.0f;
  }
  std::vector<float> &labels() { return labels_; }
  size_t rows() const { return labels_.size(); }

  void train() {
    reset();
    Matrix m(data_, rows(), cols_);
    check(XGDMatrixSetFloatInfo(m.h, "label", labels_.data(), rows()), "labels");
    if (weighted_) check(XGDMatrixSetFloatInfo(m.h, "weight", weights_.data(), rows()), "weights");
    check(XGBoosterCreate(&m.h, 1, &booster_), "create booster");
    auto set = [&](const char *k, const std::string &v) { check(XGBoosterSetParam(booster_, k, v.c_str()), k); };
    set("objective", classify_ ? "binary:logistic" : "reg:squarederror");
    set("max_depth", std::to_string(o_.max_depth));
    set("eta", std::to_string(o_.eta));
    set("nthread", std::to_string(o_.threads));
    set("verbosity", "0");
    // Failures are rare: let the classifier split on a handful of them.
    if (classify_) set("min_child_weight", "0.05");
    for (int i = 0; i < o_.rounds; ++i) check(XGBoosterUpdateOneIter(booster_, i, m.h), "train");
  }
  bool trained() const { return booster_ != nullptr; }

  std::vector<double> predict(const std::vector<std::vector<float>> &rows) {
    std::vector<double> out;
    if (!booster_ || rows.empty()) return out;
    std::vector<float> flat;
    for (auto &r : rows) flat.insert(flat.end(), r.begin(), r.end());
    Matrix m(flat, rows.size(), cols_);
    bst_ulong n = 0;
    const float *res = nullptr;
    check(XGBoosterPredict(booster_, m.h, 0, 0, 0, &n, &res), "predict");
    out.assign(res, res + n);
    return out;
  }

 private:
  void reset() {
    if (booster_) XGBoosterFree(booster_);
    booster_ = nullptr;
  }
  XgbOptions o_;
  bool classify_;
  size_t cols_ = 0;
  std::vector<float> data_;
  std::vector<float> labels_;
  std::vector<float> weights_;  ///< per row
  bool weighted_ = false;       ///< some weight is not 1 (else none are passed: the cost model's case)
  BoosterHandle booster_ = nullptr;
};

}  // namespace

std::vector<float> point_row(SearchSpace &space, const Point &p) {
  auto rows = space.features(p);
  const size_t n = static_cast<size_t>(space.feature_count());
  std::vector<float> out(2 * n, 0.f);
  for (size_t j = 0; j < n; ++j) out[n + j] = -1e30f;
  for (auto &r : rows)
    for (size_t j = 0; j < n && j < r.size(); ++j) {
      out[j] += r[j];
      out[n + j] = std::max(out[n + j], r[j]);
    }
  return out;
}

struct XgbCostModel::Impl {
  Booster booster;
  std::vector<double> medians;  // per row; 0 = invalid
  XgbOptions o;
  explicit Impl(XgbOptions opts) : booster(opts, false), o(opts) {}
};

XgbCostModel::XgbCostModel(XgbOptions o) : impl_(std::make_unique<Impl>(o)) {}
XgbCostModel::~XgbCostModel() = default;

void XgbCostModel::update(SearchSpace &space, const std::vector<Point> &points, const std::vector<Measurement> &m) {
  for (size_t i = 0; i < points.size(); ++i) {
    impl_->booster.add(point_row(space, points[i]), 0.f);
    impl_->medians.push_back(m[i].valid ? m[i].median : 0);
  }
  // Normalized throughput relative to the best so far (labels change as the best improves).
  double best = 0;
  for (double v : impl_->medians)
    if (v > 0 && (best == 0 || v < best)) best = v;
  if (best == 0 || static_cast<int>(impl_->booster.rows()) < impl_->o.min_rows) return;
  auto &labels = impl_->booster.labels();
  for (size_t i = 0; i < labels.size() && i < impl_->medians.size(); ++i)
    labels[i] = impl_->medians[i] > 0 ? static_cast<float>(best / impl_->medians[i]) : 0.f;
  impl_->booster.train();
}

std::vector<double> XgbCostModel::predict(SearchSpace &space, const std::vector<Point> &points) {
  std::vector<std::vector<float>> rows;
  for (auto &p : points) rows.push_back(point_row(space, p));
  auto out = impl_->booster.predict(rows);
  out.resize(points.size(), 0.0);
  return out;
}

bool XgbCostModel::trained() const { return impl_->booster.trained(); }

struct XgbValidityModel::Impl {
  Booster booster;
  XgbOptions o;
  bool seen_invalid = false, seen_valid = false;
  explicit Impl(XgbOptions opts) : booster(opts, true), o(opts) {}
};

XgbValidityModel::XgbValidityModel(XgbOptions o) : impl_(std::make_unique<Impl>(o)) {}
XgbValidityModel::~XgbValidityModel() = default;

void XgbValidityModel::update(SearchSpace &space, const std::vector<Point> &points,
                              const std::vector<Measurement> &m) {
  for (size_t i = 0; i < points.size(); ++i) {
    const Evidence e = evidence_of(outcome_of(m[i]));
    if (e == Evidence::None) continue;  // the machinery failed, not the point
    impl_->booster.add(point_row(space, points[i]), e == Evidence::Valid ? 1.f : 0.f, evidence_weight(e));
    (e == Evidence::Valid ? impl_->seen_valid : impl_->seen_invalid) = true;
  }
  // Until a failure has been seen there is nothing to learn: everything is predicted valid.
  if (!impl_->seen_invalid || !impl_->seen_valid || static_cast<int>(impl_->booster.rows()) < impl_->o.min_rows)
    return;
  impl_->booster.train();
}

std::vector<double> XgbValidityModel::predict(SearchSpace &space, const std::vector<Point> &points) {
  if (!impl_->booster.trained()) return std::vector<double>(points.size(), 1.0);
  std::vector<std::vector<float>> rows;
  for (auto &p : points) rows.push_back(point_row(space, p));
  auto out = impl_->booster.predict(rows);
  out.resize(points.size(), 1.0);
  return out;
}

bool XgbValidityModel::trained() const { return impl_->booster.trained(); }

}  // namespace kcc::tuner
