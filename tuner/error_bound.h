// tuner/error_bound.h - how far a correct evaluation of a kernel in its declared types may be
// from the exact result: the tolerance of the tuner's output check (DESIGN §6 "Measurement").
//
// The reference is the float64 interpretation of the kernel (interpret(), InterpPrecision::F64);
// next to each value this computes a bound on the rounding error of any correct evaluation in
// the declared element types (f32: unit roundoff u = 2^-24), propagated through the stages:
//   input, integer                0 (inputs are given exactly; integer arithmetic is exact)
//   constant, conversion, store   u|v| when the value is rounded to a narrower type
//   a + b, a - b                  e_a + e_b + u|v|
//   a * b                         |a| e_b + |b| e_a + e_a e_b + u|v|
//   a / b                         (e_a + |v| e_b) / (|b| - e_b) + u|v|     (inf if |b| <= e_b)
//   min, max, abs, max-/min-reduction   the largest operand bound (1-Lipschitz)
//   f(a) (exp, log, tanh, ...)    max |f(a +- e_a) - f(a)| (monotonic functions: exact over the
//                                 interval) + the code generator's approximation error of f + u|v|
//   select                        the chosen side's bound, or max(e_t, e_f) + |t - f| when the
//                                 condition compares floats closer than their bounds
//   sum over n terms              sum e_i + gamma(n - 1) sum |x_i|, gamma(m) = m u / (1 - m u):
//                                 Higham's bound for *any* summation order (tiling, vector lanes,
//                                 rfactor, FMA contraction all stay inside it)
//   product over n terms          the product rule applied term by term, plus gamma(n - 1) |v|
// First order in u (products of two bounds kept where cheap); the check allows
// kBoundSafetyFactor times the bound. A result the bound calls undefined (inf or NaN: a log or
// division whose operand interval reaches zero) accepts any value.
#pragma once
#include <vector>

#include "ir/kernel.h"

namespace kcc::tuner {

/// The float64 outputs of a kernel and each element's rounding-error bound.
struct BoundedReference {
  std::vector<std::vector<double>> values;  ///< equal to interpret(k, inputs) (F64)
  std::vector<std::vector<double>> bounds;  ///< per element, >= 0 (inf: any value is right)
};

/// The check allows |got - value| <= kBoundSafetyFactor * bound + kBoundFloor: the factor covers
/// the second-order terms the analysis drops; the floor, results in the denormal range (flushed
/// to zero by some targets).
inline constexpr double kBoundSafetyFactor = 2.0;
inline constexpr double kBoundFloor = 1e-37;

/// Evaluates `k` on `inputs` (row-major, in kernel.inputs order) in float64 with error bounds.
/// Throws like interpret() on a size mismatch.
BoundedReference bounded_reference(const Kernel &k, const std::vector<std::vector<float>> &inputs);

/// The tolerance of one element: kBoundSafetyFactor * bound + kBoundFloor.
double tolerance_of(double bound);

/// True when `got` is a right result for the reference `want` with rounding bound `bound`.
bool within_bound(double got, double want, double bound);

}  // namespace kcc::tuner
