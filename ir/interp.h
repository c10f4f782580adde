// ir/interp.h - the reference interpreter: evaluates a kernel directly from its definition.
//
// Slow and obviously right: every stage is evaluated point by point in index order, in
// float64 (default) or in the declared element type. Every correctness test compares with it.
#pragma once
#include <vector>

#include "ir/kernel.h"

namespace kcc {

enum class InterpPrecision { F64, Declared };

/// `inputs[i]` holds kernel.inputs[i] in row-major order (size = num_elements).
/// Returns the outputs, in kernel.outputs order. Throws UserError on a size mismatch and
/// InternalError if the kernel reads outside a tensor (the checker should have caught it).
std::vector<std::vector<double>> interpret(const Kernel &k, const std::vector<std::vector<float>> &inputs,
                                           InterpPrecision p = InterpPrecision::F64);
/// interpret() with inputs as doubles, so that integer inputs beyond float's 24-bit mantissa (i32,
/// i64 up to 2^53) arrive exactly; integer values are wrapped to their type as stored.
std::vector<std::vector<double>> interpret_doubles(const Kernel &k, const std::vector<std::vector<double>> &inputs,
                                                   InterpPrecision p = InterpPrecision::F64);

/// Runs model `model` of module `m`: its calls in order, each through interpret_doubles() (with
/// precision `p`), each call's results feeding the calls after it. `inputs[i]` holds
/// model.inputs[i] and `weights[i]` model.weights[i], row-major (read_model_weights gives them).
/// Returns the outputs, in model.outputs order. UserError on a size mismatch.
std::vector<std::vector<double>> interpret_model(const Module &m, const ModelDecl &model,
                                                 const std::vector<std::vector<double>> &inputs,
                                                 const std::vector<std::vector<double>> &weights,
                                                 InterpPrecision p = InterpPrecision::F64);

/// Random inputs for `k`, uniform in [-1, 1] (mt19937 seeded with `seed`), one row-major vector
/// per kernel input: the data compiled kernels are checked against interpret() on.
std::vector<std::vector<float>> random_inputs(const Kernel &k, unsigned seed);

}  // namespace kcc
