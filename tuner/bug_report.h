// tuner/bug_report.h - a candidate that computes a wrong result is a compiler bug: the terminal
// gets one line, a file gets what it takes to reproduce it.
//
// Files go to `dir` (TuneOptions::bug_dir): beside the tuning database, `<db folder>/kcc-bugs/`
// (with the default database, $XDG_CACHE_HOME/kcc/kcc-bugs/), one file per wrong candidate,
// named `<kernel>-<schedule hash>.txt`; the same candidate found wrong again overwrites its file.
#pragma once
#include <string>

namespace kcc::tuner {

struct BugReport {
  std::string kernel;     ///< name
  std::string target;     ///< name and key
  std::string kernel_ir;  ///< the kernel's definition (.ir text)
  std::string schedule;   ///< the candidate's schedule text
  std::string loop_ir;    ///< the candidate's lowered loop IR
  std::string error;      ///< "wrong result: output 'C' element 3: got ..., expected ..., tolerance ..."
};

/// The folder of bug reports beside the database at `db_path`.
std::string bug_dir_beside(const std::string &db_path);

/// Writes `r` into `dir` (created when missing); returns the file's path, or "" when it could
/// not be written (the caller still prints its line).
std::string write_bug_report(const std::string &dir, const BugReport &r);

/// The terminal line: "kcc: COMPILER BUG: a candidate schedule of kernel 'K' computes a wrong
/// result (output ..., tolerance ...); details in PATH".
std::string bug_line(const BugReport &r, const std::string &path);

}  // namespace kcc::tuner
