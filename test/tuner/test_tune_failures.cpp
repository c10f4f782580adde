// A tuning that measures nothing valid says so: `kcc tune` prints each failure outcome's count
// and first message and exits 1, a compile warns and goes on; compiler bugs leave a report file;
// the progress line of a kernel sharing a file's budget shows its own.
// Nothing here runs generated code in-process (the measurer forks).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "ir/parser.h"
#include "passes/pipeline.h"
#include "tuner/bug_report.h"
#include "tuner/cli.h"
#include "tuner/outcome.h"
#include "tuner/tuner.h"

namespace kcc::tuner {
namespace {

const char *kMatmul = "kernel mm(A: f32[12, 10], B: f32[10, 14]) -> C: f32[12, 14] {\n"
                      "  C[i, j] = sum(k) A[i, k] * B[k, j]\n}\n";

std::string temp_dir() {
  std::string d = std::filesystem::temp_directory_path() / ("kcc_tune_failures_" + std::to_string(getpid()));
  std::filesystem::create_directories(d);
  return d;
}

std::string fresh_db(const std::string &name) {
  const std::string p = temp_dir() + "/" + name + ".db";
  for (const char *suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
  return p;
}

/// Flags under which every candidate runs past its time limit (a microsecond).
TuneFlags every_candidate_times_out(const std::string &db) {
  TuneFlags f;
  f.budget = 4;
  f.db = db;
  f.strategy = Strategy::Random;
  f.timeout_seconds = 1e-6;
  return f;
}

TEST(FailureCounts, GroupsByOutcomeWithTheFirstMessageOfEach) {
  FailureCounts c;
  c.add(Outcome::Static, "static: tile 5 does not divide 12");
  c.add(Outcome::Crashed, "crashed: worker ended with signal 11 (Segmentation fault)");
  c.add(Outcome::Static, "static: tile 7 does not divide 12");
  c.add(Outcome::CompileTimeLimit, "build: optimization ran past its 2 s CPU-time limit (the code is too large)");
  c.add(Outcome::Ok, "");
  EXPECT_EQ(c.total(), 4);
  EXPECT_EQ(c.count[static_cast<size_t>(Outcome::Static)], 2);
  EXPECT_EQ(c.brief(), "2 static, 1 compile-time limit, 1 crashed");
  EXPECT_EQ(c.details(),
            "  2 static, first: static: tile 5 does not divide 12\n"
            "  1 compile-time limit, first: build: optimization ran past its 2 s CPU-time limit (the code is too "
            "large)\n"
            "  1 crashed, first: crashed: worker ended with signal 11 (Segmentation fault)\n");
}

TEST(RunTune, AKernelWithoutAnyValidMeasurementIsAnErrorWithEachReasonCounted) {
  Module m = parse_module("m.ir", kMatmul);
  std::ostringstream out, err;
  const int rc = run_tune(every_candidate_times_out(fresh_db("tune")), m, make_target("host"), "test", out, &err, false);
  EXPECT_EQ(rc, 1);
  const std::string e = err.str();
  EXPECT_NE(e.find("kcc: error: tuning kernel 'mm' found no valid schedule (4 measured, 4 invalid)\n"
                   "  4 timeout, first: timeout: no result within"),
            std::string::npos)
      << e;
  EXPECT_NE(out.str().find("  mm: invalid: 4 timeout\n"), std::string::npos) << out.str();
}

TEST(TuningSetup, AKernelWithoutAValidScheduleIsAWarningAndTheCompileGoesOn) {
  Module m = parse_module("m.ir", kMatmul);
  const Target t = make_target("host");
  std::ostringstream err;
  TuningSetup s = make_tuning_setup(every_candidate_times_out(fresh_db("compile")), t, "test", &err, false);
  ASSERT_TRUE(s.tuner);
  EXPECT_TRUE(s.tuner->tune(m, t).empty());  // the pipeline's fallback decides
  EXPECT_NE(err.str().find("kcc: warning: tuning kernel 'mm' found no valid schedule (4 measured, 4 invalid); "
                           "compiling it with the .ir's schedule or the default one\n  4 timeout, first: "),
            std::string::npos)
      << err.str();
  ChosenSchedule chosen;
  EXPECT_FALSE(s.database->provide(m.kernels[0], t, chosen));  // only invalid records
}

TEST(Tuner, EachKernelsProgressLineShowsItsOwnBudgetBesideTheFiles) {
  Module m = parse_module("m.ir", std::string(kMatmul) +
                                      "kernel add(X: f32[64], Y: f32[64]) -> Z: f32[64] {\n  Z[i] = X[i] + Y[i]\n}\n");
  TuneOptions o;
  o.strategy = Strategy::Random;
  o.budget = 8;
  o.search.batch = 2;
  o.measure.min_sample_seconds = 0.0005;
  o.measure.samples = 3;
  std::ostringstream progress;
  o.progress = &progress;
  Database db(fresh_db("progress"));
  tune_module(m, make_target("host"), &db, o);
  // "kcc tune: NAME  DONE/OWN  (file FILE_DONE/8, S/2 kernels scheduled, all ~T ms)  best ...": a
  // kernel can get at most what it has plus what is left of the file's budget; S kernels have a
  // schedule so far and T is the file's estimated time with them.
  const std::regex line(
      R"(kcc tune: (\w+)  (\d+)/(\d+)  \(file (\d+)/8, (\d)/2 kernels scheduled, all ~([0-9.e+-]+) ms\)  best .*)");
  std::istringstream lines(progress.str());
  int seen = 0;
  for (std::string l; std::getline(lines, l);) {
    std::smatch g;
    ASSERT_TRUE(std::regex_match(l, g, line)) << l;
    const int done = std::stoi(g[2]), own = std::stoi(g[3]), file = std::stoi(g[4]), scheduled = std::stoi(g[5]);
    EXPECT_EQ(own, done + (8 - file)) << l;
    EXPECT_LE(done, file) << l;
    EXPECT_EQ(std::stod(g[6]) > 0, scheduled > 0) << l;
    ++seen;
  }
  EXPECT_GE(seen, 2) << progress.str();
}

TEST(BugReport, AWrongResultDuringTuningIsOneLineAndAFileBesideTheDatabase) {
  // A stand-in for kcc-runner that finds every candidate wrong: the tuner's reporting path,
  // without a miscompiling code generator.
  const std::string dir = temp_dir() + "/wrong";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string script = dir + "/fake_runner.sh";
  std::ofstream(script) << "while read -r line; do case \"$line\" in\n"
                           "  hello*) echo '{\"runner\":\"fake\",\"protocol\":1}' ;;\n"
                           "  run*) echo '{\"kernel\":\"k\",\"ok\":false,\"error\":\"wrong result: output 0 element 1: "
                           "got 1, expected 2, tolerance 1e-06\"}' ;;\n"
                           "esac; done\n";
  Module m = parse_module("m.ir", kMatmul);
  TuneOptions o;
  o.strategy = Strategy::Random;
  o.budget = 2;
  o.search.batch = 2;
  o.runner_command = "sh " + script;
  o.runner_dir = dir + "/work";
  o.bug_dir = dir + "/kcc-bugs";
  std::ostringstream progress;
  o.progress = &progress;
  TuneSummary s = tune_kernel(m.kernels[0], make_target("host"), nullptr, o);
  EXPECT_FALSE(s.found);
  EXPECT_EQ(s.wrong_results, 2);
  EXPECT_EQ(s.failures.count[static_cast<size_t>(Outcome::WrongResult)], 2);
  const std::regex line(R"(kcc: COMPILER BUG: a candidate schedule of kernel 'mm' computes a wrong result \(output 0 )"
                        R"(element 1: got 1, expected 2, tolerance 1e-06\); details in (\S+)\n)");
  std::smatch g;
  const std::string text = progress.str();
  ASSERT_TRUE(std::regex_search(text, g, line)) << text;
  const std::string path = g[1];
  EXPECT_EQ(std::filesystem::path(path).parent_path(), std::filesystem::path(o.bug_dir));
  std::ifstream in(path);
  const std::string report((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(report.find("---- schedule\n"), std::string::npos) << report;
  EXPECT_NE(report.find("\nschedule mm {\n"), std::string::npos) << report;
  EXPECT_NE(report.find("---- kernel\nkernel mm("), std::string::npos) << report;
  EXPECT_NE(report.find("---- loop IR\n"), std::string::npos) << report;
  EXPECT_NE(report.find("mismatch: wrong result: output 0 element 1: got 1, expected 2, tolerance 1e-06"),
            std::string::npos)
      << report;
}

TEST(BugReport, TheFileHoldsScheduleKernelLoopIrAndTheMismatchAndTheLineNamesIt) {
  BugReport r;
  r.kernel = "mm";
  r.target = "host (x86_64-avx2)";
  r.kernel_ir = kMatmul;
  r.schedule = "schedule mm {\n  split i 4\n}\n";
  r.loop_ir = "for i in [0, 12) { ... }";
  r.error = "wrong result: output 'C' element 3: got 0.5, expected -0.5, tolerance 1.2e-06";
  const std::string dir = temp_dir() + "/bugs";
  const std::string path = write_bug_report(dir, r);
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(std::filesystem::path(path).parent_path(), std::filesystem::path(dir));
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  for (const std::string &part : {r.schedule, std::string(kMatmul), r.loop_ir, r.error, r.target})
    EXPECT_NE(text.find(part), std::string::npos) << part;
  EXPECT_EQ(bug_line(r, path),
            "kcc: COMPILER BUG: a candidate schedule of kernel 'mm' computes a wrong result (output 'C' element 3: "
            "got 0.5, expected -0.5, tolerance 1.2e-06); details in " + path + "\n");
  EXPECT_EQ(bug_dir_beside("/var/cache/kcc/tuning.db"), "/var/cache/kcc/kcc-bugs");
}

}  // namespace
}  // namespace kcc::tuner
