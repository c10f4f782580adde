// ir/diag.h - source locations and the two error channels.
//
// User errors (bad .ir text, bad schedules, bad flags) are `UserError`s: they carry a
// location and a message in LLVM style (lower case, no trailing period) and are rendered as
//   model.ir:12:7: error: message
//     <source line>
//           ^
// Internal errors are kcc bugs: `KCC_INTERNAL(cond, msg)` throws `InternalError`.
// Nothing in kcc calls abort() on bad input.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kcc {

/// The text of one source file, shared by everything that points into it.
struct SourceFile {
  std::string path;
  std::string text;
  /// The 1-based line `line` without its newline ("" when out of range).
  std::string line_text(int line) const;
};
using SourceFileRef = std::shared_ptr<const SourceFile>;

/// A position in a source file; line and col are 1-based, 0 means unknown.
struct SourceLoc {
  SourceFileRef file;
  int line = 0;
  int col = 0;
  bool valid() const { return file && line > 0; }
};

/// The contents of the file `path`; a UserError "cannot read [WHAT ]'PATH'" (no location) when
/// it cannot be opened.
std::string read_source_file(const std::string &path, const std::string &what = "");

/// Renders "path:line:col: error: msg" plus the source line and a caret.
std::string render_diagnostic(const SourceLoc &loc, const std::string &severity,
                              const std::string &msg);

/// An error in what the user wrote. `what()` is the rendered form.
class UserError : public std::runtime_error {
 public:
  UserError(SourceLoc loc, std::string msg);
  const SourceLoc &loc() const { return loc_; }
  const std::string &message() const { return msg_; }

 private:
  SourceLoc loc_;
  std::string msg_;
};

/// A bug in kcc.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void internal_error(const char *file, int line, const std::string &msg);

#define KCC_INTERNAL(cond, msg)                                  \
  do {                                                           \
    if (!(cond)) ::kcc::internal_error(__FILE__, __LINE__, msg); \
  } while (0)

}  // namespace kcc
