// tuner/report.cpp - tuning curves and rooflines as inline SVG.
#include "tuner/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <vector>

#include "passes/registry.h"

namespace kcc::tuner {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

typedef float v16 __attribute__((vector_size(64)));

/// 12 independent FMA chains of 16 lanes (enough to cover latency x throughput on current cores).
__attribute__((target("avx512f,fma"))) double fma_gflops_avx512() {
  v16 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = v16{} + static_cast<float>(i);
  const v16 a = v16{} + 0.999999f, b = v16{} + 1e-7f;
  const int64_t iters = 20'000'000;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;
  double s = seconds_since(t0);
  volatile float sink = 0;
  for (int i = 0; i < 12; ++i) sink = sink + acc[i][0];
  return 2.0 * 16 * 12 * static_cast<double>(iters) / s * 1e-9;
}

typedef float v8 __attribute__((vector_size(32)));

__attribute__((target("avx2,fma"))) double fma_gflops_avx2() {
  v8 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = v8{} + static_cast<float>(i);
  const v8 a = v8{} + 0.999999f, b = v8{} + 1e-7f;
  const int64_t iters = 20'000'000;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;
  double s = seconds_since(t0);
  volatile float sink = 0;
  for (int i = 0; i < 12; ++i) sink = sink + acc[i][0];
  return 2.0 * 8 * 12 * static_cast<double>(iters) / s * 1e-9;
}

double read_gbps() {
  const size_t n = size_t(64) << 20;  // 256 MiB of floats
  std::vector<float> a(n, 1.0f);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < n; i += 4) s0 += a[i], s1 += a[i + 1], s2 += a[i + 2], s3 += a[i + 3];
    double s = seconds_since(t0);
    volatile float sink = s0 + s1 + s2 + s3;
    (void)sink;
    best = std::max(best, static_cast<double>(n * sizeof(float)) / s * 1e-9);
  }
  return best;
}

std::string esc(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

const char *kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

double arg_bytes(const Kernel &k) {
  double b = 0;
  for (auto &t : k.inputs) b += static_cast<double>(t->num_elements()) * 4;
  for (auto &t : k.outputs) b += static_cast<double>(t->num_elements()) * 4;
  return b;
}

std::string roofline_svg(const MachinePeak &peak, double intensity, double gflops, const std::string &title) {
  const int W = 420, H = 300, L = 50, B = 40;
  auto x_of = [&](double ai) { return L + (std::log10(ai) + 2) / 5.0 * (W - L - 10); };  // 0.01 .. 1000 flop/byte
  const double top = std::max(peak.gflops, gflops) * 2;
  auto y_of = [&](double g) { return H - B - (std::log10(std::max(g, 0.01)) + 1) / (std::log10(top) + 1) * (H - B - 10); };
  std::string s = fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-size='11'>\n", W, H);
  s += fmt::format("<text x='{}' y='12'>{}</text>\n", L, esc(title));
  s += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='black'/>", L, H - B, W - 10, H - B);
  s += fmt::format("<line x1='{}' y1='10' x2='{}' y2='{}' stroke='black'/>\n", L, L, H - B);
  std::string path;
  for (double e = -2; e <= 3.001; e += 0.05) {
    double ai = std::pow(10, e), g = std::min(peak.gflops, ai * peak.gbps);
    path += fmt::format("{}{:.1f},{:.1f} ", path.empty() ? "M" : "L", x_of(ai), y_of(g));
  }
  s += fmt::format("<path d='{}' fill='none' stroke='gray' stroke-width='2'/>\n", path);
  s += fmt::format("<text x='{}' y='{:.1f}' fill='gray'>peak {:.0f} GFLOP/s, {:.0f} GB/s</text>\n", L + 5,
                   y_of(peak.gflops) - 4, peak.gflops, peak.gbps);
  if (gflops > 0 && intensity > 0)
    s += fmt::format("<circle cx='{:.1f}' cy='{:.1f}' r='5' fill='#d62728'/><text x='{:.1f}' y='{:.1f}'>{:.1f} GFLOP/s</text>\n",
                     x_of(intensity), y_of(gflops), x_of(intensity) + 7, y_of(gflops) + 4, gflops);
  s += fmt::format("<text x='{}' y='{}'>arithmetic intensity (flop/byte, log)</text>\n", L + 60, H - 8);
  return s + "</svg>\n";
}

}  // namespace

MachinePeak measure_machine_peak() {
  MachinePeak p;
  __builtin_cpu_init();
  // The best of 9 trials (~70 ms each): one trial on a shared machine drew 58-76 GFLOP/s where
  // the core does 100-108, and the roofline sat below kernels the tuner had measured.
  for (int trial = 0; trial < 9; ++trial) {
    if (__builtin_cpu_supports("avx512f"))
      p.gflops = std::max(p.gflops, fma_gflops_avx512());
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
      p.gflops = std::max(p.gflops, fma_gflops_avx2());
  }
  p.gbps = read_gbps();
  return p;
}

std::string curves_svg(const std::vector<std::pair<std::string, std::vector<double>>> &curves, const std::string &title) {
  const int W = 560, H = 300, L = 50, B = 40;
  size_t n = 1;
  double top = 1;
  for (auto &[_, c] : curves) {
    n = std::max(n, c.size());
    for (double v : c) top = std::max(top, v);
  }
  top *= 1.1;
  auto x_of = [&](size_t i) { return L + static_cast<double>(i) / static_cast<double>(n) * (W - L - 10); };
  auto y_of = [&](double g) { return H - B - g / top * (H - B - 20); };
  std::string s = fmt::format("<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-size='11'>\n", W, H);
  s += fmt::format("<text x='{}' y='12'>{}</text>\n", L, esc(title));
  s += fmt::format("<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='black'/>", L, H - B, W - 10, H - B);
  s += fmt::format("<line x1='{}' y1='20' x2='{}' y2='{}' stroke='black'/>\n", L, L, H - B);
  s += fmt::format("<text x='{}' y='{}'>measurements ({} max)</text><text x='2' y='{}'>{:.0f}</text><text x='2' y='{}'>GFLOP/s</text>\n",
                   L + 150, H - 8, n, y_of(top / 1.1) + 4, top / 1.1, H - B + 4);
  for (size_t c = 0; c < curves.size(); ++c) {
    std::string path;
    for (size_t i = 0; i < curves[c].second.size(); ++i)
      path += fmt::format("{}{:.1f},{:.1f} ", i ? "L" : "M", x_of(i + 1), y_of(curves[c].second[i]));
    const char *color = kColors[c % (sizeof kColors / sizeof *kColors)];
    s += fmt::format("<path d='{}' fill='none' stroke='{}' stroke-width='1.5'/>\n", path, color);
    s += fmt::format("<text x='{}' y='{}' fill='{}'>{}</text>\n", W - 200, 30 + 14 * c, color, esc(curves[c].first));
  }
  return s + "</svg>\n";
}

std::string report_html(Database &db, const std::vector<Kernel> &kernels, const MachinePeak &peak) {
  std::map<std::pair<std::string, std::string>, std::vector<RunRow>> by_workload;
  for (auto &r : db.runs()) by_workload[{r.workload_key, r.target_key}].push_back(r);
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>kcc tuning report</title>"
      "<style>body{font-family:sans-serif} section{margin-bottom:2em} svg{border:1px solid #ddd;margin-right:1em}"
      "</style></head><body>\n<h1>kcc tuning report</h1>\n";
  html += fmt::format("<p>Machine peak (one core, measured now): {:.1f} GFLOP/s fp32 FMA, {:.1f} GB/s read.</p>\n",
                      peak.gflops, peak.gbps);
  for (auto &[key, runs] : by_workload) {
    const Kernel *k = nullptr;
    for (auto &kk : kernels)
      if (workload_key(kk) == key.first) k = &kk;
    std::vector<std::pair<std::string, std::vector<double>>> curves;
    double best = 0, flops = 0;
    int64_t total = 0, invalid = 0;
    for (auto &r : runs) {
      std::vector<double> c;
      double b = 0;
      for (auto &m : db.run_records(r.id)) {
        ++total;
        invalid += !m.valid();
        flops = m.flops;
        b = std::max(b, m.gflops());
        c.push_back(b);
      }
      best = std::max(best, b);
      if (!c.empty()) curves.push_back({fmt::format("run {} {}{}", r.id, r.strategy, r.finished ? "" : " (unfinished)"), c});
    }
    const std::string name = k ? k->name : (runs.empty() ? key.first : runs[0].kernel);
    html += fmt::format("<section><h2>{}</h2><p>workload {} target {}: {} measurements, {} invalid; best {:.2f} GFLOP/s</p>\n",
                        esc(name), key.first, esc(key.second), total, invalid, best);
    html += curves_svg(curves, name + ": best-so-far GFLOP/s");
    if (k && flops > 0) html += roofline_svg(peak, flops / arg_bytes(*k), best, name + ": roofline");
    html += "</section>\n";
  }
  return html + "</body></html>\n";
}

}  // namespace kcc::tuner
