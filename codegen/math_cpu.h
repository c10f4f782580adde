// codegen/math_cpu.h - private to codegen/: math functions (ir/expr.h MathFn) as LLVM IR.
#pragma once
#include <vector>

#include "ir/expr.h"
#include "llvm/IR/IRBuilder.h"

namespace kcc {

/// Emits MathFn calls on f32/f64 scalars or fixed vectors.
///  * f32 exp, log, tanh, sigmoid and erf are inline code that vectorizes (no libm call per lane):
///    exp: Cephes-style range reduction + degree-6 polynomial, relative error < 3e-7 on
///    [-87, 88], exact 0 below -104 and inf above 89, NaN kept; tanh: odd polynomial below
///    |x| = 0.625, 1 - 2/(exp(2|x|)+1) above, relative error < 1e-6; sigmoid = 1/(1+exp(-x));
///    erf: Taylor below |x| = 0.5, Abramowitz-Stegun 7.1.26 above, absolute error < 5e-7;
///    log: Cephes-style mantissa polynomial, error < 2e-7 relative (or 1e-7 absolute near 1),
///    denormals, 0, inf, negatives and NaN handled.
///  * sqrt, fabs, floor, ceil are LLVM intrinsics (single instructions); pow is an LLVM
///    intrinsic too (a libm call per lane after LLVM scalarizes it); f64 uses intrinsics and
///    libm (tanh, erf per lane) throughout.
class MathEmitter {
 public:
  using Builder = llvm::IRBuilder<>;
  MathEmitter(llvm::Module &m, Builder &b) : mod_(m), b_(b) {}
  llvm::Value *emit(MathFn fn, const std::vector<llvm::Value *> &args);

 private:
  llvm::Value *exp_f32(llvm::Value *x);
  llvm::Value *tanh_f32(llvm::Value *x);
  llvm::Value *erf_f32(llvm::Value *x);
  llvm::Value *log_f32(llvm::Value *x);
  llvm::Value *libm_call(const char *f32_name, const char *f64_name, llvm::Value *x);
  llvm::Value *constant(llvm::Type *like, double v);

  llvm::Module &mod_;
  Builder &b_;
};

}  // namespace kcc
