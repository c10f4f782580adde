// ir/parser.h - model.ir text -> checked Module, and Module -> text.
#pragma once
#include <string>

#include "ir/kernel.h"
#include "ir/schedule.h"

namespace kcc {

/// Parses and checks a whole model.ir file (kernels and schedules). Throws UserError with the
/// location of the first problem: syntax, unknown names, types, ranks, shapes, ranges that cannot
/// be inferred, statically out-of-range accesses, malformed schedule steps.
Module parse_module(const std::string &path, const std::string &text);
/// Reads `path` (UserError if unreadable) and parses it.
Module parse_module_file(const std::string &path);

/// Parses text holding only `schedule NAME { ... }` blocks (for registries and tuner records).
/// `path` names the origin in diagnostics.
std::vector<Schedule> parse_schedules(const std::string &path, const std::string &text);

/// Text that parse_module reads back to the same kernel (round trip).
std::string to_string(const Kernel &k);
std::string to_string(const ModelDecl &m);
std::string to_string(const Module &m);

}  // namespace kcc
