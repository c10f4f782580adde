// tuner/report.cpp - the tuning report: figures from the database, charts as inline SVG.
#include "tuner/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <map>
#include <vector>

#include "ir/workload.h"
#include "tuner/best.h"

namespace kcc::tuner {

// ---------------------------------------------------------------- the machine's peak

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

typedef float v4 __attribute__((vector_size(16)));

/// GFLOP/s of 12 independent FMA chains of `Lanes` floats (enough to cover latency x throughput
/// on current cores). Always inlined, so it is compiled for the caller's target features.
template <class V, int Lanes>
__attribute__((always_inline)) inline double fma_chains() {
  V acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = V{} + static_cast<float>(i);
  const V a = V{} + 0.999999f, b = V{} + 1e-7f;
  const int64_t iters = 20'000'000 * 16 / Lanes / 2;  // about the same time per width
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;
  double s = seconds_since(t0);
  volatile float sink = 0;
  for (int i = 0; i < 12; ++i) sink = sink + acc[i][0];
  return 2.0 * Lanes * 12 * static_cast<double>(iters) / s * 1e-9;
}

#if defined(__x86_64__) || defined(__i386__)
typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
__attribute__((target("avx512f,fma"))) double fma_gflops_avx512() { return fma_chains<v16, 16>(); }
__attribute__((target("avx2,fma"))) double fma_gflops_avx2() { return fma_chains<v8, 8>(); }
#endif

/// The widest FMA this CPU has, up to `vector_bits`; generic 128-bit vectors on other hosts.
double fma_gflops(int vector_bits) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (vector_bits >= 512 && __builtin_cpu_supports("avx512f")) return fma_gflops_avx512();
  if (vector_bits >= 256 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_gflops_avx2();
#endif
  (void)vector_bits;
  return fma_chains<v4, 4>();
}

/// Streaming reads of 256 MiB into four vector accumulators (so the adds do not limit it).
double read_gbps() {
  const size_t n = size_t(16) << 20;  // v4s
  std::vector<v4> a(n, v4{} + 1.0f);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    v4 s0{}, s1{}, s2{}, s3{};
    for (size_t i = 0; i < n; i += 4) s0 += a[i], s1 += a[i + 1], s2 += a[i + 2], s3 += a[i + 3];
    double s = seconds_since(t0);
    v4 sum = s0 + s1 + s2 + s3;
    volatile float sink = sum[0];
    (void)sink;
    best = std::max(best, static_cast<double>(n * sizeof(v4)) / s * 1e-9);
  }
  return best;
}

}  // namespace

MachinePeak measure_machine_peak(int vector_bits) {
  MachinePeak p;
  // The best of 9 trials (~70 ms each): one trial on a shared machine drew 58-76 GFLOP/s where
  // the core does 100-108, and the roofline sat below kernels the tuner had measured.
  for (int trial = 0; trial < 9; ++trial) p.gflops = std::max(p.gflops, fma_gflops(vector_bits));
  p.gbps = read_gbps();
  p.measured = epoch_now();
  p.measured_now = true;
  return p;
}

bool runs_here(const Target &t) {
#if defined(__x86_64__)
  return t.arch == Arch::X86_64;
#elif defined(__aarch64__)
  return t.arch == Arch::AArch64;
#else
  (void)t;
  return false;
#endif
}

std::string target_label(const Target &t) {
  std::string isa;
  switch (t.arch) {
    case Arch::X86_64: isa = t.vector_bits >= 512 ? "AVX-512" : t.vector_bits >= 256 ? "AVX2" : "SSE"; break;
    case Arch::AArch64:
      isa = t.scalable_vectors ? "SVE" : t.vector_bits > 128 ? fmt::format("SVE {}-bit", t.vector_bits) : "NEON";
      break;
    case Arch::NVPTX: isa = fmt::format("sm_{}", t.sm); break;
  }
  return fmt::format("{} ({}, {})", t.name, t.cpu, isa);
}

std::optional<MachinePeak> machine_peak(Database &db, const Target &t, bool remeasure,
                                        const std::function<MachinePeak(const Target &)> &measure) {
  // Measured once and stored: measured at every report, two reports a minute apart on a loaded
  // machine drew 237 and 158 GFLOP/s, and the rooflines of one tuning disagreed.
  if (!remeasure || !runs_here(t))
    if (auto stored = db.machine_peak(t.key()))
      return MachinePeak{stored->gflops, stored->gbps, stored->measured, false};
  if (!runs_here(t)) return std::nullopt;
  MachinePeak p = measure(t);
  p.measured_now = true;
  if (p.measured <= 0) p.measured = epoch_now();
  db.store_machine_peak({t.key(), target_label(t), p.gflops, p.gbps, p.measured, ""});
  return p;
}

// ---------------------------------------------------------------- figures

namespace {

KernelFigures figures_of(const std::vector<MeasureRecord> &records) {
  KernelFigures f;
  f.measurements = static_cast<int64_t>(records.size());
  f.best = best_record(records);
  std::map<Outcome, size_t> index;
  for (const MeasureRecord &r : records) {
    if (r.valid()) continue;
    ++f.invalid;
    // A record that is not valid yet says Ok (a median of 0 without an error) counts as Other.
    const Outcome o = r.outcome == Outcome::Ok ? Outcome::Other : r.outcome;
    auto [it, added] = index.try_emplace(o, f.failures.size());
    if (added) f.failures.push_back({o, 0, r.error.empty() ? "(no message)" : r.error});
    ++f.failures[it->second].count;
  }
  std::stable_sort(f.failures.begin(), f.failures.end(),
                   [](const KernelFigures::Failure &a, const KernelFigures::Failure &b) { return a.count > b.count; });
  return f;
}

}  // namespace

KernelFigures kernel_figures(Database &db, const Kernel &k, const Target &t) {
  return figures_of(db.records(workload_key(k), t.key()));
}

// ---------------------------------------------------------------- charts

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(count, 1);
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double i = first; i <= last; ++i) ticks.push_back(i * step == 0 ? 0 : i * step);  // no -0
  return ticks;
}

namespace {

std::string esc(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '\'') o += "&#39;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

const char *kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/// One axis of a chart: its range, labelled ticks (with grid lines) and small unlabelled ones.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks, minor;
  int decimals = 0;
  std::string title;

  double frac(double v) const {
    if (log) return (std::log10(std::max(v, lo * 1e-3)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
  std::string label(double v) const {
    if (log) return v >= 1 ? fmt::format("{:.0f}", v) : fmt::format("{:.{}f}", v, static_cast<int>(-std::floor(std::log10(v) + 1e-9)));
    return fmt::format("{:.{}f}", v, decimals);
  }
};

/// `whole`: a count, ticked at whole numbers only.
Axis linear_axis(double lo, double hi, const std::string &title, bool whole = false) {
  Axis a;
  a.ticks = nice_ticks(lo, hi, 5);
  if (whole && a.ticks.size() > 1 && a.ticks[1] - a.ticks[0] < 1) {
    a.ticks.clear();
    for (double v = std::floor(lo); v < hi + 1; ++v) a.ticks.push_back(v);
  }
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  const double step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : 1;
  a.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  a.title = title;
  return a;
}

/// Whole decades covering [lo, hi], a labelled tick at each.
Axis log_axis(double lo, double hi, const std::string &title) {
  Axis a;
  a.log = true;
  int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9)), e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (e1 <= e0) e1 = e0 + 1;
  a.lo = std::pow(10, e0);
  a.hi = std::pow(10, e1);
  for (int e = e0; e <= e1; ++e) {
    a.ticks.push_back(std::pow(10, e));
    if (e < e1)
      for (int m = 2; m <= 9; ++m) a.minor.push_back(m * std::pow(10, e));
  }
  a.title = title;
  return a;
}

/// A chart's plot area inside its SVG, and the two axes drawn around it.
struct Frame {
  double x0, y0, x1, y1;  // plot area: left, top, right, bottom
  Axis x, y;
  double px(double v) const { return x0 + x.frac(v) * (x1 - x0); }
  double py(double v) const { return y1 - y.frac(v) * (y1 - y0); }

  std::string axes() const {
    std::string s = "<g class='axes'>\n";
    for (double v : x.ticks) {
      s += fmt::format("<line x1='{0:.1f}' y1='{1:.1f}' x2='{0:.1f}' y2='{2:.1f}' stroke='#e4e4e4'/>"
                       "<line x1='{0:.1f}' y1='{2:.1f}' x2='{0:.1f}' y2='{3:.1f}' stroke='#333'/>"
                       "<text class='tick' x='{0:.1f}' y='{4:.1f}' text-anchor='middle'>{5}</text>\n",
                       px(v), y0, y1, y1 + 5, y1 + 17, x.label(v));
    }
    for (double v : x.minor)
      s += fmt::format("<line x1='{0:.1f}' y1='{1:.1f}' x2='{0:.1f}' y2='{2:.1f}' stroke='#333'/>", px(v), y1, y1 + 3);
    for (double v : y.ticks) {
      s += fmt::format("<line x1='{1:.1f}' y1='{0:.1f}' x2='{2:.1f}' y2='{0:.1f}' stroke='#e4e4e4'/>"
                       "<line x1='{3:.1f}' y1='{0:.1f}' x2='{1:.1f}' y2='{0:.1f}' stroke='#333'/>"
                       "<text class='tick' x='{4:.1f}' y='{5:.1f}' text-anchor='end'>{6}</text>\n",
                       py(v), x0, x1, x0 - 5, x0 - 8, py(v) + 4, y.label(v));
    }
    for (double v : y.minor)
      s += fmt::format("<line x1='{1:.1f}' y1='{0:.1f}' x2='{2:.1f}' y2='{0:.1f}' stroke='#333'/>", py(v), x0 - 3, x0);
    s += fmt::format("<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='none' stroke='#333'/>\n", x0, y0,
                     x1 - x0, y1 - y0);
    s += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='middle'>{}</text>\n", (x0 + x1) / 2, y1 + 36,
                     esc(x.title));
    s += fmt::format("<text transform='translate({:.1f},{:.1f}) rotate(-90)' text-anchor='middle'>{}</text>\n", x0 - 44,
                     (y0 + y1) / 2, esc(y.title));
    return s + "</g>\n";
  }
};

std::string svg_open(int w, int h, const std::string &title) {
  return fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{0}' height='{1}' viewBox='0 0 {0} {1}' "
                     "font-family='sans-serif' font-size='11'>\n<text x='8' y='16' font-weight='bold'>{2}</text>\n",
                     w, h, esc(title));
}

struct Curve {
  std::string label;
  std::vector<double> gflops;  // best so far after each measurement (0: none valid yet)
  std::vector<bool> remeasure;  // the measurement re-measured a best point (strategy "verify")
};

/// Best-so-far GFLOP/s against measurements, one line per tuning run; the stretch where a run
/// re-measured its best points is dashed.
std::string curves_svg(const std::vector<Curve> &curves, const std::string &title) {
  const int W = 600, H = 300;
  size_t n = 1;
  double top = 0;
  bool any_remeasure = false;
  for (auto &c : curves) {
    n = std::max(n, c.gflops.size());
    for (double v : c.gflops) top = std::max(top, v);
    for (bool r : c.remeasure) any_remeasure = any_remeasure || r;
  }
  Frame f{60, 28, W - 160.0, H - 48.0, linear_axis(0, static_cast<double>(n), "measurements", true),
          linear_axis(0, top > 0 ? top : 1, "best GFLOP/s so far")};
  std::string s = svg_open(W, H, title) + f.axes();
  double ly = f.y0 + 8;
  for (size_t c = 0; c < curves.size(); ++c) {
    const char *color = kColors[c % (sizeof kColors / sizeof *kColors)];
    const auto &g = curves[c].gflops;
    auto pt = [&](size_t i) { return fmt::format("{:.1f},{:.1f} ", f.px(static_cast<double>(i + 1)), f.py(g[i])); };
    std::string solid, dashed;
    size_t solid_end = SIZE_MAX, dashed_end = SIZE_MAX;  // the last point on each path
    for (size_t i = 0; i < g.size(); ++i) {
      if (g[i] <= 0) continue;  // nothing valid yet
      const bool re = i < curves[c].remeasure.size() && curves[c].remeasure[i];
      std::string &path = re ? dashed : solid;
      size_t &end = re ? dashed_end : solid_end;
      if (i == 0 || end != i - 1) path += "M" + pt(i > 0 && g[i - 1] > 0 ? i - 1 : i);
      path += "L" + pt(i);
      end = i;
    }
    if (!solid.empty()) s += fmt::format("<path d='{}' fill='none' stroke='{}' stroke-width='1.5'/>\n", solid, color);
    if (!dashed.empty())
      s += fmt::format("<path d='{}' fill='none' stroke='{}' stroke-width='1.5' stroke-dasharray='4 3'/>\n", dashed, color);
    s += fmt::format("<line x1='{0:.1f}' y1='{1:.1f}' x2='{2:.1f}' y2='{1:.1f}' stroke='{3}' stroke-width='2'/>"
                     "<text x='{4:.1f}' y='{5:.1f}'>{6}</text>\n",
                     f.x1 + 10, ly, f.x1 + 26, color, f.x1 + 30, ly + 4, esc(curves[c].label));
    ly += 16;
  }
  if (any_remeasure)
    s += fmt::format("<line x1='{0:.1f}' y1='{1:.1f}' x2='{2:.1f}' y2='{1:.1f}' stroke='#333' stroke-dasharray='4 3'/>"
                     "<text x='{3:.1f}' y='{4:.1f}'>re-measuring</text><text x='{3:.1f}' y='{5:.1f}'>the best</text>\n",
                     f.x1 + 10, ly + 4, f.x1 + 26, f.x1 + 30, ly + 8, ly + 21);
  return s + "</svg>\n";
}

/// The attainable GFLOP/s at arithmetic intensity `ai` under `peak`.
double roof(const MachinePeak &peak, double ai) { return std::min(peak.gflops, ai * peak.gbps); }

/// The roofline (log-log) with the kernel's best point.
std::string roofline_svg(const MachinePeak &peak, double ai, double gflops, const std::string &title) {
  const int W = 470, H = 300;
  const double ridge = peak.gflops / peak.gbps;
  const double top = std::max(peak.gflops, gflops) * 1.5;
  Frame f{60, 28, W - 16.0, H - 48.0, log_axis(std::min(ai, ridge) / 4, std::max(ai, ridge) * 4, "arithmetic intensity (flop/byte)"),
          log_axis(std::min({gflops > 0 ? gflops / 2 : top, top / 1000}), top, "GFLOP/s")};
  std::string s = svg_open(W, H, title) + f.axes();
  // The bandwidth slope from the left edge (or where it enters the plot) to the ridge, then flat.
  const double ai_start = std::max(f.x.lo, f.y.lo / peak.gbps);
  s += fmt::format("<path d='M{:.1f},{:.1f} L{:.1f},{:.1f} L{:.1f},{:.1f}' fill='none' stroke='#555' stroke-width='2'/>\n",
                   f.px(ai_start), f.py(roof(peak, ai_start)), f.px(ridge), f.py(peak.gflops), f.x1, f.py(peak.gflops));
  s += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='end' fill='#555'>{:.1f} GFLOP/s fp32 FMA</text>\n",
                   f.x1 - 4, f.py(peak.gflops) - 5, peak.gflops);
  const double ai_label = std::max(ai_start * 1.3, f.x.lo * 1.3);
  s += fmt::format("<text x='{:.1f}' y='{:.1f}' fill='#555'>{:.1f} GB/s</text>\n", f.px(ai_label) + 4,
                   f.py(roof(peak, ai_label)) - 6, peak.gbps);
  if (gflops > 0) {
    const double cx = f.px(ai), cy = f.py(gflops);
    const bool right = cx < (f.x0 + f.x1) / 2;
    s += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='5' fill='#d62728'/>"
                     "<text x='{:.1f}' y='{:.1f}' text-anchor='{}' stroke='white' stroke-width='4' paint-order='stroke'>"
                     "{:.2f} GFLOP/s, {:.0f}% of roof</text>\n",
                     cx, cy, right ? cx + 8 : cx - 8, cy + 16, right ? "start" : "end", gflops,
                     100 * gflops / roof(peak, ai));
  }
  return s + "</svg>\n";
}

double arg_bytes(const Kernel &k) {
  double b = 0;
  for (auto &t : k.inputs) b += static_cast<double>(t->num_elements()) * 4;
  for (auto &t : k.outputs) b += static_cast<double>(t->num_elements()) * 4;
  return b;
}

std::string utc_time(double epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

/// Sorts the table whose header cell was clicked by that column (numbers in data-v; empty last).
const char *kSortScript = R"(<script>
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var asc = th.getAttribute('aria-sort') === 'descending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var key = function (row) { var v = row.cells[col].getAttribute('data-v'); return v === null ? row.cells[col].textContent : v; };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === '' || y === '') return (x === '') - (y === '');
      var nx = parseFloat(x), ny = parseFloat(y), d = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
      return asc ? d : -d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
</script>
)";

const char *kStyle =
    "<style>body{font-family:sans-serif;max-width:1120px;margin:1em auto;color:#222}"
    "section{margin:2em 0;border-top:1px solid #ccc} svg{margin:0 1em 0.5em 0;vertical-align:top}"
    "table{border-collapse:collapse;margin:0.5em 0} td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}"
    "td:first-child,th:first-child{text-align:left} th{background:#f3f3f3}"
    "table.sortable th{cursor:pointer;user-select:none} table.sortable th:hover{background:#e4e4e4}"
    "th[aria-sort=descending]::after{content:' \\25BC'} th[aria-sort=ascending]::after{content:' \\25B2'}"
    ".bar{display:inline-block;height:0.8em;background:#1f77b4;margin-left:6px;vertical-align:middle}"
    ".fail{color:#b00} table.reasons th{text-align:left} .note{color:#555;font-size:90%} td.msg{text-align:left;font-family:monospace;font-size:90%}"
    "pre{background:#f6f6f6;padding:0.5em}</style>";

/// What the report shows of one kernel.
struct Row {
  const Kernel *k;
  KernelFigures f;
  std::vector<MeasureRecord> records;
  double weight = 1;
  double share = 0;  // of the model's time (0: no valid measurement)
  double roof_fraction = 0;
  bool in_cache = false;  // the arguments fit in L2: the memory roof (DRAM streaming) does not bound it
  bool above_roof() const { return in_cache && roof_fraction > 1; }
};

std::string cell(const std::string &text, double v, bool present = true) {
  return present ? fmt::format("<td data-v='{}'>{}</td>", v, text) : "<td data-v=''>&mdash;</td>";
}

}  // namespace

std::string report_html(Database &db, const std::vector<Kernel> &kernels, const Target &t, const ReportOptions &o) {
  const std::optional<MachinePeak> peak = machine_peak(db, t, o.remeasure_peak, o.measure_peak);

  std::vector<Row> rows;
  double total = 0;
  for (const Kernel &k : kernels) {
    Row r{&k, {}, db.records(workload_key(k), t.key())};
    r.f = figures_of(r.records);
    for (auto &[name, w] : o.weights)
      if (name == k.name) r.weight = w;
    if (r.f.best) total += r.f.best_seconds() * r.weight;
    r.in_cache = arg_bytes(k) <= static_cast<double>(t.l2_bytes);
    if (r.f.best && peak && peak->gflops > 0)
      r.roof_fraction = r.f.gflops() / roof(*peak, r.f.best->flops / arg_bytes(k));
    rows.push_back(std::move(r));
  }
  for (Row &r : rows)
    if (r.f.best && total > 0) r.share = r.f.best_seconds() * r.weight / total;
  std::stable_sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) { return a.share > b.share; });

  std::string html = "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>kcc tuning report</title>";
  html += kStyle;
  html += "</head><body>\n<h1>kcc tuning report</h1>\n";
  html += fmt::format("<p><b>{}</b> on <b>{}</b><br><span class='note'>database {}; written {}</span></p>\n",
                      esc(o.title.empty() ? "kernels" : o.title), esc(target_label(t)), esc(db.path()),
                      utc_time(epoch_now()));
  if (peak)
    html += fmt::format("<p>Machine peak, one core: <b>{:.1f} GFLOP/s</b> fp32 FMA, <b>{:.1f} GB/s</b> streaming read; "
                        "measured {}{}.</p>\n",
                        peak->gflops, peak->gbps, utc_time(peak->measured),
                        peak->measured_now ? " (now, and stored in the database)"
                                           : " and stored in the database (<code>kcc report --remeasure-peak</code> "
                                             "measures it again)");
  else
    html += fmt::format("<p class='note'>No peak is stored for {} and its code does not run on this machine: "
                        "run <code>kcc report --target {}</code> on a machine of that target for rooflines.</p>\n",
                        esc(target_label(t)), esc(t.name));

  // The table of kernels, most of the model's time first.
  html += "<table class='sortable'><thead><tr><th>kernel</th><th>best time (&micro;s)</th><th>GFLOP/s</th>"
          "<th>of roofline</th><th>weight</th><th aria-sort='descending'>time share</th><th>measurements</th>"
          "<th>invalid</th></tr></thead><tbody>\n";
  for (const Row &r : rows) {
    const bool ok = r.f.best.has_value();
    html += fmt::format("<tr><td data-v='{0}'><a href='#k-{0}'>{0}</a></td>", esc(r.k->name));
    html += cell(fmt::format("{:.3f}", r.f.best_seconds() * 1e6), r.f.best_seconds() * 1e6, ok);
    html += cell(fmt::format("{:.2f}", r.f.gflops()), r.f.gflops(), ok);
    html += cell(fmt::format("{:.0f}%{}", 100 * r.roof_fraction, r.above_roof() ? "*" : ""), r.roof_fraction,
                 ok && r.roof_fraction > 0);
    html += cell(fmt::format("{:g}", r.weight), r.weight);
    html += cell(fmt::format("{:.1f}%<span class='bar' style='width:{:.0f}px'></span>", 100 * r.share, 60 * r.share),
                 r.share, ok);
    html += cell(std::to_string(r.f.measurements), static_cast<double>(r.f.measurements));
    html += r.f.invalid ? fmt::format("<td data-v='{0}' class='fail'>{0}</td>", r.f.invalid) : "<td data-v='0'>0</td>";
    html += "</tr>\n";
  }
  html += "</tbody></table>\n<p class='note'>A kernel's best is the schedule whose worst measurement is fastest; a "
          "schedule measured invalid once does not count (the figures of <code>kcc tune</code>). Time share: best "
          "time &times; weight over the sum for all kernels; click a column to sort.";
  for (const Row &r : rows)
    if (r.above_roof()) {
      html += " * The kernel's arguments fit in the L2 cache: the roofline's memory slope (DRAM streaming) does not "
              "bound it.";
      break;
    }
  html += "</p>\n";

  std::map<int64_t, RunRow> runs;
  int64_t other_targets = 0;
  for (RunRow &r : db.runs()) {
    bool ours = false;
    for (const Kernel &k : kernels) ours = ours || r.workload_key == workload_key(k);
    if (ours && r.target_key != t.key()) ++other_targets;
    runs[r.id] = std::move(r);
  }

  for (const Row &r : rows) {
    const Kernel &k = *r.k;
    html += fmt::format("<section id='k-{0}'><h2>{0}</h2>\n", esc(k.name));
    if (r.records.empty()) {
      html += "<p class='note'>Not tuned for this target: the database has no measurement of it.</p></section>\n";
      continue;
    }
    std::map<int64_t, size_t> run_count;
    for (const MeasureRecord &m : r.records) ++run_count[m.run_id];
    if (!r.f.best) {
      html += fmt::format("<p class='fail'>No valid measurement: all {} measurements in {} run{} failed.</p>\n",
                          r.f.measurements, run_count.size(), run_count.size() == 1 ? "" : "s");
    } else {
      const MeasureRecord &b = *r.f.best;
      int64_t times = 0;
      for (const MeasureRecord &m : r.records) times += m.schedule == b.schedule;
      html += fmt::format("<p>Best <b>{:.3f} &micro;s</b> = <b>{:.2f} GFLOP/s</b>{} (its schedule measured {} time{}, the "
                          "slowest counted); {} measurements in {} run{}, {} invalid.{}</p>\n",
                          b.median_seconds * 1e6, b.gflops(),
                          r.roof_fraction > 0 ? fmt::format(", {:.0f}% of the roofline", 100 * r.roof_fraction) : "",
                          times, times == 1 ? "" : "s", r.f.measurements, run_count.size(),
                          run_count.size() == 1 ? "" : "s", r.f.invalid,
                          r.above_roof() ? fmt::format(" Its arguments ({:.0f} KiB) fit in the L2 cache ({:.0f} KiB): the "
                                                   "roofline's memory slope (DRAM streaming) does not bound it.",
                                                   arg_bytes(k) / 1024, static_cast<double>(t.l2_bytes) / 1024)
                                     : "");
      // One best-so-far curve per run, by the same rule as the best.
      std::vector<Curve> curves;
      for (auto &[run_id, _] : run_count) {
        Curve c;
        auto it = runs.find(run_id);
        c.label = it == runs.end() ? "no run"
                                   : fmt::format("run {} {}{}", run_id, it->second.strategy,
                                                 it->second.finished ? "" : " (unfinished)");
        WorstMeasurementRanking<std::string> ranking;
        for (const MeasureRecord &m : r.records) {
          if (m.run_id != run_id) continue;
          ranking.add(m.schedule, m.valid(), m.median_seconds);
          auto best = ranking.best();
          c.gflops.push_back(best ? m.flops / best->second * 1e-9 : 0);
          c.remeasure.push_back(m.strategy == "verify");
        }
        curves.push_back(std::move(c));
      }
      html += curves_svg(curves, k.name + ": tuning runs");
      if (peak && peak->gflops > 0 && peak->gbps > 0)
        html += roofline_svg(*peak, b.flops / arg_bytes(k), b.gflops(), k.name + ": roofline (one core)");
    }
    if (r.f.invalid > 0) {
      html += fmt::format("<table class='reasons'><thead><tr><th>invalid: reason</th><th>count</th><th>first message</th></tr></thead>"
                          "<tbody>\n");
      for (const auto &fl : r.f.failures) {
        std::string msg = fl.example.size() > 300 ? fl.example.substr(0, 300) + "..." : fl.example;
        html += fmt::format("<tr><td>{}</td><td>{}</td><td class='msg'>{}</td></tr>\n", esc(to_string(fl.reason)), fl.count,
                            esc(msg));
      }
      html += "</tbody></table>\n";
    }
    if (r.f.best)
      html += fmt::format("<details><summary>best schedule</summary><pre>{}</pre></details>\n", esc(r.f.best->schedule));
    html += "</section>\n";
  }
  if (other_targets > 0)
    html += fmt::format("<p class='note'>The database also has {} run{} of these kernels for other targets, not shown "
                        "(<code>kcc report --target NAME</code>).</p>\n",
                        other_targets, other_targets == 1 ? "" : "s");
  return html + kSortScript + "</body></html>\n";
}

}  // namespace kcc::tuner
