// Tuner flags of the kcc command line and the HTML report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "ir/parser.h"
#include "passes/registry.h"
#include "tuner/cli.h"
#include "tuner/report.h"

namespace kcc::tuner {
namespace {

TEST(TuneFlags, ParsesEveryFlagInBothSpellings) {
  std::vector<std::string> args{"--budget", "500", "--db=/tmp/x.db", "--strategy", "droplet", "--hybrid-switch=50",
                                "--weight", "conv=3.5", "model.ir"};
  TuneFlags f;
  size_t i = 0;
  while (i < args.size() && parse_tune_flag(args, i, f)) {
  }
  EXPECT_EQ(i, 8u);  // stops at the first argument that is not a tuner flag
  EXPECT_EQ(f.budget, 500);
  EXPECT_EQ(f.db, "/tmp/x.db");
  EXPECT_EQ(f.strategy, Strategy::Droplet);
  EXPECT_EQ(f.hybrid_switch, 50);
  ASSERT_EQ(f.weights.size(), 1u);
  EXPECT_EQ(f.weights[0].first, "conv");
  EXPECT_DOUBLE_EQ(f.weights[0].second, 3.5);
}

TEST(TuneFlags, BadValuesSayWhatWasExpected) {
  auto fails = [](std::vector<std::string> args, const std::string &words) {
    TuneFlags f;
    size_t i = 0;
    try {
      parse_tune_flag(args, i, f);
    } catch (const std::invalid_argument &e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error for " << args[0];
  };
  fails({"--budget", "-3"}, "non-negative number");
  fails({"--strategy", "annealing"}, "expected hybrid, evolutionary, droplet or random");
  fails({"--weight", "conv"}, "KERNEL=W");
  fails({"--db"}, "needs a value");
  fails({"--timeout", "0"}, "positive number of seconds");
  fails({"--threads", "two"}, "non-negative number");
}

TEST(TuneFlags, ParsesTimeoutAndThreads) {
  std::vector<std::string> args{"--timeout=2.5", "--threads", "1"};
  TuneFlags f;
  size_t i = 0;
  while (i < args.size() && parse_tune_flag(args, i, f)) {
  }
  EXPECT_DOUBLE_EQ(f.timeout_seconds, 2.5);
  EXPECT_EQ(f.threads, 1);
}

TEST(Report, HtmlHasACurvePerRunAndARoofline) {
  std::string p = std::filesystem::temp_directory_path() / ("kcc_report_" + std::to_string(getpid()) + ".db");
  std::filesystem::remove(p);
  Module m = parse_module("m.ir", "kernel mm(A: f32[8, 8], B: f32[8, 8]) -> C: f32[8, 8] {\n  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n");
  const Kernel &k = m.kernels[0];
  Database db(p);
  for (const char *strategy : {"hybrid", "random"}) {
    RunInfo run = db.begin_run(workload_key(k), "t", k.name, strategy, 3);
    std::vector<MeasureRecord> batch;
    for (double t : {3e-6, 1e-6, 2e-6}) {
      MeasureRecord r;
      r.workload_key = workload_key(k);
      r.target_key = "t";
      r.kernel = k.name;
      r.schedule = "schedule mm {\n}\n";
      r.samples = {t, t, t};
      r.median_seconds = t;
      r.strategy = strategy;
      r.run_id = run.id;
      r.flops = k.flops();
      batch.push_back(r);
    }
    db.add(batch);
    db.finish_run(run.id);
  }
  std::string html = report_html(db, m.kernels, MachinePeak{100, 20});
  EXPECT_NE(html.find("<h2>mm</h2>"), std::string::npos);
  EXPECT_NE(html.find("run 1 hybrid"), std::string::npos);
  EXPECT_NE(html.find("run 2 random"), std::string::npos);
  EXPECT_NE(html.find("roofline"), std::string::npos);
  EXPECT_NE(html.find("6 measurements, 0 invalid"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // self-contained, static
}

}  // namespace
}  // namespace kcc::tuner
