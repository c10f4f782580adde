// passes/pipeline.cpp - the compile pipeline, one readable list of named steps.
#include "passes/pipeline.h"

#include <fmt/format.h>

#include <chrono>
#include <map>

#include "ir/model.h"
#include "passes/lower_passes.h"
#include "passes/schedule_state.h"
#include "passes/simplify.h"

namespace kcc {

const char *to_string(ScheduleSource s) {
  switch (s) {
    case ScheduleSource::Registry: return "registry";
    case ScheduleSource::Database: return "database";
    case ScheduleSource::Tuned: return "tuned";
    case ScheduleSource::Given: return "given";
    case ScheduleSource::Default: return "default";
  }
  return "?";
}

const char *to_string(PipelineStep s) {
  switch (s) {
#define KCC_STEP_NAME(id, name) \
  case PipelineStep::id: return name;
    KCC_PIPELINE_STEPS(KCC_STEP_NAME)
#undef KCC_STEP_NAME
  }
  return "?";
}

const std::vector<PipelineStep> &pipeline_steps() {
  static const std::vector<PipelineStep> steps = {
#define KCC_STEP_LIST(id, name) PipelineStep::id,
      KCC_PIPELINE_STEPS(KCC_STEP_LIST)
#undef KCC_STEP_LIST
  };
  return steps;
}

std::optional<PipelineStep> step_named(const std::string &name) {
  for (PipelineStep s : pipeline_steps())
    if (name == to_string(s)) return s;
  return std::nullopt;
}

std::string ScheduleProvider::missing_message(const Kernel &k, const Target &t) const {
  return fmt::format("no schedule for kernel '{}' on target '{}'", k.name, t.name);
}

namespace {

/// Runs the steps, timing each when asked (opts.time_passes) and dumping IR after the requested
/// ones.
class StepRunner {
 public:
  StepRunner(const CompileOptions *opts, std::ostream *dump) : opts_(opts), dump_(dump) {}

  template <class F>
  auto run(PipelineStep step, F &&f) {
    if (!opts_ || !opts_->time_passes) return f();
    auto t0 = std::chrono::steady_clock::now();
    auto result = f();
    seconds_[step] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
  }
  bool wants(PipelineStep step) const {
    if (!opts_ || !dump_) return false;
    for (PipelineStep p : opts_->print_after)
      if (p == step) return true;
    return false;
  }
  /// `text` is a callable making the IR text, called only when the step is dumped: printing a
  /// kernel of thousands of stages (or its LLVM module) costs more than some steps.
  template <class F>
  void dump(PipelineStep step, const std::string &what, F &&text) {
    if (wants(step)) *dump_ << "// ---- after " << to_string(step) << ": " << what << "\n" << text() << "\n";
  }
  std::vector<PassTiming> timings() const {
    std::vector<PassTiming> out;
    for (auto &[step, seconds] : seconds_) out.push_back({to_string(step), seconds});
    return out;
  }

 private:
  const CompileOptions *opts_;
  std::ostream *dump_;
  std::map<PipelineStep, double> seconds_;  ///< ordered as the table
};

LoweredFunc lower_with(const Kernel &k, const Schedule &s, const Target &t, StepRunner &steps) {
  ScheduledKernel sk = steps.run(PipelineStep::ApplySchedule, [&] { return apply_schedule(k, s, t); });
  steps.dump(PipelineStep::ApplySchedule, k.name, [&] { return to_string(s); });
  LoweredFunc f = steps.run(PipelineStep::Lower, [&] { return lower_scheduled(sk); });
  steps.dump(PipelineStep::Lower, k.name, [&] { return to_string(f.body); });
  f.body = steps.run(PipelineStep::Simplify, [&] { return simplify(f.body); });
  steps.dump(PipelineStep::Simplify, k.name, [&] { return to_string(f.body); });
  f.body = steps.run(PipelineStep::PartitionLoops, [&] { return partition_loops(f.body); });
  steps.dump(PipelineStep::PartitionLoops, k.name, [&] { return to_string(f.body); });
  std::vector<std::string> remarks;
  f.body = steps.run(PipelineStep::Vectorize, [&] { return vectorize_loops(f.body, t, &remarks); });
  steps.dump(PipelineStep::Vectorize, k.name, [&] { return to_string(f.body); });
  for (auto &r : remarks) steps.dump(PipelineStep::Vectorize, k.name + " remark", [&] { return r; });
  f.body = steps.run(PipelineStep::Unroll, [&] { return unroll_loops(f.body); });
  steps.dump(PipelineStep::Unroll, k.name, [&] { return to_string(f.body); });
  f.body = steps.run(PipelineStep::SimplifyFinal, [&] { return simplify(f.body); });
  steps.dump(PipelineStep::SimplifyFinal, k.name, [&] { return to_string(f.body); });
  f.body = steps.run(PipelineStep::HoistAllocations, [&] { return hoist_allocations(f.body); });
  steps.dump(PipelineStep::HoistAllocations, k.name, [&] { return to_string(f); });
  steps.run(PipelineStep::Verify, [&] {
    verify_lowered(f, t);
    if (t.is_gpu()) f.gpu = std::make_shared<const GpuLaunchPlan>(plan_gpu_launches(f, t, gpu_blame(sk)));
    return 0;
  });
  return f;
}

/// The C names a model's entry points take (codegen.h, add_model_entry).
std::vector<std::string> entry_names(const ModelDecl &model, bool external_weights) {
  std::vector<std::string> names = {model.name, model.name + "_run", model.name + "_workspace_size"};
  if (external_weights) {
    names.push_back(model.name + "_weights_size");
    names.push_back(model.name + "_load_weights");
  }
  return names;
}

std::string line_col(const SourceLoc &l) { return fmt::format("{}:{}", l.line, l.col); }

/// What stops `m`'s models from becoming entry points: a GPU target, an entry point named like
/// a kernel or like another model's entry point (the checker already keeps a model's own name
/// from being a kernel's).
void check_models(const Module &m, const CompileOptions &opts) {
  std::map<std::string, const ModelDecl *> taken;
  for (const ModelDecl &model : m.models) {
    if (opts.target.is_gpu())
      throw UserError(model.loc, fmt::format("model '{}' cannot be compiled for GPU target '{}': model entry points "
                                             "are generated for CPU targets only (compile its kernels without it)",
                                             model.name, opts.target.name));
    for (const std::string &n : entry_names(model, opts.external_weights)) {
      if (const Kernel *k = m.find_kernel(n))
        throw UserError(model.loc, fmt::format("model '{}' needs the C name '{}' for an entry point, but kernel '{}' at "
                                               "{} has it; rename one of them",
                                               model.name, n, k->name, line_col(k->loc)));
      if (auto [it, fresh] = taken.emplace(n, &model); !fresh)
        throw UserError(model.loc, fmt::format("model '{}' needs the C name '{}' for an entry point, but model '{}' at "
                                               "{} has it; rename one of them",
                                               model.name, n, it->second->name, line_col(it->second->loc)));
    }
  }
}

/// The weights file of `model`, beside the file the model was read from.
std::string model_weights_path(const Module &m, const ModelDecl &model) {
  Module home;
  home.file = model.loc.file ? model.loc.file : m.file;
  return weights_path(home, model);
}

/// Where every argument of every call of `cm` points, for add_model_entry.
ModelEntrySpec entry_spec(const CompiledModel &cm) {
  const ModelDecl &model = *cm.model;
  ModelEntrySpec spec;
  spec.name = model.name;
  std::map<std::string, ModelEntrySpec::Buffer> where;
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    spec.input_align.push_back(Type{model.inputs[i].elem, 1}.bytes());
    where[model.inputs[i].name] = {ModelEntrySpec::Place::Input, static_cast<int64_t>(i)};
  }
  for (size_t i = 0; i < model.outputs.size(); ++i) {
    spec.output_align.push_back(Type{model.outputs[i].elem, 1}.bytes());
    where[model.outputs[i].name] = {ModelEntrySpec::Place::Output, static_cast<int64_t>(i)};
  }
  for (size_t i = 0; i < model.weights.size(); ++i)
    where[model.weights[i].tensor.name] = {ModelEntrySpec::Place::Weights, cm.weights.offsets[i]};
  for (const PlannedValue &v : cm.plan.values) where[v.name] = {ModelEntrySpec::Place::Workspace, v.offset};
  for (const ModelCall &call : model.calls) {
    ModelEntrySpec::Call c{call.kernel, {}};
    for (auto *names : {&call.args, &call.results})
      for (const std::string &n : *names) {
        auto it = where.find(n);
        KCC_INTERNAL(it != where.end(), fmt::format("model '{}': tensor '{}' has no place", model.name, n));
        c.args.push_back(it->second);
      }
    spec.calls.push_back(std::move(c));
  }
  spec.workspace_bytes = cm.plan.peak;
  spec.external_weights = cm.external_weights;
  spec.weights_bytes = static_cast<int64_t>(cm.weights.bytes.size());
  spec.weights_fnv1a = cm.weights.fnv1a;
  if (!cm.external_weights) spec.weights = cm.weights.bytes;
  return spec;
}

/// Every kernel's schedule, from opts.schedules in their one order (pipeline.h,
/// ScheduleSources): registry alone; else database, tuning of the kernels still without one
/// (all together: the tuner spreads its budget over them), the .ir's schedule, the default.
std::vector<ChosenSchedule> choose_schedules(const Module &m, const CompileOptions &opts, StepRunner &steps) {
  const ScheduleSources &src = opts.schedules;
  const Target &t = opts.target;
  std::vector<ChosenSchedule> chosen(m.kernels.size());
  std::vector<bool> found(m.kernels.size(), false);
  steps.run(PipelineStep::ChooseSchedule, [&] {
    for (size_t i = 0; i < m.kernels.size(); ++i) {
      const Kernel &k = m.kernels[i];
      if (src.registry) {
        if (!src.registry->provide(k, t, chosen[i])) throw UserError(k.loc, src.registry->missing_message(k, t));
        found[i] = true;
      } else if (src.database) {
        found[i] = src.database->provide(k, t, chosen[i]);
      }
    }
    return 0;
  });
  Module todo;  // the kernels to tune, with their hand schedules as baselines
  todo.file = m.file;
  todo.schedules = m.schedules;
  for (size_t i = 0; i < m.kernels.size(); ++i)
    if (!found[i]) todo.kernels.push_back(m.kernels[i]);
  if (src.tuner && !todo.kernels.empty()) {
    std::map<std::string, ChosenSchedule> tuned =
        steps.run(PipelineStep::Tune, [&] { return src.tuner->tune(todo, t); });
    for (size_t i = 0; i < m.kernels.size(); ++i) {
      auto it = tuned.find(m.kernels[i].name);
      if (found[i] || it == tuned.end()) continue;
      chosen[i] = it->second;
      chosen[i].schedule.kernel = m.kernels[i].name;
      found[i] = true;
      steps.dump(PipelineStep::Tune, m.kernels[i].name, [&] { return to_string(chosen[i].schedule); });
    }
  }
  steps.run(PipelineStep::ChooseSchedule, [&] {
    for (size_t i = 0; i < m.kernels.size(); ++i) {
      if (found[i]) continue;
      const Kernel &k = m.kernels[i];
      if (const Schedule *s = m.find_schedule(k.name)) {
        chosen[i].schedule = *s;
        chosen[i].source = ScheduleSource::Given;
      } else {
        chosen[i].schedule = default_schedule(k, t);
        chosen[i].source = ScheduleSource::Default;
      }
    }
    return 0;
  });
  return chosen;
}

}  // namespace

LoweredFunc lower_kernel(const Kernel &k, const Schedule &s, const Target &t) {
  StepRunner steps(nullptr, nullptr);
  return lower_with(k, s, t, steps);
}

CompileResult compile_module(const Module &m, const CompileOptions &opts, std::ostream &dump) {
  StepRunner steps(&opts, &dump);
  check_models(m, opts);
  std::vector<ChosenSchedule> chosen = choose_schedules(m, opts, steps);
  std::vector<CompiledKernel> kernels;
  std::vector<LoweredFunc> funcs;
  for (size_t i = 0; i < m.kernels.size(); ++i) {
    const Kernel &k = m.kernels[i];
    CompiledKernel ck;
    ck.kernel = &k;
    ck.chosen = std::move(chosen[i]);
    steps.dump(PipelineStep::ChooseSchedule, k.name + " (" + to_string(ck.chosen.source) + ")",
               [&] { return to_string(ck.chosen.schedule); });
    ck.func = lower_with(k, ck.chosen.schedule, opts.target, steps);
    funcs.push_back(ck.func);
    kernels.push_back(std::move(ck));
  }
  std::vector<CompiledModel> models;
  for (const ModelDecl &model : m.models) {
    CompiledModel cm;
    cm.model = &model;
    cm.external_weights = opts.external_weights;
    cm.plan = steps.run(PipelineStep::PlanMemory, [&] { return plan_memory(model); });
    cm.weights = steps.run(PipelineStep::PlanMemory, [&] { return pack_weights(model, model_weights_path(m, model)); });
    steps.dump(PipelineStep::PlanMemory, model.name, [&] { return to_string(cm.plan, model); });
    models.push_back(std::move(cm));
  }
  CompiledModule code = steps.run(PipelineStep::Codegen, [&] { return generate_code(funcs, opts.target, m.file ? m.file->path : "kcc"); });
  steps.dump(PipelineStep::Codegen, "module", [&] { return code.llvm_ir(); });
  for (const CompiledModel &cm : models) {
    steps.run(PipelineStep::ModelEntry, [&] {
      add_model_entry(code, entry_spec(cm));
      return 0;
    });
  }
  if (!models.empty()) steps.dump(PipelineStep::ModelEntry, "module", [&] { return code.llvm_ir(); });
  steps.run(PipelineStep::Optimize, [&] {
    code.optimize();
    return 0;
  });
  steps.dump(PipelineStep::Optimize, "module", [&] { return code.llvm_ir(); });
  return CompileResult{std::move(kernels), std::move(models), std::move(code), steps.timings()};
}

}  // namespace kcc
