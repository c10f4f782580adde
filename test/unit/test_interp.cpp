// Unit tests of the reference interpreter (ir/interp.h). Kernels are built through the IR API.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include <unistd.h>

#include "ir/interp.h"
#include "ir/model.h"
#include "ir/kernel.h"
#include "ir/parser.h"

namespace kcc {
namespace {

Tensor tensor(const std::string &name, std::vector<int64_t> shape, TensorRole role,
              ScalarKind elem = ScalarKind::F32) {
  auto t = std::make_shared<TensorDecl>();
  t->name = name;
  t->elem = elem;
  t->shape = std::move(shape);
  t->role = role;
  return t;
}

Axis axis(const std::string &name, int64_t extent) { return Axis{make_var(name), extent}; }

Stage stage(Tensor out, std::vector<Axis> axes, Expr body, ReduceOp op = ReduceOp::None,
            std::vector<Axis> raxes = {}) {
  Stage s;
  s.output = std::move(out);
  s.axes = std::move(axes);
  s.raxes = std::move(raxes);
  s.reduce = op;
  s.body = std::move(body);
  return s;
}

Expr v(const Axis &a) { return var(a.var); }
Expr i64(int64_t x) { return make_int(x); }
Expr f32(double x) { return make_float(x); }

/// out[i] = f(in[i]) over a 1-D input.
Kernel map1(const std::vector<int64_t> &shape, const std::function<Expr(Expr)> &f) {
  Kernel k;
  k.name = "map";
  Tensor in = tensor("A", shape, TensorRole::Input);
  Tensor out = tensor("B", shape, TensorRole::Output);
  Axis i = axis("i", shape[0]);
  k.inputs = {in};
  k.outputs = {out};
  k.stages.push_back(stage(out, {i}, f(make_access(in, {v(i)}))));
  return k;
}

TEST(Interp, MatmulMatchesHandComputation) {
  // C[i, j] = sum(k) A[i, k] * B[k, j], A 2x3, B 3x2.
  Tensor A = tensor("A", {2, 3}, TensorRole::Input), B = tensor("B", {3, 2}, TensorRole::Input);
  Tensor C = tensor("C", {2, 2}, TensorRole::Output);
  Axis i = axis("i", 2), j = axis("j", 2), kk = axis("k", 3);
  Kernel k;
  k.name = "matmul";
  k.inputs = {A, B};
  k.outputs = {C};
  k.stages.push_back(stage(C, {i, j}, make_access(A, {v(i), v(kk)}) * make_access(B, {v(kk), v(j)}),
                           ReduceOp::Sum, {kk}));
  auto out = interpret(k, {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (std::vector<double>{58, 64, 139, 154}));
}

TEST(Interp, MaxReductionStartsFromMinusInfinity) {
  // M[i] = max(j) A[i, j] with all-negative rows.
  Tensor A = tensor("A", {2, 3}, TensorRole::Input), M = tensor("M", {2}, TensorRole::Output);
  Axis i = axis("i", 2), j = axis("j", 3);
  Kernel k;
  k.name = "rowmax";
  k.inputs = {A};
  k.outputs = {M};
  k.stages.push_back(stage(M, {i}, make_access(A, {v(i), v(j)}), ReduceOp::Max, {j}));
  auto out = interpret(k, {{-5, -2, -9, 3, 7, 1}});
  EXPECT_EQ(out[0], (std::vector<double>{-2, 7}));
}

TEST(Interp, StagesFeedLaterStages) {
  // S[i] = sum(j) A[i, j]; Y[i] = S[i] * 2 + 1 (an intermediate, then an output).
  Tensor A = tensor("A", {2, 2}, TensorRole::Input), S = tensor("S", {2}, TensorRole::Intermediate);
  Tensor Y = tensor("Y", {2}, TensorRole::Output);
  Axis i = axis("i", 2), j = axis("j", 2), i2 = axis("i", 2);
  Kernel k;
  k.name = "two_stages";
  k.inputs = {A};
  k.outputs = {Y};
  k.stages.push_back(stage(S, {i}, make_access(A, {v(i), v(j)}), ReduceOp::Sum, {j}));
  k.stages.push_back(stage(Y, {i2}, make_access(S, {v(i2)}) * f32(2) + f32(1)));
  auto out = interpret(k, {{1, 2, 3, 4}});
  EXPECT_EQ(out[0], (std::vector<double>{7, 15}));
}

TEST(Interp, RankZeroTensorsHoldOneValue) {
  Module m = parse_module("test.ir", R"(
kernel center(X: f32[2, 2], s: f32[]) -> (M: f32[], Y: f32[2, 2]) {
  M[] = sum(i, j) X[i, j] / 4.0
  Y[i, j] = (X[i, j] - M[]) * s[]
})");
  auto out = interpret(m.kernels.at(0), {{1, 2, 3, 6}, {10}});
  EXPECT_EQ(out.at(0), (std::vector<double>{3}));
  EXPECT_EQ(out.at(1), (std::vector<double>{-20, -10, 0, 30}));
}

TEST(Interp, SelectEvaluatesOnlyTheChosenArm) {
  // P[h] = select(h >= 1 and h <= 3, X[h - 1], 0): padding reads X[-1] and X[3] in the other arm.
  Tensor X = tensor("X", {3}, TensorRole::Input), P = tensor("P", {5}, TensorRole::Output);
  Axis h = axis("h", 5);
  Kernel k;
  k.name = "pad";
  k.inputs = {X};
  k.outputs = {P};
  Expr cond = (v(h) >= i64(1)) && (v(h) <= i64(3));
  k.stages.push_back(stage(P, {h}, make_select(cond, make_access(X, {v(h) - i64(1)}), f32(0))));
  auto out = interpret(k, {{4, 5, 6}});
  EXPECT_EQ(out[0], (std::vector<double>{0, 4, 5, 6, 0}));
}

TEST(Interp, OutOfRangeAccessIsAnInternalErrorNamingTheIndex) {
  Tensor X = tensor("X", {3}, TensorRole::Input), Y = tensor("Y", {3}, TensorRole::Output);
  Axis i = axis("i", 3);
  Kernel k;
  k.name = "shift";
  k.inputs = {X};
  k.outputs = {Y};
  k.stages.push_back(stage(Y, {i}, make_access(X, {v(i) + i64(1)})));
  try {
    interpret(k, {{1, 2, 3}});
    FAIL() << "expected an InternalError";
  } catch (const InternalError &e) {
    EXPECT_NE(std::string(e.what()).find("X[3]"), std::string::npos) << e.what();
  }
}

TEST(Interp, IntegerDivisionAndModuloFloorTowardMinusInfinity) {
  // B[i] = f32((i - 4) / 3) and C[i] = f32((i - 4) % 3) for i in [0, 8).
  Tensor A = tensor("A", {1}, TensorRole::Input);
  Tensor B = tensor("B", {8}, TensorRole::Output), C = tensor("C", {8}, TensorRole::Output);
  Axis i = axis("i", 8), i2 = axis("i", 8);
  Kernel k;
  k.name = "divmod";
  k.inputs = {A};
  k.outputs = {B, C};
  k.stages.push_back(stage(B, {i}, make_cast(Type::f32(), (v(i) - i64(4)) / i64(3))));
  k.stages.push_back(stage(C, {i2}, make_cast(Type::f32(), (v(i2) - i64(4)) % i64(3))));
  auto out = interpret(k, {{0}});
  EXPECT_EQ(out[0], (std::vector<double>{-2, -1, -1, -1, 0, 0, 0, 1}));
  EXPECT_EQ(out[1], (std::vector<double>{2, 0, 1, 2, 0, 1, 2, 0}));
}

TEST(Interp, MathFunctions) {
  std::vector<float> x = {0.5f, 2.0f};
  struct Case {
    MathFn fn;
    double (*ref)(double);
  };
  const Case cases[] = {
      {MathFn::exp, [](double a) { return std::exp(a); }},
      {MathFn::log, [](double a) { return std::log(a); }},
      {MathFn::sqrt, [](double a) { return std::sqrt(a); }},
      {MathFn::rsqrt, [](double a) { return 1 / std::sqrt(a); }},
      {MathFn::tanh, [](double a) { return std::tanh(a); }},
      {MathFn::sigmoid, [](double a) { return 1 / (1 + std::exp(-a)); }},
      {MathFn::erf, [](double a) { return std::erf(a); }},
      {MathFn::abs, [](double a) { return std::fabs(a); }},
      {MathFn::floor, [](double a) { return std::floor(a); }},
      {MathFn::ceil, [](double a) { return std::ceil(a); }},
  };
  for (auto &c : cases) {
    auto out = interpret(map1({2}, [&](Expr a) { return make_call(c.fn, {make_unary(UnOp::Neg, a)}); }), {x});
    if (c.fn == MathFn::log || c.fn == MathFn::sqrt || c.fn == MathFn::rsqrt) {
      out = interpret(map1({2}, [&](Expr a) { return make_call(c.fn, {a}); }), {x});
      EXPECT_DOUBLE_EQ(out[0][0], c.ref(0.5)) << to_string(c.fn);
      EXPECT_DOUBLE_EQ(out[0][1], c.ref(2.0)) << to_string(c.fn);
      continue;
    }
    EXPECT_DOUBLE_EQ(out[0][0], c.ref(-0.5)) << to_string(c.fn);
    EXPECT_DOUBLE_EQ(out[0][1], c.ref(-2.0)) << to_string(c.fn);
  }
  auto p = interpret(map1({2}, [](Expr a) { return make_call(MathFn::pow, {a, f32(3)}); }), {x});
  EXPECT_EQ(p[0], (std::vector<double>{0.125, 8}));
}

TEST(Interp, FloatMinMaxIgnoreNaN) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  auto out = interpret(map1({2}, [](Expr a) { return max(a, f32(1)); }), {{nan, 3}});
  EXPECT_EQ(out[0], (std::vector<double>{1, 3}));
}

TEST(Interp, DeclaredPrecisionRoundsToF32) {
  // 1 + 1e-10 is exact enough in f64 but rounds to 1 in f32.
  auto k = map1({1}, [](Expr a) { return a + make_float(1e-10); });
  EXPECT_NE(interpret(k, {{1}}, InterpPrecision::F64)[0][0], 1.0);
  EXPECT_EQ(interpret(k, {{1}}, InterpPrecision::Declared)[0][0], 1.0);
}

TEST(Interp, DeclaredPrecisionRoundsF16Results) {
  // 1 + 2^-12 is not representable in f16 (11 significant bits): it rounds to 1.
  Kernel k;
  k.name = "half";
  Tensor A = tensor("A", {1}, TensorRole::Input, ScalarKind::F16);
  Tensor B = tensor("B", {1}, TensorRole::Output, ScalarKind::F16);
  Axis i = axis("i", 1);
  k.inputs = {A};
  k.outputs = {B};
  k.stages.push_back(stage(B, {i}, make_access(A, {v(i)}) + make_float(std::ldexp(1.0, -12), Type{ScalarKind::F16, 1})));
  EXPECT_EQ(interpret(k, {{1}}, InterpPrecision::Declared)[0][0], 1.0);
  EXPECT_EQ(interpret(k, {{1}}, InterpPrecision::F64)[0][0], 1.0 + std::ldexp(1.0, -12));
}

TEST(Interp, WrongNumberOfInputsIsAUserError) {
  auto k = map1({2}, [](Expr a) { return a; });
  EXPECT_THROW(interpret(k, {}), UserError);
}

TEST(Interp, WrongInputSizeIsAUserErrorNamingTheTensor) {
  auto k = map1({2}, [](Expr a) { return a; });
  try {
    interpret(k, {{1, 2, 3}});
    FAIL() << "expected a UserError";
  } catch (const UserError &e) {
    EXPECT_EQ(e.message(), "input 'A' of kernel 'map' has 3 elements but its shape [2] needs 2");
  }
}

TEST(Interp, ConvWithPaddingStageMatchesDirectLoops) {
  // P = zero-padded X; Y[f, y, x] = sum(c, r, s) P[c, y + r, x + s] * W[f, c, r, s].
  const int C = 3, F = 2, H = 5, R = 3;
  Tensor X = tensor("X", {C, H, H}, TensorRole::Input), W = tensor("W", {F, C, R, R}, TensorRole::Input);
  Tensor P = tensor("P", {C, H + 2, H + 2}, TensorRole::Intermediate);
  Tensor Y = tensor("Y", {F, H, H}, TensorRole::Output);
  Axis pc = axis("c", C), ph = axis("h", H + 2), pw = axis("w", H + 2);
  Axis f = axis("f", F), y = axis("y", H), x = axis("x", H), c = axis("c", C), r = axis("r", R), s = axis("s", R);
  Expr inside = v(ph) >= i64(1) && v(ph) <= i64(H) && v(pw) >= i64(1) && v(pw) <= i64(H);
  Kernel k;
  k.name = "conv";
  k.inputs = {X, W};
  k.outputs = {Y};
  k.stages.push_back(
      stage(P, {pc, ph, pw}, make_select(inside, make_access(X, {v(pc), v(ph) - i64(1), v(pw) - i64(1)}), f32(0))));
  k.stages.push_back(stage(Y, {f, y, x},
                           make_access(P, {v(c), v(y) + v(r), v(x) + v(s)}) * make_access(W, {v(f), v(c), v(r), v(s)}),
                           ReduceOp::Sum, {c, r, s}));
  std::vector<float> xs(C * H * H), ws(F * C * R * R);
  for (size_t n = 0; n < xs.size(); ++n) xs[n] = static_cast<float>((n * 7) % 11) - 5;
  for (size_t n = 0; n < ws.size(); ++n) ws[n] = static_cast<float>((n * 5) % 7) - 3;
  auto out = interpret(k, {xs, ws});
  for (int fo = 0; fo < F; ++fo)
    for (int yo = 0; yo < H; ++yo)
      for (int xo = 0; xo < H; ++xo) {
        double ref = 0;
        for (int ci = 0; ci < C; ++ci)
          for (int ri = 0; ri < R; ++ri)
            for (int si = 0; si < R; ++si) {
              int yy = yo + ri - 1, xx = xo + si - 1;
              if (yy < 0 || yy >= H || xx < 0 || xx >= H) continue;
              ref += xs[(ci * H + yy) * H + xx] * ws[((fo * C + ci) * R + ri) * R + si];
            }
        ASSERT_EQ(out[0][(fo * H + yo) * H + xo], ref) << fo << " " << yo << " " << xo;
      }
}

TEST(Interp, LargeConvSumsEveryTap) {
  // 64x64x3x3 on 56x56: about 115M multiply-adds, the size the correctness suite runs (~2 s).
  const int C = 64, F = 64, H = 56, R = 3;
  Tensor X = tensor("X", {C, H + 2, H + 2}, TensorRole::Input), W = tensor("W", {F, C, R, R}, TensorRole::Input);
  Tensor Y = tensor("Y", {F, H, H}, TensorRole::Output);
  Axis f = axis("f", F), y = axis("y", H), x = axis("x", H), c = axis("c", C), r = axis("r", R), s = axis("s", R);
  Kernel k;
  k.name = "conv_big";
  k.inputs = {X, W};
  k.outputs = {Y};
  k.stages.push_back(stage(Y, {f, y, x},
                           make_access(X, {v(c), v(y) + v(r), v(x) + v(s)}) * make_access(W, {v(f), v(c), v(r), v(s)}),
                           ReduceOp::Sum, {c, r, s}));
  std::vector<float> xs(C * (H + 2) * (H + 2), 1.0f), ws(F * C * R * R, 0.5f);
  auto out = interpret(k, {xs, ws});
  EXPECT_EQ(out[0][0], C * R * R * 0.5);
  EXPECT_EQ(out[0][F * H * H - 1], C * R * R * 0.5);
}

}  // namespace
}  // namespace kcc

namespace kcc {
namespace {

TEST(ReduceIdentity, IsTheExtremeOfTheIntegerType) {
  int64_t v = 0;
  ASSERT_TRUE(is_const_int(reduce_identity(ReduceOp::Max, Type{ScalarKind::I8, 1}), &v));
  EXPECT_EQ(v, INT8_MIN);
  ASSERT_TRUE(is_const_int(reduce_identity(ReduceOp::Max, Type::i32()), &v));
  EXPECT_EQ(v, INT32_MIN);
  ASSERT_TRUE(is_const_int(reduce_identity(ReduceOp::Min, Type::i32()), &v));
  EXPECT_EQ(v, INT32_MAX);
  ASSERT_TRUE(is_const_int(reduce_identity(ReduceOp::Max, Type::i64()), &v));
  EXPECT_EQ(v, INT64_MIN);
  ASSERT_TRUE(is_const_int(reduce_identity(ReduceOp::Min, Type::i64()), &v));
  EXPECT_EQ(v, INT64_MAX);
  ASSERT_TRUE(is_const_int(reduce_identity(ReduceOp::Prod, Type::i64()), &v));
  EXPECT_EQ(v, 1);
  double f = 0;
  ASSERT_TRUE(is_const_float(reduce_identity(ReduceOp::Max, Type::f32()), &f));
  EXPECT_EQ(f, -std::numeric_limits<double>::infinity());
}

TEST(MakeConst, SaturatesDoublesOutsideTheIntegerType) {
  int64_t v = 0;
  ASSERT_TRUE(is_const_int(make_const(Type::i32(), 1e300), &v));
  EXPECT_EQ(v, INT32_MAX);
  ASSERT_TRUE(is_const_int(make_const(Type::i64(), -std::numeric_limits<double>::infinity()), &v));
  EXPECT_EQ(v, INT64_MIN);
  ASSERT_TRUE(is_const_int(make_const(Type::i64(), 9223372036854775808.0), &v));
  EXPECT_EQ(v, INT64_MAX);
  ASSERT_TRUE(is_const_int(make_const(Type{ScalarKind::I8, 1}, -300), &v));
  EXPECT_EQ(v, INT8_MIN);
}

TEST(Interp, IntegerMaxOverNegativeValuesIsNotZero) {
  Module m = parse_module("t.ir", "kernel k(X: i32[2, 3]) -> Y: i32[2] {\n  Y[i] = max(j) X[i, j]\n}\n");
  auto out = interpret_doubles(m.kernels[0], {{-5, -7, -3, -2147483648.0, -9, -8}});
  EXPECT_EQ(out[0], (std::vector<double>{-3, -8}));
}

// ---------------------------------------------------------------- models

const char *kModel = R"(
kernel affine(X: f32[2, 3], W: f32[3, 2], b: f32[2]) -> Y: f32[2, 2] {
  A = matmul(X, W)
  Y = bias_add(A, b)
}
kernel stats(X: f32[2, 2]) -> (S: f32[], R: f32[2, 2]) {
  S[] = sum(i, j) X[i, j]
  R = relu(X)
}
model net(x: f32[2, 3]) -> (s: f32[], r: f32[2, 2]) {
  weights "net.weights"
  w: f32[3, 2] = weight at 0
  b: f32[2] = weight at 64
  h = affine(x, w, b)
  s, r = stats(h)
}
)";

TEST(InterpModel, RunsTheCallsInOrderFeedingResultsForward) {
  Module m = parse_module("net.ir", kModel);
  const ModelDecl &net = m.models.at(0);
  std::vector<double> x = {1, -2, 3, 0.5, 1, -1}, w = {1, 0, 0, 1, 1, 1}, b = {-4, 0.25};
  auto out = interpret_model(m, net, {x}, {w, b});
  // h = x . w + b, by hand: rows (1 + 3 - 4, -2 + 3 + 0.25), (0.5 - 1 - 4, 1 - 1 + 0.25)
  std::vector<double> h = {0, 1.25, -4.5, 0.25};
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (std::vector<double>{0 + 1.25 - 4.5 + 0.25}));
  EXPECT_EQ(out[1], (std::vector<double>{0, 1.25, 0, 0.25}));
  // The same as interpreting the kernels one after the other.
  auto h2 = interpret_doubles(*m.find_kernel("affine"), {x, w, b});
  EXPECT_EQ(h2.at(0), h);
}

TEST(InterpModel, WrongNumberOfWeightsIsAUserError) {
  Module m = parse_module("net.ir", kModel);
  EXPECT_THROW(interpret_model(m, m.models.at(0), {std::vector<double>(6)}, {}), UserError);
}

TEST(InterpModel, ReadsWeightsAtTheirOffsetsBesideTheIrFile) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kcc_interp_model_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Module m = parse_module((dir / "net.ir").string(), kModel);
  const ModelDecl &net = m.models.at(0);
  EXPECT_EQ(weights_path(m, net), (dir / "net.weights").string());
  // w (6 floats) at byte 0, b (2 floats) at byte 64; the bytes in between are never read.
  std::vector<char> bytes(72, 0x7f);
  float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {-1, 0.5f};
  std::memcpy(bytes.data(), w, sizeof w);
  std::memcpy(bytes.data() + 64, b, sizeof b);
  std::ofstream(weights_path(m, net), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto weights = read_model_weights(net, weights_path(m, net));
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_EQ(weights[0], (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(weights[1], (std::vector<double>{-1, 0.5}));
  // A file too short for b.
  std::ofstream(weights_path(m, net), std::ios::binary).write(bytes.data(), 70);
  EXPECT_THROW(read_model_weights(net, weights_path(m, net)), UserError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kcc
