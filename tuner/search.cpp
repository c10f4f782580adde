// tuner/search.cpp - random, evolutionary, droplet and hybrid search.
#include "tuner/search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "tuner/stats.h"

namespace kcc::tuner {

std::string to_string(const Point &p) {
  std::string s = "s" + std::to_string(p.sketch) + ":[";
  for (size_t i = 0; i < p.x.size(); ++i) s += (i ? "," : "") + std::to_string(p.x[i]);
  return s + "]";
}

std::vector<std::vector<float>> SearchSpace::features(const Point &p) {
  std::vector<float> row(static_cast<size_t>(feature_count()), 0.f);
  row[0] = static_cast<float>(p.sketch);
  for (size_t i = 0; i < p.x.size() && i + 1 < row.size(); ++i) row[i + 1] = static_cast<float>(p.x[i]);
  return {row};
}

int SearchSpace::feature_count() const {
  size_t n = 0;
  for (int s = 0; s < num_sketches(); ++s) n = std::max(n, dims(s).size());
  return static_cast<int>(n + 1);
}

Point SearchSpace::random_point_of(int sketch, std::mt19937_64 &rng) const {
  Point p;
  p.sketch = sketch;
  for (int d : dims(p.sketch)) p.x.push_back(std::uniform_int_distribution<int>(0, d - 1)(rng));
  return p;
}

Point SearchSpace::random_point(std::mt19937_64 &rng) const {
  return random_point_of(std::uniform_int_distribution<int>(0, num_sketches() - 1)(rng), rng);
}

const char *to_string(Strategy s) {
  switch (s) {
    case Strategy::Random: return "random";
    case Strategy::Evolutionary: return "evolutionary";
    case Strategy::Droplet: return "droplet";
    case Strategy::Hybrid: return "hybrid";
  }
  return "?";
}

bool parse_strategy(const std::string &s, Strategy &out) {
  for (Strategy k : {Strategy::Random, Strategy::Evolutionary, Strategy::Droplet, Strategy::Hybrid})
    if (s == to_string(k)) {
      out = k;
      return true;
    }
  return false;
}

namespace {

/// Everything measured so far, the budget, the best, the models: shared by all strategies so
/// that hybrid's droplet phase reuses what evolution measured.
class Tracker {
 public:
  Tracker(SearchSpace &space, Evaluator &eval, const SearchOptions &opts, CostModel *cost, ValidityModel *validity,
          SearchObserver *observer)
      : space_(space), eval_(eval), opts_(opts), cost_(cost), validity_(validity), observer_(observer),
        rng_(opts.seed) {}

  void add_history(const std::vector<Trial> &history) {
    std::vector<Point> pts;
    std::vector<Measurement> ms;
    for (const Trial &t : history) {
      known_[t.point] = t.m;
      consider_best(t.point, t.m);
      pts.push_back(t.point);
      ms.push_back(t.m);
    }
    train(pts, ms);
  }

  int64_t left() const { return opts_.budget - result_.measured; }
  bool is_known(const Point &p) const { return known_.count(p) != 0; }
  const std::map<Point, Measurement> &measured() const { return known_; }
  const Measurement *known(const Point &p) const {
    auto it = known_.find(p);
    return it == known_.end() ? nullptr : &it->second;
  }
  std::mt19937_64 &rng() { return rng_; }
  SearchSpace &space() { return space_; }
  SearchResult &result() { return result_; }
  CostModel *cost() { return cost_; }

  bool statically_ok(const Point &p) {
    if (space_.statically_valid(p)) return true;
    ++result_.static_rejected;
    return false;
  }

  /// Probability of validity per point (1 when there is no trained model).
  std::vector<double> validity(const std::vector<Point> &pts) {
    if (!validity_ || !validity_->trained() || pts.empty()) return std::vector<double>(pts.size(), 1.0);
    return validity_->predict(space_, pts);
  }

  /// Measures up to left() of the points (unknown ones only), records them, trains the models.
  void measure(std::vector<Point> pts, const std::string &phase) {
    std::set<Point> seen;
    std::vector<Point> todo;
    for (auto &p : pts)
      if (!is_known(p) && seen.insert(p).second) todo.push_back(p);
    if (static_cast<int64_t>(todo.size()) > left()) todo.resize(static_cast<size_t>(std::max<int64_t>(0, left())));
    if (todo.empty()) return;
    std::vector<Measurement> ms = eval_.measure(todo);
    std::vector<Trial> batch;
    for (size_t i = 0; i < todo.size(); ++i) {
      Measurement &m = ms[i];
      if (m.valid && m.samples.empty()) m = Measurement::invalid(Outcome::Other, "no samples");
      if (m.valid) m.median = median(m.samples);
      known_[todo[i]] = m;
      ++result_.measured;
      if (!m.valid) ++result_.invalid;
      consider_best(todo[i], m);
      result_.best_curve.push_back(result_.found ? result_.best_m.median : 0);
      batch.push_back({todo[i], m, phase});
      result_.trials.push_back(batch.back());
    }
    train(todo, ms);
    if (observer_) {
      Trial best{result_.best, result_.best_m, ""};
      observer_->on_batch(batch, result_.found ? &best : nullptr, result_.measured, opts_.budget);
    }
  }

 private:
  void consider_best(const Point &p, const Measurement &m) {
    if (!m.valid) return;
    if (!result_.found || m.median < result_.best_m.median) {
      result_.found = true;
      result_.best = p;
      result_.best_m = m;
    }
  }
  void train(const std::vector<Point> &pts, const std::vector<Measurement> &ms) {
    if (pts.empty()) return;
    if (cost_) cost_->update(space_, pts, ms);
    if (validity_) validity_->update(space_, pts, ms);
  }

  SearchSpace &space_;
  Evaluator &eval_;
  const SearchOptions &opts_;
  CostModel *cost_;
  ValidityModel *validity_;
  SearchObserver *observer_;
  std::mt19937_64 rng_;
  std::map<Point, Measurement> known_;
  SearchResult result_;
};

/// A random statically valid point not measured yet (nullopt after many failed tries).
std::optional<Point> fresh_random_point(Tracker &t) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    Point p = t.space().random_point(t.rng());
    if (t.is_known(p)) continue;
    if (!t.statically_ok(p)) continue;
    return p;
  }
  return std::nullopt;
}

void random_search(Tracker &t, const SearchOptions &opts) {
  while (t.left() > 0) {
    std::vector<Point> batch;
    std::set<Point> seen;
    const int64_t want = std::min<int64_t>(opts.batch, t.left());
    for (int64_t tries = 0; static_cast<int64_t>(batch.size()) < want && tries < want * 20; ++tries) {
      auto p = fresh_random_point(t);
      if (!p) break;
      if (seen.insert(*p).second) batch.push_back(*p);
    }
    if (batch.empty()) return;  // space exhausted
    t.measure(batch, "random");
  }
}

/// Changes one decision: a step of +-1 (local) or a jump to a random other index.
Point mutate(Tracker &t, const Point &p, const SearchOptions &opts) {
  Point q = p;
  std::vector<int> dims = t.space().dims(p.sketch);
  std::vector<size_t> free;
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] > 1) free.push_back(i);
  if (free.empty()) return q;
  auto &rng = t.rng();
  size_t i = free[std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng)];
  if (std::uniform_real_distribution<double>(0, 1)(rng) < opts.mutation_local) {
    int step = std::uniform_int_distribution<int>(0, 1)(rng) ? 1 : -1;
    q.x[i] = std::clamp(q.x[i] + step, 0, dims[i] - 1);
    if (q.x[i] == p.x[i]) q.x[i] = std::clamp(p.x[i] - step, 0, dims[i] - 1);
  } else {
    int v = std::uniform_int_distribution<int>(0, dims[i] - 2)(rng);
    q.x[i] = v >= p.x[i] ? v + 1 : v;
  }
  return q;
}

/// Crossover of two points of one sketch: each decision from either parent.
Point crossover(Tracker &t, const Point &a, const Point &b) {
  Point c = a;
  for (size_t i = 0; i < c.x.size(); ++i)
    if (std::uniform_int_distribution<int>(0, 1)(t.rng())) c.x[i] = b.x[i];
  return c;
}

std::vector<double> scores(Tracker &t, const std::vector<Point> &pts) {
  if (t.cost() && t.cost()->trained() && !pts.empty()) return t.cost()->predict(t.space(), pts);
  std::vector<double> s(pts.size());
  for (auto &v : s) v = std::uniform_real_distribution<double>(0, 1)(t.rng());
  return s;
}

/// The initial population: measured good points plus random points from every sketch, drawn
/// only from the region the validity model predicts valid.
std::vector<Point> initial_population(Tracker &t, const SearchOptions &opts,
                                      const std::vector<std::pair<double, Point>> &measured_best) {
  std::vector<Point> pop;
  std::set<Point> seen;
  for (size_t i = 0; i < measured_best.size() && pop.size() < static_cast<size_t>(opts.population) / 4; ++i)
    if (seen.insert(measured_best[i].second).second) pop.push_back(measured_best[i].second);
  std::vector<Point> candidates;
  const int ns = t.space().num_sketches();
  const size_t want = static_cast<size_t>(opts.population) * 2;
  draw_ahead(
      t.space(), t.rng(),
      [&](int tries) { return candidates.size() < want && tries < opts.population * 20; },
      // Every sketch gets its share; the space's sampler (not uniform indices: those overflow
      // the tile products of short axes almost always) draws the decisions.
      [&](int tries) { return t.space().random_point_of(tries % ns, t.rng()); },
      [&](const Point &p) {
        if (seen.count(p) || !t.statically_ok(p)) return;
        seen.insert(p);
        candidates.push_back(p);
      },
      [&] { return want - candidates.size(); });
  std::vector<double> v = t.validity(candidates);
  for (size_t i = 0; i < candidates.size() && static_cast<int>(pop.size()) < opts.population; ++i) {
    if (v[i] < 0.5) {
      ++t.result().model_rejected;
      continue;
    }
    pop.push_back(candidates[i]);
  }
  return pop;
}

/// The sketches worth measuring more: those with fewer than 8 valid measurements, and those whose
/// best time is at most twice the best sketch's.
std::vector<int> sketches_in_contention(Tracker &t) {
  const int ns = t.space().num_sketches();
  std::vector<double> best(static_cast<size_t>(ns), std::numeric_limits<double>::infinity());
  std::vector<int> valid(static_cast<size_t>(ns), 0);
  double overall = std::numeric_limits<double>::infinity();
  for (auto &[p, m] : t.measured()) {
    if (!m.valid || p.sketch < 0 || p.sketch >= ns) continue;
    ++valid[static_cast<size_t>(p.sketch)];
    best[static_cast<size_t>(p.sketch)] = std::min(best[static_cast<size_t>(p.sketch)], m.median);
    overall = std::min(overall, m.median);
  }
  std::vector<int> out;
  for (int s = 0; s < ns; ++s)
    if (valid[static_cast<size_t>(s)] < 8 || best[static_cast<size_t>(s)] <= 2 * overall) out.push_back(s);
  return out;
}

void evolutionary_search(Tracker &t, const SearchOptions &opts, int64_t budget_end) {
  auto &rng = t.rng();
  while (t.result().measured < budget_end && t.left() > 0) {
    // Best measured points seed the population (Ansor keeps measured states in it as well).
    std::vector<std::pair<double, Point>> measured_best;
    for (auto &tr : t.result().trials)
      if (tr.m.valid) measured_best.push_back({tr.m.median, tr.point});
    std::sort(measured_best.begin(), measured_best.end());
    std::vector<Point> pop = initial_population(t, opts, measured_best);
    if (pop.empty()) return;
    std::map<Point, double> scored;
    auto score_all = [&](const std::vector<Point> &pts) {
      std::vector<Point> need;
      for (auto &p : pts)
        if (!scored.count(p)) need.push_back(p);
      std::vector<double> s = scores(t, need);
      for (size_t i = 0; i < need.size(); ++i) scored[need[i]] = s[i];
    };
    score_all(pop);
    const std::vector<int> contenders = sketches_in_contention(t);  // sorted
    for (int g = 0; g < opts.generations; ++g) {
      // Rank-based selection: parents drawn with probability decreasing with rank.
      std::sort(pop.begin(), pop.end(), [&](const Point &a, const Point &b) { return scored[a] > scored[b]; });
      std::vector<Point> next(pop.begin(), pop.begin() + std::max<size_t>(1, pop.size() / 8));  // elites
      std::set<Point> in_next(next.begin(), next.end());
      // ... and with a sketch share, the best two of every sketch in contention, so that no line
      // dies out.
      std::map<int, std::vector<size_t>> by_sketch;  // ranks of each contender's members
      for (size_t i = 0; i < pop.size() && opts.sketch_share > 0; ++i)
        if (std::binary_search(contenders.begin(), contenders.end(), pop[i].sketch)) {
          auto &ranks = by_sketch[pop[i].sketch];
          if (ranks.size() < 2 && in_next.insert(pop[i]).second) next.push_back(pop[i]);
          ranks.push_back(i);
        }
      // Rank weights: over the whole population, and within each contender sketch (the sketch
      // share of the parents is drawn there, so that every sketch's line keeps evolving).
      auto rank_weights = [](size_t n) {
        std::vector<double> w(n);
        for (size_t i = 0; i < n; ++i) w[i] = 1.0 / (1.0 + static_cast<double>(i));
        return std::discrete_distribution<size_t>(w.begin(), w.end());
      };
      std::discrete_distribution<size_t> pick = rank_weights(pop.size());
      std::map<int, std::discrete_distribution<size_t>> pick_in;
      for (auto &[sketch, ranks] : by_sketch) pick_in.emplace(sketch, rank_weights(ranks.size()));
      const bool share = by_sketch.size() > 1;
      auto parent = [&](int sketch) -> const Point & {
        if (sketch >= 0 && pick_in.count(sketch)) return pop[by_sketch[sketch][pick_in[sketch](rng)]];
        return pop[pick(rng)];
      };
      auto breed = [&](int) {
        int sketch = -1;
        if (share && std::uniform_real_distribution<double>(0, 1)(rng) < opts.sketch_share) {
          auto it = by_sketch.begin();
          std::advance(it, std::uniform_int_distribution<size_t>(0, by_sketch.size() - 1)(rng));
          sketch = it->first;
        }
        const Point &a = parent(sketch);
        if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.2) {
          const Point &b = parent(a.sketch);
          return mutate(t, b.sketch == a.sketch ? crossover(t, a, b) : a, opts);
        }
        return mutate(t, a, opts);
      };
      draw_ahead(
          t.space(), t.rng(), [&](int tries) { return next.size() < pop.size() && tries < opts.population * 8; }, breed,
          [&](const Point &child) {
            if (in_next.count(child) || !t.statically_ok(child)) return;
            in_next.insert(child);
            next.push_back(child);
          },
          [&] { return pop.size() - next.size(); });
      pop = std::move(next);
      score_all(pop);
    }
    // Epsilon-greedy batch: the best-ranked unmeasured candidates plus a few random ones.
    const int64_t want = std::min<int64_t>({opts.batch, t.left(), budget_end - t.result().measured});
    std::vector<std::pair<double, Point>> ranked;
    for (auto &[p, s] : scored)
      if (!t.is_known(p)) ranked.push_back({s, p});
    std::sort(ranked.begin(), ranked.end(), [](auto &a, auto &b) { return a.first > b.first; });
    std::vector<Point> rank_pts;
    for (auto &r : ranked) rank_pts.push_back(r.second);
    std::vector<double> valid_p = t.validity(rank_pts);
    const int64_t n_random = std::max<int64_t>(0, static_cast<int64_t>(std::floor(opts.epsilon * static_cast<double>(want))));
    std::vector<Point> batch;
    std::set<Point> chosen;
    // The sketch share first: each sketch in contention takes its own best-ranked candidates.
    if (contenders.size() > 1 && opts.sketch_share > 0) {
      const int64_t quota = std::max<int64_t>(
          1, static_cast<int64_t>(opts.sketch_share * static_cast<double>(want)) / static_cast<int64_t>(contenders.size()));
      for (int sketch : contenders) {
        int64_t taken = 0;
        for (size_t i = 0; i < rank_pts.size() && taken < quota && static_cast<int64_t>(batch.size()) < want - n_random; ++i) {
          if (rank_pts[i].sketch != sketch || valid_p[i] < 0.5) continue;
          chosen.insert(rank_pts[i]);
          batch.push_back(rank_pts[i]);
          ++taken;
        }
      }
    }
    for (size_t i = 0; i < rank_pts.size() && static_cast<int64_t>(batch.size()) < want - n_random; ++i) {
      if (chosen.count(rank_pts[i])) continue;
      if (valid_p[i] < 0.5) {
        ++t.result().model_rejected;
        continue;
      }
      chosen.insert(rank_pts[i]);
      batch.push_back(rank_pts[i]);
    }
    // The epsilon share: random points, unfiltered, so the models keep learning everywhere.
    const int64_t random_end = std::min<int64_t>(want, static_cast<int64_t>(batch.size()) + n_random);
    for (int tries = 0; static_cast<int64_t>(batch.size()) < random_end && tries < 200; ++tries) {
      auto p = fresh_random_point(t);
      if (!p) break;
      if (chosen.insert(*p).second) batch.push_back(*p);
    }
    // Too few ranked candidates: fill with random points from the predicted-valid region.
    for (int tries = 0; static_cast<int64_t>(batch.size()) < want && tries < 400; ++tries) {
      auto p = fresh_random_point(t);
      if (!p) break;
      if (chosen.count(*p)) continue;
      if (t.validity({*p})[0] < 0.5) {
        ++t.result().model_rejected;
        continue;
      }
      chosen.insert(*p);
      batch.push_back(*p);
    }
    if (batch.empty()) return;  // nothing new to measure
    t.measure(batch, "evolutionary");
  }
}

/// Coordinate descent with a statistical acceptance test (Droplet Search).
void droplet_search(Tracker &t, const SearchOptions &opts, Point start) {
  SearchResult &res = t.result();
  if (!t.is_known(start)) {
    if (!t.statically_ok(start) || t.left() <= 0) return;
    t.measure({start}, "droplet");
  }
  const Measurement *cm = t.known(start);
  if (!cm || !cm->valid) {
    // An invalid start: take the best valid point known, if any.
    if (!res.found) return;
    start = res.best;
  }
  Point cur = start;
  while (t.left() > 0) {
    const Measurement cur_m = *t.known(cur);
    const double cur_mean = mean(cur_m.samples);
    std::vector<int> dims = t.space().dims(cur.sketch);
    int max_dim = 1;
    for (int d : dims) max_dim = std::max(max_dim, d);
    bool moved = false;
    for (int r = 1; r <= std::min(opts.max_radius, max_dim - 1) && !moved; ++r) {
      // The single-coordinate moves, then the coupled ones; those not measured yet are checked
      // at once (SearchSpace::prepare), and the statically invalid ones skipped.
      std::vector<Point> moves;
      for (size_t i = 0; i < dims.size(); ++i)
        for (int dir : {-1, 1}) {
          Point q = cur;
          q.x[i] += dir * r;
          if (q.x[i] >= 0 && q.x[i] < dims[i]) moves.push_back(std::move(q));
        }
      for (Point &q : t.space().coupled_neighbours(cur, r)) moves.push_back(std::move(q));
      std::vector<Point> to_check;
      for (const Point &q : moves)
        if (!t.is_known(q)) to_check.push_back(q);
      t.space().prepare(to_check);
      std::vector<Point> neighbours;
      for (Point &q : moves)
        if (t.is_known(q) || t.statically_ok(q)) neighbours.push_back(std::move(q));
      std::vector<Point> unknown;
      for (auto &q : neighbours)
        if (!t.is_known(q)) unknown.push_back(q);
      t.measure(unknown, "droplet");  // one batch; limited by the budget
      const Point *best = nullptr;
      double best_mean = cur_mean;
      for (auto &q : neighbours) {
        const Measurement *m = t.known(q);
        if (!m || !m->valid) continue;
        double mq = mean(m->samples);
        if (mq >= best_mean) continue;
        if (welch_t_test(m->samples, cur_m.samples).two_sided_p > opts.pvalue) continue;
        best = &q;
        best_mean = mq;
      }
      if (best) {
        cur = *best;
        ++res.droplet_moves;
        moved = true;
      }
      if (t.left() <= 0) break;
    }
    if (!moved) {
      res.droplet_converged = t.left() > 0;
      return;
    }
  }
}

}  // namespace

std::vector<Point> best_per_sketch(const std::map<Point, Measurement> &measured, int k, double margin) {
  std::map<int, std::pair<double, Point>> best;
  for (auto &[p, m] : measured) {
    if (!m.valid) continue;
    auto it = best.find(p.sketch);
    if (it == best.end() || m.median < it->second.first) best[p.sketch] = {m.median, p};
  }
  std::vector<std::pair<double, Point>> v;
  for (auto &[sketch, b] : best) v.push_back(b);
  std::sort(v.begin(), v.end(), [](auto &a, auto &b) { return a.first < b.first; });
  std::vector<Point> out;
  for (size_t i = 0; i < v.size() && static_cast<int>(i) < std::max(1, k); ++i) {
    if (i > 0 && v[i].first > v[0].first * (1 + margin)) break;
    out.push_back(v[i].second);
  }
  return out;
}

SearchResult run_search(Strategy strategy, SearchSpace &space, Evaluator &eval, const SearchOptions &opts,
                        CostModel *cost, ValidityModel *validity, const std::vector<Trial> &history,
                        SearchObserver *observer) {
  Tracker t(space, eval, opts, cost, validity, observer);
  t.add_history(history);
  auto default_start = [&]() {
    if (opts.start) return *opts.start;
    if (t.result().found) return t.result().best;
    Point p;
    p.sketch = 0;
    p.x.assign(space.dims(0).size(), 0);
    return p;
  };
  switch (strategy) {
    case Strategy::Random: random_search(t, opts); break;
    case Strategy::Evolutionary: evolutionary_search(t, opts, opts.budget); break;
    case Strategy::Droplet: droplet_search(t, opts, default_start()); break;
    case Strategy::Hybrid:
    {
      evolutionary_search(t, opts, std::min(opts.budget, opts.hybrid_switch));
      // Droplet from the best point of each of the best sketches, best first (the starts are
      // taken before the first descent adds points).
      for (const Point &s : best_per_sketch(t.measured(), opts.hybrid_sketches, opts.hybrid_margin)) {
        if (t.left() <= 0) break;
        droplet_search(t, opts, s);
      }
      break;
    }
  }
  return t.result();
}

}  // namespace kcc::tuner
