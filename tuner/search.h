// tuner/search.h - search strategies over an abstract space of integer coordinate vectors.
//
// A point is a sketch index plus one index per free decision of that sketch (each into the
// decision's candidate list). The strategies know nothing of kernels: a `SearchSpace` says how
// many choices each decision has and which points are statically impossible, an `Evaluator`
// measures points (several timing samples each), and optional models rank points (`CostModel`)
// and predict failures (`ValidityModel`). So the strategies are tested on synthetic functions.
//
//   random        uniform statically-valid points, in batches
//   evolutionary  Ansor-style: a population from every sketch, mutation of decisions, ranking by
//                 the cost model, epsilon-greedy batches (default 64) measured per round
//   droplet       coordinate descent over decision indices from a start point: neighbours at
//                 radius 1, 2, ... on one coordinate at a time (plus the space's coupled moves),
//                 measured together; a move is taken
//                 when the neighbour's mean time is lower and Welch's t-test gives p <= pvalue;
//                 invalid neighbours are skipped; stops when no neighbour within max_radius improves
//   hybrid        evolutionary for the first `hybrid_switch` measurements, then droplet from the best
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tuner/outcome.h"

namespace kcc::tuner {

struct Point {
  int sketch = 0;
  std::vector<int> x;  ///< one index per decision of the sketch
  bool operator==(const Point &o) const { return sketch == o.sketch && x == o.x; }
  bool operator!=(const Point &o) const { return !(*this == o); }
  bool operator<(const Point &o) const { return sketch != o.sketch ? sketch < o.sketch : x < o.x; }
};
/// "s2:[0,3,1]".
std::string to_string(const Point &p);

class SearchSpace {
 public:
  virtual ~SearchSpace() = default;
  virtual int num_sketches() const = 0;
  /// Number of choices of each decision of sketch `s` (each >= 1).
  virtual std::vector<int> dims(int sketch) const = 0;
  /// Cheap checks before any build; false means the point is never measured.
  virtual bool statically_valid(const Point &p) { return true; }
  /// Checks many points ahead of statically_valid and features being asked for them one by one,
  /// so that a space whose checks are costly can do them at once, on several threads. Changes
  /// no answer; the default does nothing.
  virtual void prepare(const std::vector<Point> &points) {}
  /// Feature rows for the models: one or more rows per point (e.g. one per store), each of
  /// feature_count() values. The default is the raw coordinates (one row).
  virtual std::vector<std::vector<float>> features(const Point &p);
  virtual int feature_count() const;
  /// A random point of sketch `sketch` (uniform decisions by default; spaces may bias it toward
  /// the region their static checks accept).
  virtual Point random_point_of(int sketch, std::mt19937_64 &rng) const;
  /// A random point of a uniformly drawn sketch.
  Point random_point(std::mt19937_64 &rng) const;
  /// Droplet's neighbours of `p` at radius `r` beyond the single-coordinate moves (none by
  /// default). Spaces with coupled decisions offer moves that keep the coupling, e.g. one tile
  /// factor up and another of the same loop down, where a single move would leave the space.
  virtual std::vector<Point> coupled_neighbours(const Point &p, int r) const { return {}; }
};

/// The outcome of measuring one point.
struct Measurement {
  bool valid = false;
  std::vector<double> samples;  ///< seconds (lower is better); at least one when valid
  double median = 0;
  Outcome outcome = Outcome::Other;  ///< why it is invalid (not read when valid)
  std::string error;                 ///< why it is invalid, for people
  /// Static, Schedule: the kind of the ScheduleError that made it invalid, when one did.
  std::optional<ScheduleErrorKind> schedule_error;

  /// An invalid measurement.
  static Measurement invalid(Outcome o, std::string why, std::optional<ScheduleErrorKind> kind = std::nullopt) {
    Measurement m;
    m.outcome = o;
    m.error = std::move(why);
    m.schedule_error = kind;
    return m;
  }
};

/// Ok when `m` is valid, else its outcome.
inline Outcome outcome_of(const Measurement &m) { return m.valid ? Outcome::Ok : m.outcome; }

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  /// Measures the points (in one batch: builders may run in parallel); one result per point.
  virtual std::vector<Measurement> measure(const std::vector<Point> &points) = 0;
};

/// Predicts relative speed (higher = faster) from measured history.
class CostModel {
 public:
  virtual ~CostModel() = default;
  virtual void update(SearchSpace &space, const std::vector<Point> &points, const std::vector<Measurement> &m) = 0;
  virtual std::vector<double> predict(SearchSpace &space, const std::vector<Point> &points) = 0;
  virtual bool trained() const = 0;
};

/// Predicts the probability that a point builds, runs and gives the right result. What each
/// measurement tells it is evidence_of(its outcome) (tuner/outcome.h).
class ValidityModel {
 public:
  virtual ~ValidityModel() = default;
  virtual void update(SearchSpace &space, const std::vector<Point> &points, const std::vector<Measurement> &m) = 0;
  virtual std::vector<double> predict(SearchSpace &space, const std::vector<Point> &points) = 0;
  virtual bool trained() const = 0;
};

enum class Strategy { Random, Evolutionary, Droplet, Hybrid };
const char *to_string(Strategy s);
/// The best valid point (lowest median) of each sketch among `measured`, best first, at most `k`,
/// each with a median at most (1 + margin) times the best one's: hybrid's droplet starts.
std::vector<Point> best_per_sketch(const std::map<Point, Measurement> &measured, int k,
                                   double margin = std::numeric_limits<double>::infinity());

/// "random", "evolutionary", "droplet", "hybrid"; false if unknown.
bool parse_strategy(const std::string &s, Strategy &out);

struct SearchOptions {
  int64_t budget = 1000;       ///< new measurements at most
  int batch = 64;              ///< measured per round (random, evolutionary)
  double epsilon = 0.05;       ///< share of each evolutionary batch picked at random
  int population = 256;
  int generations = 4;
  double mutation_local = 0.5;  ///< probability that a mutation steps +-1 instead of jumping
  int64_t hybrid_switch = 300;  ///< hybrid: evolutionary measurements before droplet
  /// hybrid: droplet runs from the best point of each of at most this many sketches (best
  /// first), a sketch's only when its best median is within `hybrid_margin` of the overall best.
  /// Coordinate descent never leaves its start's sketch. A second sketch without the margin was
  /// tried on the depthwise conv, where the evolutionary phase had settled in the wrong sketch:
  /// the other sketch's best after 300 measurements (38 of them, 24% slower) was too poor a start
  /// and its descent found nothing (54 vs 55 GFLOP/s retimed; evolutionary-3000: 88). With the
  /// margin, a second descent runs only when two sketches are close (stride-2 conv: 107 vs 101).
  int hybrid_sketches = 2;
  double hybrid_margin = 0.15;
  /// evolutionary: this share of each batch is split among the sketches still in contention (best
  /// throughput at least half the best sketch's, or fewer than 8 valid measurements), each taking
  /// its own best-ranked candidates, so that a cost model that ranks one sketch above the others
  /// early cannot starve a sketch of measurements (0 = rank all sketches together).
  double sketch_share = 0.25;
  double pvalue = 0.05;
  int max_radius = 3;
  uint64_t seed = 1;
  std::optional<Point> start;   ///< droplet's start (default: best known, else all zeros of sketch 0)
};

/// Runs `for (int i = 0; more(i); ++i) take(draw(i));` with the draws made ahead, `ahead()` at a
/// time, and checked at once by the space (SearchSpace::prepare: on its threads) before `take`
/// sees them. `draw` uses `rng`; `more` and `take` must not. The engine ends where the plain
/// loop would leave it (its state after the last draw taken is restored), so a search is the
/// one it was before draws were made ahead, on any number of threads; draws beyond the last
/// one taken cost only their checks.
template <class More, class Draw, class Take, class Ahead>
void draw_ahead(SearchSpace &space, std::mt19937_64 &rng, More more, Draw draw, Take take, Ahead ahead) {
  int i = 0;
  while (more(i)) {
    const size_t n = std::max<size_t>(1, ahead());
    std::vector<Point> drawn;
    std::vector<std::mt19937_64> after;  // the engine after each draw
    for (size_t k = 0; k < n; ++k) {
      drawn.push_back(draw(i + static_cast<int>(k)));
      after.push_back(rng);
    }
    space.prepare(drawn);
    size_t used = 0;
    for (; used < n && (used == 0 || more(i)); ++used, ++i) take(drawn[used]);
    if (used < n) rng = after[used - 1];
  }
}

/// One measured point, in measuring order.
struct Trial {
  Point point;
  Measurement m;
  std::string phase;  ///< "random", "evolutionary", "droplet"
};

/// Called after each measured batch (progress lines, database writes).
class SearchObserver {
 public:
  virtual ~SearchObserver() = default;
  virtual void on_batch(const std::vector<Trial> &batch, const Trial *best_so_far, int64_t measured,
                        int64_t budget) = 0;
};

struct SearchResult {
  bool found = false;          ///< some valid point is known (measured now or in history)
  Point best;
  Measurement best_m;
  int64_t measured = 0;        ///< new measurements
  int64_t invalid = 0;         ///< of those, invalid ones
  int64_t static_rejected = 0;  ///< candidates discarded by static checks
  int64_t model_rejected = 0;   ///< candidates discarded by the validity model
  int64_t droplet_moves = 0;
  bool droplet_converged = false;
  std::vector<Trial> trials;   ///< every new measurement
  std::vector<double> best_curve;  ///< best median after each new measurement (0 until one is valid)
};

/// Runs a strategy. `history` holds earlier measurements of this space (a resumed run, or the
/// database): they are never measured again, count toward the best and train the models.
SearchResult run_search(Strategy strategy, SearchSpace &space, Evaluator &eval, const SearchOptions &opts,
                        CostModel *cost = nullptr, ValidityModel *validity = nullptr,
                        const std::vector<Trial> &history = {}, SearchObserver *observer = nullptr);

}  // namespace kcc::tuner
