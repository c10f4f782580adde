// Tuner flags of the kcc command line (the report: test_report.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "ir/parser.h"
#include "tuner/cli.h"

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

}  // namespace
}  // namespace kcc::tuner
