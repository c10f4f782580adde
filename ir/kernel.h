// ir/kernel.h - kernels: tensors and the stages that define them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/diag.h"
#include "ir/expr.h"
#include "ir/schedule.h"

namespace kcc {

enum class TensorRole : uint8_t { Input, Output, Intermediate };
const char *to_string(TensorRole r);

/// A dense row-major tensor with a static shape.
struct TensorDecl {
  std::string name;
  ScalarKind elem = ScalarKind::F32;
  std::vector<int64_t> shape;
  TensorRole role = TensorRole::Input;
  SourceLoc loc;
  int64_t num_elements() const;
};

enum class ReduceOp : uint8_t { None, Sum, Max, Min, Prod };
const char *to_string(ReduceOp op);  ///< "sum", "max", ...; "" for None
/// The identity of the reduction in the scalar type of `t`: 0 for sum, 1 for prod (and None);
/// for max the lowest and for min the highest value of the type: -inf/+inf for floats,
/// INT32_MIN/INT32_MAX, INT64_MIN/INT64_MAX, ... for integers (exactly, never through a double),
/// false/true for bool.
Expr reduce_identity(ReduceOp op, Type t);
/// reduce_identity() as a double (for evaluators that compute in float64): exact for every i8
/// and i32 value and INT64_MIN; INT64_MAX becomes 2^63, which converts back saturated.
double reduce_identity_value(ReduceOp op, ScalarKind k);

/// An index variable of a stage with its range [0, extent).
struct Axis {
  Var var;
  int64_t extent = 0;
};

/// One statement of a kernel: output[axes...] = body, or, with a reduction,
/// output[axes...] = reduce over raxes of body (combined in the order of the raxes, innermost last).
struct Stage {
  Tensor output;
  std::vector<Axis> axes;    ///< one per dimension of output, in order
  std::vector<Axis> raxes;   ///< reduction axes, empty when reduce == None
  ReduceOp reduce = ReduceOp::None;
  Expr body;                 ///< uses Access to inputs and earlier stages, Vars of axes/raxes
  SourceLoc loc;

  const std::string &name() const;
  /// The axis (spatial or reduction) named `n`, or null.
  const Axis *find_axis(const std::string &n) const;
};

struct Kernel {
  std::string name;
  std::vector<Tensor> inputs;   ///< arguments, in order
  std::vector<Tensor> outputs;  ///< results, in order (each defined by exactly one stage)
  std::vector<Stage> stages;    ///< in definition order; a stage reads only inputs and earlier stages
  SourceLoc loc;
  /// Indices of the inputs that every call of the kernel in the file's models passes a model
  /// weight (ascending; empty for a kernel no model calls). A weight is read once per inference,
  /// long after its last use, so it comes from memory: the tuner times such a kernel with these
  /// inputs evicted from the cache (tuner/measure.h), and they are part of its workload key.
  std::vector<int> weight_inputs;

  const Stage *find_stage(const std::string &n) const;
  Tensor find_tensor(const std::string &n) const;  ///< inputs, outputs and intermediates
  /// True when `st` defines one of the kernel's outputs.
  bool is_output(const Stage &st) const;
  /// Floating-point operations of one evaluation (a multiply-add counts 2).
  double flops() const;
};

/// A tensor of a model (docs/language.md, Models): an input, an output, a weight or the result
/// of a call, with a static shape (rank 0 allowed).
struct ModelTensor {
  std::string name;
  ScalarKind elem = ScalarKind::F32;
  std::vector<int64_t> shape;
  SourceLoc loc;  ///< where it is declared or first assigned
  int64_t num_elements() const;
};

/// `NAME: f32[...] = weight at OFFSET`: a constant read from the model's weights file, row-major
/// and little-endian, starting OFFSET bytes into the file (a multiple of 64).
struct ModelWeight {
  ModelTensor tensor;
  int64_t offset = 0;
  int64_t bytes() const;  ///< num_elements x the element's size
};

/// `r0, r1 = KERNEL(a0, a1, ...)`: one evaluation of a kernel of the module; the arguments are
/// tensors of the model (matching the kernel's inputs in type), the results name its outputs.
struct ModelCall {
  std::string kernel;
  std::vector<std::string> args;
  std::vector<std::string> results;
  SourceLoc loc;  ///< the kernel's name
};

/// `model NAME(inputs) -> outputs { weights "FILE"; weight declarations; calls }`: a whole
/// network as a sequence of kernel calls on named tensors. Every tensor is assigned once, read
/// only after it is defined; every output is the result of a call.
struct ModelDecl {
  std::string name;
  SourceLoc loc;
  std::vector<ModelTensor> inputs, outputs;
  std::string weights_file;  ///< as written: a path relative to the .ir file; empty without weights
  std::vector<ModelWeight> weights;  ///< in declaration order
  std::vector<ModelCall> calls;      ///< in order
  std::vector<ModelTensor> values;   ///< call results that are not outputs, in order of definition

  /// Any tensor of the model by name (input, output, weight or value), or null.
  const ModelTensor *find_tensor(const std::string &n) const;
};

/// A parsed and checked model.ir file.
struct Module {
  SourceFileRef file;
  std::vector<Kernel> kernels;
  std::vector<ModelDecl> models;    ///< checked against the kernels; compiled to entry points
  std::vector<Schedule> schedules;  ///< hand-written schedules, by kernel name

  const Kernel *find_kernel(const std::string &n) const;
  const ModelDecl *find_model(const std::string &n) const;
  const Schedule *find_schedule(const std::string &kernel) const;
};

}  // namespace kcc
