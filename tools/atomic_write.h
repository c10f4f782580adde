// tools/atomic_write.h - write a set of output files all at once or not at all.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace kcc {

/// Writes each (path, contents), all or none: every regular file is first written to a
/// temporary beside it (its directory created if missing), then all are moved into place
/// together; if any step fails, files already moved are put back as they were, the temporaries
/// are removed and a UserError "cannot write 'PATH': why" is thrown.
///
/// What a path names decides how it is written:
///  - a regular file, or nothing yet: replaced (created) as above;
///  - a symbolic link: what it points to is written (the link stays a link);
///  - a character device or a FIFO (/dev/null, a pipe): written into directly, after the regular
///    files are in place (a failure still puts those back; the device's bytes cannot be undone);
///  - anything else (a directory, a socket, a block device): an error, before anything is written.
void write_files_atomically(const std::vector<std::pair<std::string, std::string>> &files);

}  // namespace kcc
