// codegen/math_cpu.cpp - math functions for the CPU generator.
//
// The f32 exp and tanh are inline polynomials so that vector code stays vector code (LLVM has
// no vector libm here and would otherwise call expf once per lane). Constants are Cephes'
// (expf.c, tanhf.c, public domain; algorithm re-derived, not copied).
#include "codegen/math_cpu.h"

#include <limits>

#include "ir/diag.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"

namespace kcc {

llvm::Value *MathEmitter::constant(llvm::Type *like, double v) {
  return llvm::ConstantFP::get(like, v);  // splats for vector types
}

/// exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 (two-part ln 2), exp(r) by a
/// degree-6 polynomial on |r| <= ln2/2; 2^n applied in two halves so that results down to
/// the denormals and up to overflow come out right.
llvm::Value *MathEmitter::exp_f32(llvm::Value *x) {
  llvm::Type *ft = x->getType();
  llvm::Type *it = ft->isVectorTy()
                       ? static_cast<llvm::Type *>(llvm::VectorType::get(
                             b_.getInt32Ty(), llvm::cast<llvm::VectorType>(ft)->getElementCount()))
                       : b_.getInt32Ty();
  llvm::Value *xc = b_.CreateMinNum(b_.CreateMaxNum(x, constant(ft, -104.0)), constant(ft, 89.0));
  llvm::Value *n = b_.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven,
                                           b_.CreateFMul(xc, constant(ft, 1.44269504088896341)));
  auto fma = [&](llvm::Value *a, llvm::Value *b, llvm::Value *c) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fma, {ft}, {a, b, c});
  };
  llvm::Value *r = fma(n, constant(ft, -0.693359375), xc);
  r = fma(n, constant(ft, 2.12194440e-4), r);
  llvm::Value *p = constant(ft, 1.9875691500E-4);
  p = fma(p, r, constant(ft, 1.3981999507E-3));
  p = fma(p, r, constant(ft, 8.3334519073E-3));
  p = fma(p, r, constant(ft, 4.1665795894E-2));
  p = fma(p, r, constant(ft, 1.6666665459E-1));
  p = fma(p, r, constant(ft, 5.0000001201E-1));
  llvm::Value *r2 = b_.CreateFMul(r, r);
  llvm::Value *y = fma(p, r2, b_.CreateFAdd(r, constant(ft, 1.0)));
  // 2^n = 2^n1 * 2^n2 with n1 = n >> 1: each factor stays a normal float for n in [-150, 128]
  llvm::Value *ni = b_.CreateFPToSI(n, it);
  llvm::Value *n1 = b_.CreateAShr(ni, llvm::ConstantInt::get(it, 1));
  llvm::Value *n2 = b_.CreateSub(ni, n1);
  auto pow2 = [&](llvm::Value *k) {
    llvm::Value *bits = b_.CreateShl(b_.CreateAdd(k, llvm::ConstantInt::get(it, 127)), llvm::ConstantInt::get(it, 23));
    return b_.CreateBitCast(bits, ft);
  };
  llvm::Value *res = b_.CreateFMul(b_.CreateFMul(y, pow2(n1)), pow2(n2));
  return b_.CreateSelect(b_.CreateFCmpUNO(x, x), x, res);  // NaN in, NaN out
}

/// tanh: odd polynomial for |x| < 0.625, else sign(x) * (1 - 2 / (exp(2|x|) + 1)).
llvm::Value *MathEmitter::tanh_f32(llvm::Value *x) {
  llvm::Type *ft = x->getType();
  llvm::Value *ax = b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value *e = exp_f32(b_.CreateFMul(ax, constant(ft, 2.0)));
  llvm::Value *big = b_.CreateFSub(constant(ft, 1.0), b_.CreateFDiv(constant(ft, 2.0), b_.CreateFAdd(e, constant(ft, 1.0))));
  big = b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, big, x);
  llvm::Value *s = b_.CreateFMul(x, x);
  llvm::Value *p = constant(ft, -5.70498872745E-3);
  auto fma = [&](llvm::Value *a, llvm::Value *b, llvm::Value *c) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fma, {ft}, {a, b, c});
  };
  p = fma(p, s, constant(ft, 2.06390887954E-2));
  p = fma(p, s, constant(ft, -5.37397155531E-2));
  p = fma(p, s, constant(ft, 1.33314422036E-1));
  p = fma(p, s, constant(ft, -3.33332819422E-1));
  llvm::Value *small = fma(b_.CreateFMul(p, s), x, x);
  return b_.CreateSelect(b_.CreateFCmpOLT(ax, constant(ft, 0.625)), small, big);
}

/// erf: odd Taylor polynomial (6 terms) for |x| < 0.5; above, Abramowitz & Stegun 7.1.26,
/// erf(x) = 1 - t (a1 + t (a2 + ... a5 t)) exp(-x^2), t = 1 / (1 + p |x|), whose absolute error
/// is below 1.5e-7; with the rounding of the f32 evaluation, below 5e-7 overall.
llvm::Value *MathEmitter::erf_f32(llvm::Value *x) {
  llvm::Type *ft = x->getType();
  auto fma = [&](llvm::Value *a, llvm::Value *b, llvm::Value *c) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fma, {ft}, {a, b, c});
  };
  const double two_over_sqrt_pi = 1.12837916709551257390;
  llvm::Value *x2 = b_.CreateFMul(x, x);
  const double taylor[] = {1.0, -1.0 / 3, 1.0 / 10, -1.0 / 42, 1.0 / 216, -1.0 / 1320};
  llvm::Value *p = constant(ft, taylor[5] * two_over_sqrt_pi);
  for (int k = 4; k >= 0; --k) p = fma(p, x2, constant(ft, taylor[k] * two_over_sqrt_pi));
  llvm::Value *small = b_.CreateFMul(p, x);

  llvm::Value *ax = b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
  llvm::Value *t = b_.CreateFDiv(constant(ft, 1.0), fma(ax, constant(ft, 0.3275911), constant(ft, 1.0)));
  llvm::Value *q = constant(ft, 1.061405429);
  q = fma(q, t, constant(ft, -1.453152027));
  q = fma(q, t, constant(ft, 1.421413741));
  q = fma(q, t, constant(ft, -0.284496736));
  q = fma(q, t, constant(ft, 0.254829592));
  q = b_.CreateFMul(q, t);
  llvm::Value *e = exp_f32(b_.CreateFNeg(x2));
  llvm::Value *big = fma(b_.CreateFNeg(q), e, constant(ft, 1.0));
  big = b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, big, x);
  return b_.CreateSelect(b_.CreateFCmpOLT(ax, constant(ft, 0.5)), small, big);
}

/// log: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by Cephes' degree-9 polynomial on
/// m - 1, e ln2 added in two parts. Denormal inputs are scaled by 2^23 first; x < 0 and NaN give
/// NaN, 0 gives -inf, inf gives inf.
llvm::Value *MathEmitter::log_f32(llvm::Value *x) {
  llvm::Type *ft = x->getType();
  llvm::Type *it = ft->isVectorTy()
                       ? static_cast<llvm::Type *>(llvm::VectorType::get(
                             b_.getInt32Ty(), llvm::cast<llvm::VectorType>(ft)->getElementCount()))
                       : b_.getInt32Ty();
  auto fma = [&](llvm::Value *a, llvm::Value *b, llvm::Value *c) {
    return b_.CreateIntrinsic(llvm::Intrinsic::fma, {ft}, {a, b, c});
  };
  auto ic = [&](int64_t v) { return llvm::ConstantInt::get(it, static_cast<uint64_t>(v), true); };
  llvm::Value *denormal = b_.CreateFCmpOLT(x, constant(ft, 1.17549435e-38));
  llvm::Value *xs = b_.CreateSelect(denormal, b_.CreateFMul(x, constant(ft, 8388608.0)), x);
  llvm::Value *bits = b_.CreateBitCast(xs, it);
  llvm::Value *e = b_.CreateSub(b_.CreateLShr(bits, ic(23)), ic(126));
  e = b_.CreateSub(e, b_.CreateSelect(denormal, ic(23), ic(0)));
  llvm::Value *m = b_.CreateBitCast(b_.CreateOr(b_.CreateAnd(bits, ic(0x007fffff)), ic(0x3f000000)), ft);  // [0.5, 1)
  llvm::Value *lo = b_.CreateFCmpOLT(m, constant(ft, 0.707106781186547524));
  e = b_.CreateSub(e, b_.CreateZExt(lo, it));
  m = b_.CreateFSub(b_.CreateSelect(lo, b_.CreateFAdd(m, m), m), constant(ft, 1.0));
  llvm::Value *ef = b_.CreateSIToFP(e, ft);
  const double c[] = {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
                      -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1};
  llvm::Value *p = constant(ft, c[0]);
  for (int k = 1; k < 9; ++k) p = fma(p, m, constant(ft, c[k]));
  llvm::Value *z = b_.CreateFMul(m, m);
  llvm::Value *y = b_.CreateFMul(b_.CreateFMul(p, m), z);
  y = fma(ef, constant(ft, -2.12194440e-4), y);
  y = fma(z, constant(ft, -0.5), y);
  llvm::Value *r = b_.CreateFAdd(m, y);
  r = fma(ef, constant(ft, 0.693359375), r);
  // special values
  llvm::Value *inf = constant(ft, std::numeric_limits<double>::infinity());
  r = b_.CreateSelect(b_.CreateFCmpOEQ(x, inf), inf, r);
  r = b_.CreateSelect(b_.CreateFCmpOEQ(x, constant(ft, 0.0)), constant(ft, -std::numeric_limits<double>::infinity()), r);
  return b_.CreateSelect(b_.CreateFCmpULT(x, constant(ft, 0.0)), constant(ft, std::numeric_limits<double>::quiet_NaN()), r);
}

/// A libm function applied lane by lane (declared readnone: these set no errno).
llvm::Value *MathEmitter::libm_call(const char *f32_name, const char *f64_name, llvm::Value *x) {
  llvm::Type *et = x->getType()->getScalarType();
  const char *name = et->isDoubleTy() ? f64_name : f32_name;
  llvm::FunctionCallee callee = mod_.getOrInsertFunction(name, llvm::FunctionType::get(et, {et}, false));
  if (auto *f = llvm::dyn_cast<llvm::Function>(callee.getCallee())) {
    f->addFnAttr(llvm::Attribute::NoUnwind);
    f->addFnAttr(llvm::Attribute::WillReturn);
    f->setDoesNotAccessMemory();
  }
  auto *vt = llvm::dyn_cast<llvm::FixedVectorType>(x->getType());
  if (!vt) return b_.CreateCall(callee, {x});
  llvm::Value *r = llvm::PoisonValue::get(vt);
  for (unsigned i = 0; i < vt->getNumElements(); ++i)
    r = b_.CreateInsertElement(r, b_.CreateCall(callee, {b_.CreateExtractElement(x, i)}), i);
  return r;
}

llvm::Value *MathEmitter::emit(MathFn fn, const std::vector<llvm::Value *> &args) {
  llvm::Value *x = args[0];
  llvm::Type *ft = x->getType();
  bool f32 = ft->getScalarType()->isFloatTy();
  auto intrinsic = [&](llvm::Intrinsic::ID id) { return b_.CreateUnaryIntrinsic(id, x); };
  switch (fn) {
    case MathFn::exp: return f32 ? exp_f32(x) : intrinsic(llvm::Intrinsic::exp);
    case MathFn::log: return f32 ? log_f32(x) : intrinsic(llvm::Intrinsic::log);
    case MathFn::sqrt: return intrinsic(llvm::Intrinsic::sqrt);
    case MathFn::rsqrt: return b_.CreateFDiv(constant(ft, 1.0), intrinsic(llvm::Intrinsic::sqrt));
    case MathFn::tanh: return f32 ? tanh_f32(x) : libm_call("tanhf", "tanh", x);
    case MathFn::sigmoid: {
      llvm::Value *e = f32 ? exp_f32(b_.CreateFNeg(x)) : b_.CreateUnaryIntrinsic(llvm::Intrinsic::exp, b_.CreateFNeg(x));
      return b_.CreateFDiv(constant(ft, 1.0), b_.CreateFAdd(constant(ft, 1.0), e));
    }
    case MathFn::erf: return f32 ? erf_f32(x) : libm_call("erff", "erf", x);
    case MathFn::abs: return intrinsic(llvm::Intrinsic::fabs);
    case MathFn::floor: return intrinsic(llvm::Intrinsic::floor);
    case MathFn::ceil: return intrinsic(llvm::Intrinsic::ceil);
    case MathFn::pow: return b_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, args[1]);
  }
  KCC_INTERNAL(false, "unknown math function");
  return nullptr;
}

}  // namespace kcc
