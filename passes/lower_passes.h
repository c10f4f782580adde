// passes/lower_passes.h - the loop-IR passes of the pipeline after lowering, one function each.
#pragma once
#include <string>
#include <vector>

#include "codegen/target.h"
#include "ir/gpu_launch.h"
#include "ir/stmt.h"
#include "passes/schedule_error.h"

namespace kcc {

/// Splits serial/parallel loops whose body holds tail guards (`if (x*f + i < E)`) into a main
/// part where every guard provably holds and a tail part, so the main body runs without checks.
Stmt partition_loops(const Stmt &s);

/// Turns Vectorized loops into vector code (Ramp/Broadcast, vector loads and stores). A loop
/// that cannot be vectorized (a guard or a loop bound depends on its variable, a store of a
/// vector value to a scalar address, an allocation inside) becomes a serial loop, and the reason
/// is added to `remarks`.
Stmt vectorize_loops(const Stmt &s, std::vector<std::string> *remarks);

/// The same for target `t`. On a vector-length-agnostic target (t.scalable_vectors, aarch64-sve)
/// an innermost Vectorized loop that would vectorize (a straight-line body) stays a Vectorized
/// loop for the code generator, which hands it to LLVM's loop vectorizer as a scalable loop
/// with a predicated tail (docs/decisions.md, "SVE"); every other loop is vectorized as above.
Stmt vectorize_loops(const Stmt &s, const Target &t, std::vector<std::string> *remarks);

/// Replicates the bodies of Unrolled loops (constant extents).
Stmt unroll_loops(const Stmt &s);

/// Moves allocations of constant size out of serial loops to the enclosing parallel loop body or
/// the function's top, so scratch is allocated once instead of once per iteration.
Stmt hoist_allocations(const Stmt &s);

/// Checks the loop IR: every variable bound by an enclosing loop, every buffer an argument or
/// allocated around its use, vector lanes consistent, no Vectorized/Unrolled loops left (except
/// innermost scalable Vectorized loops on a t.scalable_vectors target), loop kinds supported by
/// the target. Throws InternalError naming the problem (a kcc bug).
void verify_lowered(const LoweredFunc &f, const Target &t);

/// GPU targets: splits `f` into launches (the execution model of ir/gpu_launch.h: grid and block
/// sizes, shared-memory layout, barriers reached by every thread; passes/gpu_launch.cpp).
/// Returns false and sets `error` (a sentence naming the loop or buffer) when `f` does not fit
/// the model. No target limits: see plan_gpu_launches.
bool split_gpu_launches(const LoweredFunc &f, GpuLaunchPlan &plan, std::string &error);

/// GPU targets (passes/gpu_verify.cpp): the launch plan of `f`, checked against the target's
/// limits: threads per block, grid size, shared memory per block. Throws ScheduleError
/// (LimitExceeded, IllegalAnnotation) naming the step from `blame` that caused it, so that the
/// tuner discards the candidate before building it and a person sees which step to change.
/// Called once per kernel by the pipeline's verify step, after verify_lowered(), which hands
/// the plan to the code generator in LoweredFunc::gpu.
GpuLaunchPlan plan_gpu_launches(const LoweredFunc &f, const Target &t, const GpuBlame &blame);

}  // namespace kcc
