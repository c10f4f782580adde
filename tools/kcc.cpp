// tools/kcc.cpp - the kcc command-line driver.
//
//   kcc compile model.ir --target T [--mcpu CPU] [--mattr ATTRS] [-o OUTDIR/NAME]
//               [--registry FILE.kreg] [--emit=ast|ir|scheduled|lowered|llvm|asm|obj]
//               [--print-after=STEP[,STEP]] [--time-passes] [--weights embed|external] [-v]
//   kcc tune model.ir --budget N [--target T] [--db PATH] [--strategy S]   (no output files)
//   kcc report model.ir [--db PATH] [--target T] [--weight K=W] [--remeasure-peak] [-o report.html]
//   kcc targets
//   kcc --version | --help
//
// Exit status: 0 success, 1 an error in what the user wrote (model.ir, registry, schedule) or
// an I/O failure, 2 a bad command line, 3 an internal error (a kcc bug).
//
// The tool only wires parts together: parsing (ir/parser.h), the schedule sources (a
// RegistryProvider for --registry; otherwise the tuning database and, with --budget, the tuner;
// the pipeline asks them in the order documented at ScheduleSources in passes/pipeline.h), the
// pipeline (passes/pipeline.h) and the output files.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/target.h"
#ifdef KCC_HAVE_FRONTEND
#include "frontend/import_model.h"
#endif
#include "ir/diag.h"
#include "ir/parser.h"
#include "ir/workload.h"
#include "passes/pipeline.h"
#include "passes/registry.h"
#include "tools/atomic_write.h"
#include "tools/header.h"
#include "tuner/cli.h"
#include "tuner/report.h"

#ifndef KCC_VERSION
#define KCC_VERSION "0.0.0"
#endif

namespace kcc {
namespace {

/// A bad command line: exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

const char *kUsage = R"(usage: kcc compile MODEL.ir|MODEL.onnx [MORE.ir ...] [options]
       kcc tune MODEL.ir|MODEL.onnx [MORE.ir ...] --budget N [options]   tune and record, write
                                                 nothing else (a model's kernels weighted by calls)
       kcc report MODEL.ir [--db PATH] [-o FILE.html]         tuning curves and roofline (HTML)
                           [--remeasure-peak]           measure the stored machine peak again
       kcc import MODEL.onnx [-o OUT.ir] [--input-shape NAME=1x3x224x224 ...]
                  [--channel-block N | --target T]  write OUT.ir (kernels + model) and OUT.weights;
                                                 conv chains NCHW[N]c (default 1 = NCHW, or
                                                 the target's f32 lanes)
       kcc targets
       kcc --version | --help

compile options:
  --target T            target (default host; `kcc targets` lists them)
  --mcpu CPU            override the target's CPU (as in llc -mcpu)
  --mattr ATTRS         override the target's features (as in llc -mattr, e.g. +avx2,+fma)
  -o OUTDIR/NAME        outputs OUTDIR/NAME.o, NAME.h and NAME.kreg (default: ./MODEL), and
                        NAME.weights with --weights external;
                        with --emit other than obj, the file to write instead of stdout
  --registry FILE.kreg  take every kernel's schedule from this registry; fail if one is missing.
                        Entries recorded on another cpu of the same instruction set are used
                        (with a note); entries needing features the target lacks never are
  --registry-strict     with --registry: demand entries recorded for this exact target
  --llvm-unroll=on|off  LLVM's own loop unrolling (default on; part of the target key)
  --emit=KIND           obj (default), or print: ast, ir, scheduled, lowered, llvm, asm, memory
                        (memory: each model's workspace plan and peak)
  --weights embed|external  a model's weights in the object's read-only data (default), or in
                        NAME.weights, loaded at run time with NAME_load_weights (one model; with
                        several, OUTDIR/NAME.MODEL.weights each)
  --input-shape NAME=DIMS  pin a dynamic dimension of an ONNX input (e.g. input=1x3x224x224);
                        MODEL.onnx is imported as `kcc import` does, into a temporary folder
  --print-after=STEP[,STEP]  dump the IR after these pipeline steps to stderr
  --time-passes         print the time of each pipeline step to stderr
  -v                    say which schedule each kernel got and which files were written
)";

// Targets that `kcc targets` tries, in the order of DESIGN §4.
const char *kTargetNames[] = {"host",         "x86_64-avx2",   "x86_64-avx512", "aarch64-neon",
                              "aarch64-sve",  "aarch64-a64fx", "nvptx-sm_80",   "nvptx-sm_90"};

enum class Emit { Ast, Ir, Scheduled, Lowered, Llvm, Asm, Obj, Memory };

struct Options {
  std::vector<std::string> inputs;
  std::string target = "host";
  std::string mcpu, mattr;
  std::string output;  // -o
  std::string registry;
  bool registry_strict = false;  // --registry-strict: entries recorded for this exact target only
  bool llvm_unroll = true;       // --llvm-unroll=on|off
  Emit emit = Emit::Obj;
  std::vector<std::string> print_after;
  bool time_passes = false;
  bool verbose = false;
  bool external_weights = false;  // --weights external
  bool remeasure_peak = false;  // kcc report
  std::vector<std::string> input_shapes;  // --input-shape NAME=DIMS, for ONNX inputs
  tuner::TuneFlags tune;  // --budget, --db, --strategy, --hybrid-switch, --weight
};

Emit parse_emit(const std::string &s) {
  static const std::map<std::string, Emit> kinds = {
      {"ast", Emit::Ast},         {"ir", Emit::Ir},   {"scheduled", Emit::Scheduled}, {"lowered", Emit::Lowered},
      {"llvm", Emit::Llvm},       {"asm", Emit::Asm}, {"obj", Emit::Obj}, {"memory", Emit::Memory}};
  auto it = kinds.find(s);
  if (it == kinds.end())
    throw UsageError(fmt::format("unknown --emit kind '{}' (expected ast, ir, scheduled, lowered, llvm, asm, obj or memory)", s));
  return it->second;
}

std::vector<std::string> split_commas(const std::string &s) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, ','))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

/// Parses the arguments of `kcc compile`.
Options parse_compile_args(const std::vector<std::string> &args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    {
      size_t j = i;
      try {
        if (tuner::parse_tune_flag(args, j, o.tune)) {
          i = j - 1;
          continue;
        }
      } catch (const std::invalid_argument &e) {
        throw UsageError(e.what());
      }
    }
    const std::string &a = args[i];
    // Accepts both "--flag value" and "--flag=value".
    auto value = [&](const std::string &flag) -> std::optional<std::string> {
      if (a == flag) {
        if (i + 1 >= args.size()) throw UsageError(fmt::format("option '{}' needs a value", flag));
        return args[++i];
      }
      if (a.size() > flag.size() && a.compare(0, flag.size(), flag) == 0 && a[flag.size()] == '=') {
        std::string v = a.substr(flag.size() + 1);
        if (v.empty()) throw UsageError(fmt::format("option '{}' needs a value", flag));
        return v;
      }
      return std::nullopt;
    };
    if (auto v = value("--target")) o.target = *v;
    else if (auto v = value("--mcpu")) o.mcpu = *v;
    else if (auto v = value("--mattr")) o.mattr = *v;
    else if (auto v = value("-o")) o.output = *v;
    else if (auto v = value("--registry")) o.registry = *v;
    else if (auto v = value("--input-shape")) o.input_shapes.push_back(*v);
    else if (auto v = value("--emit")) o.emit = parse_emit(*v);
    else if (auto v = value("--llvm-unroll")) {
      if (*v != "on" && *v != "off") throw UsageError(fmt::format("--llvm-unroll takes on or off, not '{}'", *v));
      o.llvm_unroll = *v == "on";
    } else if (auto v = value("--weights")) {
      if (*v != "embed" && *v != "external")
        throw UsageError(fmt::format("--weights takes embed or external, not '{}'", *v));
      o.external_weights = *v == "external";
    } else if (a == "--registry-strict") o.registry_strict = true;
    else if (auto v = value("--print-after")) {
      for (auto &s : split_commas(*v)) o.print_after.push_back(s);
    } else if (a == "--time-passes") o.time_passes = true;
    else if (a == "-v" || a == "--verbose") o.verbose = true;
    else if (a == "--remeasure-peak") o.remeasure_peak = true;
    else if (a.size() > 2 && a.compare(0, 2, "-o") == 0 && a[2] != '=') o.output = a.substr(2);
    else if (!a.empty() && a[0] == '-' && a != "-")
      throw UsageError(fmt::format("unknown option '{}'", a));
    else o.inputs.push_back(a);
  }
  if (o.inputs.empty()) throw UsageError("no input file");
  if (o.registry_strict && o.registry.empty()) throw UsageError("--registry-strict needs --registry FILE.kreg");
  if (o.emit == Emit::Obj && !o.output.empty() && std::filesystem::path(o.output).filename().empty())
    throw UsageError(fmt::format("-o '{}' names a directory; give OUTDIR/NAME", o.output));
  return o;
}

/// The pipeline steps --print-after names; an unknown name is a bad flag, answered with the list.
std::vector<PipelineStep> steps_named(const std::vector<std::string> &names) {
  std::vector<PipelineStep> out;
  for (const std::string &n : names) {
    if (std::optional<PipelineStep> s = step_named(n)) {
      out.push_back(*s);
      continue;
    }
    std::string list;
    for (PipelineStep s : pipeline_steps()) list += (list.empty() ? "" : ", ") + std::string(to_string(s));
    throw UsageError(fmt::format("unknown pipeline step '{}' in --print-after (steps: {})", n, list));
  }
  return out;
}

std::string where(const SourceLoc &loc) {
  return loc.valid() ? fmt::format("{}:{}:{}", loc.file->path, loc.line, loc.col) : "an earlier input";
}

Target target_of(const Options &o);

/// The channel block of an imported model's conv chains for target `t`: its f32 vector lanes
/// (16 on AVX-512, 8 on AVX2, 4 on NEON); none on GPUs.
int64_t channel_block_for(const Target &t) { return t.is_gpu() ? 1 : t.f32_lanes(); }

/// The ONNX inputs of a command (`kcc compile model.onnx` = `kcc import` + `kcc compile`),
/// imported into a private temporary folder (the .ir and its weights) that lives as long as the
/// command. The model is named after -o's NAME when it is the only model, else after its file.
class ImportedModels {
 public:
  ImportedModels() = default;
  ImportedModels(const ImportedModels &) = delete;
  ImportedModels &operator=(const ImportedModels &) = delete;
  ~ImportedModels() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  /// o.inputs with each .onnx file replaced by the .ir it imports to.
  std::vector<std::string> resolve(const Options &o) {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    int onnx = 0;
    for (const std::string &in : o.inputs) onnx += fs::path(in).extension() == ".onnx";
    if (onnx == 0 && !o.input_shapes.empty()) throw UsageError("--input-shape applies to ONNX inputs, and none was given");
    for (const std::string &in : o.inputs) {
      if (fs::path(in).extension() != ".onnx") {
        out.push_back(in);
        continue;
      }
#ifdef KCC_HAVE_FRONTEND
      frontend::ModelImportOptions io;
      for (const std::string &pin : o.input_shapes) {
        auto [name, shape] = frontend::parse_input_shape(pin);
        io.onnx.input_shapes[name] = shape;
      }
      std::string stem = onnx == 1 && !o.output.empty() && o.emit == Emit::Obj ? fs::path(o.output).stem().string()
                                                                              : fs::path(in).stem().string();
      io.model_name = frontend::model_identifier(stem);
      io.weights_file = io.model_name + ".weights";
      io.channel_block = channel_block_for(target_of(o));
      frontend::LoweredModel m = frontend::import_model(in, io);
      if (dir_.empty()) dir_ = make_dir();
      fs::path ir = dir_ / (io.model_name + ".ir");
      write_files_atomically({{ir.string(), m.ir}, {(dir_ / io.weights_file).string(), m.weights}});
      out.push_back(ir.string());
#else
      throw UsageError(fmt::format("'{}': this kcc was built without the ONNX frontend (KCC_BUILD_FRONTEND=OFF)", in));
#endif
    }
    return out;
  }

 private:
  static std::filesystem::path make_dir() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / "kcc-import-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw UserError(SourceLoc{}, fmt::format("cannot make a temporary folder in '{}': {}", base.string(),
                                               std::strerror(errno)));
    return tmpl;
  }

  std::filesystem::path dir_;
};

/// Reads the input files into one module. A file may hold kernels and schedules (model.ir) or
/// only schedules for kernels of other inputs (read with parse_schedules when parse_module
/// rejects it). A later file's schedule for a kernel replaces an earlier one; a kernel defined
/// twice is an error, and so is a file with neither (empty, only comments, a directory): it is
/// almost surely the wrong file, and would give an empty object.
Module load_inputs(const std::vector<std::string> &paths, bool verbose) {
  Module m;
  std::vector<Schedule> schedules;
  for (const std::string &path : paths) {
    // An ifstream opens a directory and reads nothing: it would compile to an empty module.
    if (std::error_code ec; std::filesystem::is_directory(path, ec))
      throw UserError(SourceLoc{}, fmt::format("cannot read '{}': it is a directory", path));
    std::vector<Schedule> file_schedules;
    std::optional<Module> part;
    try {
      part = parse_module_file(path);
    } catch (const UserError &e) {
      // Only schedules, for kernels of other inputs? Otherwise the module's error stands.
      try {
        file_schedules = parse_schedules(path, read_source_file(path));
      } catch (const UserError &) {
        throw e;
      }
    }
    if (part && part->kernels.empty() && part->schedules.empty())
      throw UserError(SourceLoc{}, fmt::format("'{}' holds no kernel and no schedule; nothing to compile", path));
    if (part) {
      if (!m.file) m.file = part->file;
      for (Kernel &k : part->kernels) {
        if (const Kernel *first = m.find_kernel(k.name))
          throw UserError(k.loc, fmt::format("kernel '{}' is defined twice; first at {}", k.name, where(first->loc)));
        m.kernels.push_back(std::move(k));
      }
      file_schedules = std::move(part->schedules);
      for (ModelDecl &model : part->models) {
        if (const ModelDecl *first = m.find_model(model.name))
          throw UserError(model.loc,
                          fmt::format("model '{}' is defined twice; first at {}", model.name, where(first->loc)));
        if (const Kernel *k = m.find_kernel(model.name))
          throw UserError(model.loc, fmt::format("model '{}' has the name of kernel '{}' at {}; both would be C "
                                                 "functions of one object",
                                                 model.name, k->name, where(k->loc)));
        m.models.push_back(std::move(model));
      }
    }
    for (Schedule &s : file_schedules) {
      bool replaced = false;
      for (Schedule &old : schedules)
        if (old.kernel == s.kernel) {
          if (verbose)
            std::cerr << fmt::format("kcc: the schedule of '{}' at {} replaces the one at {}\n", s.kernel,
                                     where(s.loc), where(old.loc));
          old = s;
          replaced = true;
        }
      if (!replaced) schedules.push_back(std::move(s));
    }
  }
  for (const Schedule &s : schedules) {
    if (m.find_kernel(s.kernel)) continue;
    std::string names;
    for (auto &k : m.kernels) names += (names.empty() ? "" : ", ") + k.name;
    throw UserError(s.loc, fmt::format("schedule for unknown kernel '{}'; kernels: {}", s.kernel,
                                       names.empty() ? "none" : names));
  }
  m.schedules = std::move(schedules);
  return m;
}

/// OUTDIR/NAME from -o, or the input's stem in the current directory.
/// The names of the compiled kernels, in order.
std::vector<std::string> kernel_names(const CompileResult &r) {
  std::vector<std::string> names;
  for (const CompiledKernel &ck : r.kernels) names.push_back(ck.kernel->name);
  return names;
}

std::string output_base(const Options &o) {
  namespace fs = std::filesystem;
  fs::path p = o.output.empty() ? fs::path(o.inputs[0]).stem() : fs::path(o.output);
  if (p.extension() == ".o") p.replace_extension();
  return p.string();
}

/// Standard output is an output like the files: a write error on it (a full disk, a closed
/// pipe when SIGPIPE is ignored) fails the command instead of losing the text silently.
void check_stdout() {
  errno = 0;
  bool failed = std::fflush(stdout) != 0;
  int err = errno;
  if (!failed && !std::ferror(stdout) && std::cout.good()) return;
  throw UserError(SourceLoc{}, fmt::format("cannot write to standard output{}",
                                           err ? std::string(": ") + std::strerror(err) : std::string()));
}

/// Prints (or writes to -o) a text output of --emit.
void emit_text(const Options &o, const std::string &text) {
  if (o.output.empty()) {
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
    check_stdout();
    return;
  }
  write_files_atomically({{o.output, text}});
  if (o.verbose) std::cerr << "kcc: wrote " << o.output << "\n";
}

void print_timings(const std::vector<PassTiming> &timings) {
  // One row per step, summed over kernels, in pipeline order.
  std::vector<std::pair<std::string, double>> rows;
  double total = 0;
  for (auto &t : timings) {
    total += t.seconds;
    bool found = false;
    for (auto &r : rows)
      if (r.first == t.step) {
        r.second += t.seconds;
        found = true;
      }
    if (!found) rows.emplace_back(t.step, t.seconds);
  }
  std::string bar(72, '=');
  std::cerr << bar << "\n" << "  kcc pass execution timing report\n" << bar << "\n";
  std::cerr << fmt::format("  Total: {:.6f} seconds\n\n", total);
  std::cerr << fmt::format("  {:>10}  {:>7}  {}\n", "seconds", "percent", "step");
  for (auto &[step, s] : rows)
    std::cerr << fmt::format("  {:>10.6f}  {:>6.1f}%  {}\n", s, total > 0 ? 100 * s / total : 0.0, step);
  std::cerr << fmt::format("  {:>10.6f}  {:>6.1f}%  total\n", total, 100.0);
}

/// The target of --target/--mcpu/--mattr; an unknown one is a bad flag value (exit 2), not an
/// error in the model.
Target target_of(const Options &o) {
  try {
    Target t = make_target(o.target, o.mcpu, o.mattr);
    t.options.llvm_unroll = o.llvm_unroll;
    return t;
  } catch (const UserError &e) {
    throw UsageError(e.message());
  }
}

void print_usage() { std::cout << kUsage << "\ntuning options (compile and tune):\n" << tuner::tune_flags_help(); }

/// The tuning flags with each kernel a model calls weighted by its calls (a task runs as often
/// as the model calls it; DESIGN §6 task scheduler), unless --weight names it.
tuner::TuneFlags weighted_by_uses(tuner::TuneFlags f, const Module &m) {
  std::map<std::string, double> uses;
  for (const ModelDecl &model : m.models)
    for (const ModelCall &c : model.calls) uses[c.kernel] += 1;
  for (auto &[kernel, n] : uses) {
    bool given = false;
    for (auto &[name, w] : f.weights) given = given || name == kernel;
    if (!given) f.weights.emplace_back(kernel, n);
  }
  return f;
}

/// `kcc tune`: tunes every kernel of the inputs and records the measurements; writes no files.
int run_tune(const Options &o) {
  if (o.tune.budget <= 0) throw UsageError("'kcc tune' needs --budget N with N > 0 measurements");
  ImportedModels imported;
  Module m = load_inputs(imported.resolve(o), o.verbose);
  Target target = target_of(o);
  try {
    return tuner::run_tune(weighted_by_uses(o.tune, m), m, target, KCC_VERSION, std::cout, &std::cerr, isatty(2));
  } catch (const tuner::DatabaseError &e) {
    throw UserError(SourceLoc{}, e.what());
  }
}

/// `kcc report`: an HTML page about the tuning of the inputs' kernels on the target.
int run_report(const Options &o) {
  ImportedModels imported;
  Module m = load_inputs(imported.resolve(o), o.verbose);
  std::string path = o.tune.db.empty() ? tuner::Database::default_path() : o.tune.db;
  tuner::ReportOptions options;
  for (const std::string &in : o.inputs) options.title += (options.title.empty() ? "" : " ") + in;
  options.weights = weighted_by_uses(o.tune, m).weights;
  options.remeasure_peak = o.remeasure_peak;
  std::string html;
  try {
    tuner::Database db(path);
    html = tuner::report_html(db, m.kernels, target_of(o), options);
  } catch (const tuner::DatabaseError &e) {
    throw UserError(SourceLoc{}, e.what());
  }
  if (o.output.empty()) {
    std::cout << html;
    check_stdout();
  } else {
    write_files_atomically({{o.output, html}});
    if (o.verbose) std::cerr << "kcc: wrote " << o.output << "\n";
  }
  return 0;
}

int run_compile(const Options &o) {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  std::vector<PipelineStep> print_after = steps_named(o.print_after);
  ImportedModels imported;
  Module m = load_inputs(imported.resolve(o), o.verbose);
  double parse_seconds = std::chrono::duration<double>(clock::now() - t0).count();

  if (o.emit == Emit::Ast) {
    emit_text(o, to_string(m));
    return 0;
  }
  if (o.emit == Emit::Memory) {
    std::string text;
    for (const ModelDecl &model : m.models) text += (text.empty() ? "" : "\n") + to_string(plan_memory(model), model);
    if (m.models.empty()) text = "no model: nothing to plan\n";
    emit_text(o, text);
    return 0;
  }
  if (o.emit == Emit::Ir) {
    std::string text;
    for (const Kernel &k : m.kernels) text += (text.empty() ? "" : "\n") + to_string(k);
    emit_text(o, text);
    return 0;
  }

  Target target = target_of(o);
  // The object's name, and its kernels' C symbols: NAME_K when it holds a model.
  std::string name = std::filesystem::path(output_base(o)).filename().string();
  std::string symbol_prefix = kernel_symbol_prefix(name, m);

  // The sources of schedules; the pipeline asks them in its one order (pipeline.h,
  // ScheduleSources): a registry alone, else the database and the tuner.
  CompileOptions opts;
  opts.target = target;
  opts.print_after = print_after;
  opts.time_passes = o.time_passes;
  std::unique_ptr<RegistryProvider> registry;
  tuner::TuningSetup tuning;
  if (!o.registry.empty()) {
    registry = std::make_unique<RegistryProvider>(read_registry_file(o.registry), o.registry_strict);
    opts.schedules.registry = registry.get();
  } else {
    try {
      tuning = tuner::make_tuning_setup(weighted_by_uses(o.tune, m), target, KCC_VERSION, &std::cerr, isatty(2));
    } catch (const tuner::DatabaseError &e) {
      throw UserError(SourceLoc{}, e.what());
    }
    opts.schedules.database = tuning.database.get();
    opts.schedules.tuner = tuning.tuner.get();
  }
  opts.external_weights = o.external_weights;
  std::ostringstream captured;
  if (o.emit == Emit::Scheduled) {
    bool listed = false;
    for (PipelineStep s : opts.print_after) listed = listed || s == kScheduledLoopsStep;
    if (!listed) opts.print_after.push_back(kScheduledLoopsStep);
  }
  std::ostream &dump = o.emit == Emit::Scheduled ? static_cast<std::ostream &>(captured) : std::cerr;
  CompileResult r = [&] {
    try {  // tuning records its measurements as it goes
      return compile_module(m, opts, dump);
    } catch (const tuner::DatabaseError &e) {
      throw UserError(SourceLoc{}, e.what());
    }
  }();
  if (registry)
    if (std::string note = registry->borrowed_note(target); !note.empty()) std::cerr << note << "\n";
  if (tuning.database)
    if (std::string note = tuning.database->other_threads_note(); !note.empty()) std::cerr << note << "\n";

  if (o.verbose) {
    std::cerr << fmt::format("kcc: target {}, key {}\n", target.description(), target.key());
    for (const CompiledKernel &ck : r.kernels)
      std::cerr << fmt::format("kcc: kernel {}: schedule from {}{}, workload key {}\n", ck.kernel->name,
                               to_string(ck.chosen.source),
                               ck.chosen.threads > 0 ? fmt::format(" (measured on {} threads)", ck.chosen.threads) : "",
                               workload_key(*ck.kernel));
  }

  auto t1 = clock::now();
  switch (o.emit) {
    case Emit::Ast:
    case Emit::Ir:
    case Emit::Memory: break;  // handled above, before compiling
    case Emit::Scheduled: {
      std::string text;
      for (const CompiledKernel &ck : r.kernels)
        text += fmt::format("# kernel {}: schedule from {}\n{}\n", ck.kernel->name, to_string(ck.chosen.source),
                            to_string(ck.chosen.schedule));
      emit_text(o, text + captured.str());
      break;
    }
    case Emit::Lowered: {
      std::string text;
      for (const CompiledKernel &ck : r.kernels) text += (text.empty() ? "" : "\n") + to_string(ck.func);
      emit_text(o, text);
      break;
    }
    case Emit::Llvm:
      prefix_kernel_symbols(r.code, kernel_names(r), symbol_prefix);
      r.code.optimize();
      emit_text(o, r.code.llvm_ir());
      break;
    case Emit::Asm:
      prefix_kernel_symbols(r.code, kernel_names(r), symbol_prefix);
      r.code.optimize();
      emit_text(o, r.code.assembly());
      break;
    case Emit::Obj: {
      std::string base = output_base(o);
      prefix_kernel_symbols(r.code, kernel_names(r), symbol_prefix);
      r.code.optimize();
      std::vector<std::pair<std::string, std::string>> files = {
          {base + ".o", r.code.object()},
          {base + ".h", generate_header(name, o.inputs[0], r.kernels, target, KCC_VERSION, r.models, symbol_prefix)},
          {base + ".kreg", registry_to_json(make_registry(r.kernels, target, KCC_VERSION))},
      };
      for (const CompiledModel &cm : r.models)
        if (cm.external_weights)
          files.emplace_back(r.models.size() == 1 ? base + ".weights" : base + "." + cm.model->name + ".weights",
                             cm.weights.bytes);
      write_files_atomically(files);
      if (o.verbose)
        for (auto &f : files) std::cerr << "kcc: wrote " << f.first << "\n";
      break;
    }
  }
  if (o.time_passes) {
    std::vector<PassTiming> timings;
    timings.push_back({"parse", parse_seconds});
    for (auto &t : r.timings) timings.push_back(t);
    timings.push_back({"emit", std::chrono::duration<double>(clock::now() - t1).count()});
    print_timings(timings);
  }
  return 0;
}

/// The enabled (+) features of an LLVM feature string, shortened to fit a table column.
std::string enabled_features(const std::string &features) {
  std::string out;
  for (const std::string &f : split_commas(features))
    if (f[0] == '+') out += (out.empty() ? "" : ",") + f.substr(1);
  if (out.size() > 60) out = out.substr(0, out.rfind(',', 56)) + ",...";
  return out.empty() ? "(cpu defaults)" : out;
}

int run_targets() {
  std::cout << fmt::format("{:<15} {:<22} {:<16} {:>6}  {}\n", "target", "triple", "cpu", "vector", "features");
  for (const char *name : kTargetNames) {
    try {
      Target t = make_target(name);
      std::cout << fmt::format("{:<15} {:<22} {:<16} {:>6}  {}\n", name, t.triple, t.cpu, t.vector_bits,
                               enabled_features(t.features));
    } catch (const UserError &) {
      std::cout << fmt::format("{:<15} (not available in this build)\n", name);
    }
  }
  return 0;
}

/// `kcc import MODEL.onnx [-o OUT.ir] [--input-shape NAME=DIMS ...]`: OUT.ir (default MODEL.ir
/// beside the model) and OUT.weights beside it, written together or not at all.
int run_import(const std::vector<std::string> &args) {
#ifdef KCC_HAVE_FRONTEND
  std::string model, out;
  frontend::ModelImportOptions o;
  int64_t block = 0, target_block = 1;  // --channel-block wins over --target
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    auto value = [&]() -> const std::string & {
      if (i + 1 >= args.size()) throw UsageError(fmt::format("option '{}' needs a value", a));
      return args[++i];
    };
    if (a == "-o") {
      out = value();
    } else if (a == "--input-shape") {
      auto [name, shape] = frontend::parse_input_shape(value());
      o.onnx.input_shapes[name] = shape;
    } else if (a == "--channel-block") {
      const std::string &v = value();
      char *end = nullptr;
      long b = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || b < 1 || b > 64)
        throw UsageError(fmt::format("--channel-block wants a number from 1 to 64 (got '{}')", v));
      block = b;
    } else if (a == "--target") {
      Options to;
      to.target = value();
      target_block = channel_block_for(target_of(to));
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError(fmt::format("unknown option '{}' for 'kcc import'", a));
    } else if (model.empty()) {
      model = a;
    } else {
      throw UsageError(fmt::format("'kcc import' takes one model (got '{}' and '{}')", model, a));
    }
  }
  if (model.empty()) throw UsageError("'kcc import' needs a model file");
  if (out.empty()) out = std::filesystem::path(model).replace_extension(".ir").string();
  std::filesystem::path op(out);
  std::string stem = op.stem().string();
  o.model_name = stem;
  o.weights_file = stem + ".weights";
  o.channel_block = block ? block : target_block;
  frontend::LoweredModel m = frontend::import_model(model, o);
  std::string weights = (op.parent_path() / o.weights_file).string();
  write_files_atomically({{out, m.ir}, {weights, m.weights}});
  return 0;
#else
  (void)args;
  throw UsageError("this kcc was built without the ONNX frontend (KCC_BUILD_FRONTEND=OFF)");
#endif
}

int run(const std::vector<std::string> &args) {
  if (args.empty()) throw UsageError("no command");
  const std::string &cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    print_usage();
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "kcc " << KCC_VERSION << "\n";
    return 0;
  }
  if (cmd == "targets") {
    if (args.size() > 1) throw UsageError(fmt::format("'kcc targets' takes no arguments (got '{}')", args[1]));
    return run_targets();
  }
  if (cmd == "import") {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    for (auto &a : rest)
      if (a == "--help" || a == "-h") {
        print_usage();
        return 0;
      }
    return run_import(rest);
  }
  if (cmd == "compile" || cmd == "tune" || cmd == "report") {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    for (auto &a : rest)
      if (a == "--help" || a == "-h") {
        print_usage();
        return 0;
      }
    Options o = parse_compile_args(rest);
    if (cmd == "tune") return run_tune(o);
    if (cmd == "report") return run_report(o);
    return run_compile(o);
  }
  throw UsageError(fmt::format("unknown command '{}'", cmd));
}

}  // namespace
}  // namespace kcc

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    int status = kcc::run(args);
    kcc::check_stdout();
    return status;
  } catch (const kcc::UsageError &e) {
    std::cerr << "kcc: error: " << e.what() << "\n" << "run 'kcc --help' for usage\n";
    return 2;
  } catch (const kcc::UserError &e) {
    std::cout.flush();
    std::cerr << e.what() << "\n";
    return 1;
  } catch (const kcc::InternalError &e) {
    std::string what = e.what();
    const std::string prefix = "kcc internal error ";  // as kcc::internal_error spells it
    if (what.compare(0, prefix.size(), prefix) == 0) what = what.substr(prefix.size());
    std::cerr << "kcc: internal error: " << what << "\n";
    return 3;
  } catch (const std::exception &e) {
    std::cerr << "kcc: internal error: " << e.what() << "\n";
    return 3;
  } catch (...) {
    std::cerr << "kcc: internal error: unknown exception\n";
    return 3;
  }
}
