// tuner/cli.h - the tuner's part of the kcc command line: flags shared by `kcc compile` and
// `kcc tune`, the provider a compile uses, `kcc tune` and `kcc report`. tools/kcc.cpp calls these.
//
//   --budget N          tuning measurements (total over the file's kernels; 0 = no tuning)
//   --db PATH           tuning database (default $XDG_CACHE_HOME/kcc/tuning.db)
//   --strategy S        hybrid (default), evolutionary, droplet, random
//   --hybrid-switch N   hybrid: evolutionary measurements before Droplet Search (default 300; at
//                       most half of a kernel's share of the budget)
//   --weight K=W        kernel K runs W times per model invocation (task scheduler)
//   --timeout S         seconds one candidate may run (check + warm-up + samples; default 10)
//   --threads N         threads candidates run on, as the app will run them (default all cores)
//   --runner CMD        measure through kcc-runner started by CMD (docs/runner.md), not in-process
//   --runner-link CMD   links a batch into a shared object for the runner (default: cc -shared, or
//                       aarch64-linux-gnu-gcc -shared for AArch64 targets on another host)
//   --runner-dir DIR    scratch folder the runner also sees (default: under the temp directory)
#pragma once
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "codegen/target.h"
#include "ir/kernel.h"
#include "passes/pipeline.h"
#include "tuner/database.h"
#include "tuner/tuner.h"

namespace kcc::tuner {

struct TuneFlags {
  int64_t budget = 0;
  std::string db;  ///< "" = Database::default_path()
  Strategy strategy = Strategy::Hybrid;
  int64_t hybrid_switch = 300;
  std::vector<std::pair<std::string, double>> weights;
  std::string runner, runner_link, runner_dir;  ///< "" = in-process measurement / defaults
  double timeout_seconds = 10;  ///< per candidate (--timeout)
  int threads = 0;              ///< threads a candidate runs on (--threads; 0 = all cores)
};

/// The link command used for `t` when --runner-link is not given.
std::string default_runner_link(const Target &t);

/// The help lines of the flags above.
const char *tune_flags_help();

/// If args[i] is one of the flags above, consumes it (and its value; `--flag=value` works too),
/// advances i past it and returns true. Throws std::invalid_argument with a message for a bad
/// value or a missing one.
bool parse_tune_flag(const std::vector<std::string> &args, size_t &i, TuneFlags &f);

/// What a compile needs to get schedules from the tuning database and the tuner
/// (ScheduleSources::database and ::tuner; the pipeline asks them in its order).
struct TuningSetup {
  std::unique_ptr<Database> db;
  std::unique_ptr<DatabaseProvider> database;  ///< null without a database
  std::unique_ptr<ModuleTuner> tuner;          ///< null without a budget
};

/// Opens the database and makes the sources. With a budget, the tuner tunes the kernels the
/// pipeline hands it (the budget spread by the task scheduler), with a progress line on
/// `progress` (a live line if it is a terminal); DatabaseError if the database cannot be
/// opened. Without a budget the database is only consulted if it exists and opens. A kernel the
/// tuning found no valid schedule for is a warning on `progress` (with its failure outcomes);
/// the compile goes on with the .ir's schedule or the default.
TuningSetup make_tuning_setup(const TuneFlags &f, const Target &t, const std::string &kcc_version,
                              std::ostream *progress, bool progress_is_terminal);

/// `kcc tune`: tunes every kernel (no output files) and prints one line per kernel: schedule
/// source, median, GFLOP/s, measurements, invalid ones (and their outcomes). A kernel left
/// without any valid measurement is an error on `progress` (else `out`): the count of each
/// failure outcome with its first message; the exit code is then 1, else 0.
int run_tune(const TuneFlags &f, const Module &m, const Target &t, const std::string &kcc_version, std::ostream &out,
             std::ostream *progress, bool progress_is_terminal);

}  // namespace kcc::tuner
