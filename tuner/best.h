// tuner/best.h - "the best of a kernel" (docs/decisions.md §8): the one rule behind the tuner's
// result and `kcc tune`'s summary, the database's best record (`kcc compile`) and `kcc report`.
//
// A schedule counts with its worst valid measurement, and a schedule measured invalid once is
// out: on a shared machine the best of hundreds of single measurements is the luckiest one.
#pragma once
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace kcc::tuner {

struct MeasureRecord;

/// Measurements of schedules, each schedule named by a Key (a point of the search space, or a
/// schedule's text), ranked by their worst.
template <class Key>
class WorstMeasurementRanking {
 public:
  /// One measurement of `key`: `seconds` is its median when `valid`.
  void add(const Key &key, bool valid, double seconds) {
    if (!valid) {
      worst_.erase(key);
      bad_.insert(key);
      return;
    }
    if (bad_.count(key)) return;
    double &w = worst_[key];
    w = std::max(w, seconds);
  }
  /// Every schedule that was never invalid, with its worst median.
  const std::map<Key, double> &worst() const { return worst_; }
  /// The schedule whose worst median is least (ties: the smallest key); nullopt if none counts.
  std::optional<std::pair<Key, double>> best() const {
    std::optional<std::pair<Key, double>> b;
    for (auto &[k, w] : worst_)
      if (!b || w < b->second) b = {k, w};
    return b;
  }

 private:
  std::map<Key, double> worst_;
  std::set<Key> bad_;
};

/// The best of these records, schedules named by their text: the winning schedule's slowest
/// valid record (its median_seconds is the figure the tuner reports); nullopt if none counts.
std::optional<MeasureRecord> best_record(const std::vector<MeasureRecord> &records);

}  // namespace kcc::tuner
