// tools/atomic_write.h - write a set of output files all at once or not at all.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace kcc {

/// Writes each (path, contents) to a temporary file in the path's directory (created if
/// missing), then renames them into place once all were written. On failure removes the
/// temporaries and throws UserError ("cannot write ..."); files already in place stay as they
/// were unless their rename had happened (renames are the last, near-infallible step).
void write_files_atomically(const std::vector<std::pair<std::string, std::string>> &files);

}  // namespace kcc
