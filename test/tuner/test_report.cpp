// `kcc report`: what the page says (target, axes, peak, best, failures, the kernel table), from
// records written straight into a database, and once from a real tuning.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "ir/parser.h"
#include "ir/workload.h"
#include "tuner/report.h"
#include "tuner/tuner.h"

namespace kcc::tuner {
namespace {

std::string temp_db(const std::string &name) {
  std::string dir = std::filesystem::temp_directory_path() / ("kcc_report_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string p = dir + "/" + name + ".db";
  for (const char *suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

const Target &host() {
  static Target t = make_target("host");
  return t;
}

const Module &model() {
  static Module m = parse_module("m.ir",
                                 "kernel mm(A: f32[64, 64], B: f32[64, 64]) -> C: f32[64, 64] {\n"
                                 "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n"
                                 "kernel scale(A: f32[256]) -> C: f32[256] {\n  C[i] = A[i] * 2.0\n}\n");
  return m;
}

/// A peak that says how often it was measured, instead of measuring.
struct FakePeak {
  int calls = 0;
  MachinePeak peak{100, 20};
  std::function<MachinePeak(const Target &)> fn() {
    return [this](const Target &) {
      ++calls;
      return peak;
    };
  }
};

/// One measurement of `schedule` of kernel `k` on the host: valid when `error` is empty.
MeasureRecord record(const Kernel &k, const std::string &schedule, double seconds, const std::string &error = "",
                     int64_t run = 0, const std::string &strategy = "hybrid", Outcome outcome = Outcome::Other) {
  MeasureRecord r;
  r.workload_key = workload_key(k);
  r.target_key = host().key();
  r.kernel = k.name;
  r.schedule = schedule;
  if (error.empty()) r.samples = {seconds, seconds, seconds};
  r.median_seconds = error.empty() ? seconds : 0;
  r.outcome = error.empty() ? Outcome::Ok : outcome;
  r.error = error;
  r.strategy = strategy;
  r.run_id = run;
  r.flops = k.flops();
  return r;
}

/// The text of the section of kernel `name`.
std::string section(const std::string &html, const std::string &name) {
  size_t a = html.find("<section id='k-" + name + "'>");
  if (a == std::string::npos) return "";
  return html.substr(a, html.find("</section>", a) - a);
}

ReportOptions with(FakePeak &peak) {
  ReportOptions o;
  o.measure_peak = peak.fn();
  return o;
}

TEST(Report, NamesTheTargetNotItsFeatureString) {
  Database db(temp_db("name"));
  const Kernel &k = model().kernels[0];
  db.add({record(k, "schedule mm {\n}\n", 2e-5)});
  FakePeak peak;
  std::string html = report_html(db, model().kernels, host(), with(peak));
  EXPECT_NE(html.find("host (" + host().cpu + ", "), std::string::npos);
  EXPECT_EQ(html.find(host().features), std::string::npos);
  EXPECT_EQ(html.find(host().key()), std::string::npos);
  EXPECT_EQ(html.find("+avx"), std::string::npos);
  EXPECT_EQ(html.find("+neon"), std::string::npos);
}

TEST(Report, TargetLabelSaysTheVectorIsa) {
  Target t = host();
  t.name = "x86_64-avx512";
  t.arch = Arch::X86_64;
  t.cpu = "znver4";
  t.vector_bits = 512;
  EXPECT_EQ(target_label(t), "x86_64-avx512 (znver4, AVX-512)");
  t.vector_bits = 256;
  EXPECT_EQ(target_label(t), "x86_64-avx512 (znver4, AVX2)");
  t.arch = Arch::AArch64;
  t.name = "aarch64-neon";
  t.cpu = "neoverse-n1";
  t.vector_bits = 128;
  EXPECT_EQ(target_label(t), "aarch64-neon (neoverse-n1, NEON)");
}

TEST(Report, NiceTicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0, 26.2, 5), (std::vector<double>{0, 10, 20, 30}));
  EXPECT_EQ(nice_ticks(0, 7, 5), (std::vector<double>{0, 2, 4, 6, 8}));
  EXPECT_EQ(nice_ticks(0, 300, 5), (std::vector<double>{0, 100, 200, 300}));
  std::vector<double> small = nice_ticks(0, 0.37, 5);
  ASSERT_EQ(small.size(), 5u);
  EXPECT_DOUBLE_EQ(small[1], 0.1);
  EXPECT_GE(small.back(), 0.37);
}

TEST(Report, ChartsHaveTickLabelsAndAxisTitlesWithUnits) {
  Database db(temp_db("ticks"));
  const Kernel &k = model().kernels[0];  // 2 * 64^3 flops: 2e-5 s is 26.2 GFLOP/s
  RunInfo run = db.begin_run(workload_key(k), host().key(), k.name, "hybrid", 3);
  db.add({record(k, "schedule mm {\n}\n", 4e-5, "", run.id),
          record(k, "schedule mm {\n  parallel C.i\n}\n", 2e-5, "", run.id)});
  FakePeak peak;  // 100 GFLOP/s, 20 GB/s
  std::string s = section(report_html(db, model().kernels, host(), with(peak)), "mm");
  // The curves: GFLOP/s 0..30 in steps of 10, measurements 0..2.
  for (const char *tick : {"0", "10", "20", "30"})
    EXPECT_NE(s.find(fmt::format("text-anchor='end'>{}</text>", tick)), std::string::npos) << tick;
  EXPECT_EQ(s.find("text-anchor='end'>40</text>"), std::string::npos);
  EXPECT_NE(s.find("text-anchor='middle'>2</text>"), std::string::npos);
  EXPECT_EQ(s.find("text-anchor='middle'>0.5</text>"), std::string::npos);  // whole measurements
  EXPECT_NE(s.find("best GFLOP/s so far"), std::string::npos);
  EXPECT_NE(s.find(">measurements<"), std::string::npos);
  // The roofline: decades on both axes (intensity 10.7 flop/byte, ridge 5; peak 100).
  EXPECT_NE(s.find("text-anchor='middle'>1</text>"), std::string::npos);
  EXPECT_NE(s.find("text-anchor='middle'>100</text>"), std::string::npos);
  EXPECT_NE(s.find("text-anchor='end'>1000</text>"), std::string::npos);
  EXPECT_NE(s.find("text-anchor='end'>0.1</text>"), std::string::npos);
  EXPECT_NE(s.find("arithmetic intensity (flop/byte)"), std::string::npos);
}

TEST(Report, ThePeakIsMeasuredOnceAndStoredForTheTarget) {
  std::string p = temp_db("peak");
  FakePeak peak;
  {
    Database db(p);
    std::string first = report_html(db, model().kernels, host(), with(peak));
    EXPECT_EQ(peak.calls, 1);
    EXPECT_NE(first.find("100.0 GFLOP/s"), std::string::npos);
    EXPECT_NE(first.find("(now, and stored in the database)"), std::string::npos);
  }
  Database db(p);  // a later kcc report
  peak.peak = MachinePeak{50, 5};
  std::string second = report_html(db, model().kernels, host(), with(peak));
  EXPECT_EQ(peak.calls, 1);  // read back, not measured again
  EXPECT_NE(second.find("100.0 GFLOP/s"), std::string::npos);
  EXPECT_NE(second.find("--remeasure-peak"), std::string::npos);
  EXPECT_NE(second.find("measured 20"), std::string::npos);  // when: a date
  ReportOptions again = with(peak);
  again.remeasure_peak = true;
  std::string third = report_html(db, model().kernels, host(), again);
  EXPECT_EQ(peak.calls, 2);
  EXPECT_NE(third.find("50.0 GFLOP/s"), std::string::npos);
  EXPECT_DOUBLE_EQ(db.machine_peak(host().key())->gflops, 50);
}

TEST(Report, ACrossTargetWithoutAStoredPeakIsNotMeasuredHere) {
  Target other;
  try {
    other = make_target(host().arch == Arch::AArch64 ? "x86_64-avx2" : "aarch64-neon");
  } catch (const UserError &) {
    GTEST_SKIP() << "no second CPU target in this build";
  }
  Database db(temp_db("cross"));
  FakePeak peak;
  EXPECT_FALSE(machine_peak(db, other, false, peak.fn()).has_value());
  std::string html = report_html(db, model().kernels, other, with(peak));
  EXPECT_EQ(peak.calls, 0);
  EXPECT_NE(html.find("No peak is stored"), std::string::npos);
}

TEST(Report, AKernelWithoutAValidMeasurementShowsWhyItFailed) {
  Database db(temp_db("failed"));
  const Kernel &k = model().kernels[1];
  RunInfo run = db.begin_run(workload_key(k), host().key(), k.name, "hybrid", 4);
  db.add({record(k, "schedule scale {\n}\n", 0, "timeout: no result within 10 s", run.id, "hybrid", Outcome::Timeout),
          record(k, "schedule scale {\n  vectorize C.i\n}\n", 0, "build: LLVM ERROR: out of registers", run.id, "hybrid",
                 Outcome::Build),
          record(k, "schedule scale {\n  parallel C.i\n}\n", 0, "timeout: no result within 10 s", run.id, "hybrid",
                 Outcome::Timeout)});
  FakePeak peak;
  std::string html = report_html(db, model().kernels, host(), with(peak));
  std::string s = section(html, "scale");
  EXPECT_NE(s.find("No valid measurement: all 3 measurements in 1 run failed"), std::string::npos) << s;
  EXPECT_EQ(s.find("<svg"), std::string::npos);  // no empty chart
  EXPECT_NE(s.find("<tr><td>timeout</td><td>2</td>"), std::string::npos);
  EXPECT_NE(s.find("<tr><td>build</td><td>1</td>"), std::string::npos);
  EXPECT_NE(s.find("LLVM ERROR: out of registers"), std::string::npos);
  EXPECT_LT(s.find(">timeout<"), s.find(">build<"));  // most frequent first
  KernelFigures f = kernel_figures(db, k, host());
  EXPECT_EQ(f.invalid, 3);
  EXPECT_FALSE(f.best.has_value());
  // mm has no measurement at all.
  EXPECT_NE(section(html, "mm").find("Not tuned for this target"), std::string::npos);
}

TEST(Report, InvalidCountsByReasonBesideAValidBest) {
  Database db(temp_db("reasons"));
  const Kernel &k = model().kernels[0];
  db.add({record(k, "schedule mm {\n}\n", 2e-5), record(k, "a", 0, "crashed: worker ended with signal 11", 0, "hybrid", Outcome::Crashed),
          record(k, "b", 0, "wrong result: output 'C' element 3: got 1, expected 2", 0, "hybrid",
                 Outcome::WrongResult)});
  FakePeak peak;
  std::string s = section(report_html(db, model().kernels, host(), with(peak)), "mm");
  EXPECT_NE(s.find("<svg"), std::string::npos);
  EXPECT_NE(s.find("<tr><td>crashed</td><td>1</td>"), std::string::npos);
  EXPECT_NE(s.find("<tr><td>wrong result</td><td>1</td>"), std::string::npos);
  EXPECT_NE(s.find("output &#39;C&#39; element 3"), std::string::npos);  // escaped
}

TEST(Report, TheBestIsTheScheduleWithTheFastestWorstMeasurement) {
  // A ran at 1e-5 s once and 4e-5 s when measured again; B at 2e-5 s: the best is B (decision 8),
  // not A's lucky measurement.
  Database db(temp_db("worst"));
  const Kernel &k = model().kernels[0];
  const std::string a = "schedule mm {\n  parallel C.i\n}\n", b = "schedule mm {\n  vectorize C.j\n}\n";
  db.add({record(k, a, 1e-5), record(k, b, 2e-5), record(k, a, 4e-5, "", 0, "verify")});
  FakePeak peak;
  std::string html = report_html(db, model().kernels, host(), with(peak));
  const std::string b_gflops = fmt::format("{:.2f}", k.flops() / 2e-5 * 1e-9);
  const std::string a_gflops = fmt::format("{:.2f}", k.flops() / 1e-5 * 1e-9);
  EXPECT_NE(html.find(">" + b_gflops + "</td>"), std::string::npos);
  EXPECT_NE(html.find(">20.000</td>"), std::string::npos);  // microseconds
  EXPECT_EQ(html.find(a_gflops), std::string::npos);
  EXPECT_EQ(kernel_figures(db, k, host()).best->schedule, b);
}

TEST(Report, KernelTableSharesTimeByWeightAndSortsByClickingAHeader) {
  Database db(temp_db("table"));
  const Kernel &mm = model().kernels[0], &scale = model().kernels[1];
  db.add({record(mm, "schedule mm {\n}\n", 1e-5), record(scale, "schedule scale {\n}\n", 1e-5)});
  FakePeak peak;
  ReportOptions o = with(peak);
  o.weights = {{"scale", 3}};
  std::string html = report_html(db, model().kernels, host(), o);
  EXPECT_NE(html.find("<td data-v='0.75'>75.0%"), std::string::npos);
  EXPECT_NE(html.find("<td data-v='0.25'>25.0%"), std::string::npos);
  EXPECT_LT(html.find("<a href='#k-scale'>"), html.find("<a href='#k-mm'>"));  // most time first
  EXPECT_NE(html.find("<table class='sortable'>"), std::string::npos);
  EXPECT_NE(html.find("addEventListener('click'"), std::string::npos);
  // Self-contained: nothing fetched.
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(Report, TheBestFigureIsKccTunesFigure) {
  // A real tuning with re-measurements: the report's best is the summary's, to the digit.
  Database db(temp_db("tune"));
  Module m = parse_module_file(std::string(KCC_SOURCE_DIR) + "/test/correctness/kernels.ir");
  const Kernel &k = *m.find_kernel("matmul");
  TuneOptions o;
  o.strategy = Strategy::Random;
  o.budget = 6;
  o.search.batch = 3;
  o.measure.min_sample_seconds = 0.0005;
  o.measure.samples = 3;
  o.measure.timeout_seconds = 20;
  o.verify_top = 3;
  TuneSummary s = tune_kernel(k, host(), &db, o);
  ASSERT_TRUE(s.found);
  KernelFigures f = kernel_figures(db, k, host());
  ASSERT_TRUE(f.best.has_value());
  EXPECT_DOUBLE_EQ(f.best_seconds(), s.median_seconds);
  auto best = schedule_from_record(k, host(), *f.best);
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(to_string(*best), s.schedule_text);
  FakePeak peak;
  std::string html = report_html(db, {k}, host(), with(peak));
  EXPECT_NE(html.find(fmt::format(">{:.2f}</td>", s.gflops)), std::string::npos);
  EXPECT_NE(html.find(fmt::format(">{:.3f}</td>", s.median_seconds * 1e6)), std::string::npos);
}

}  // namespace
}  // namespace kcc::tuner
