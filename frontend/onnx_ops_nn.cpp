// frontend/onnx_ops_nn.cpp - importing the compute operators: element-wise, convolution and
// pooling, matrix products, normalizations, reductions.
#include "frontend/onnx_op.h"

namespace kcc::frontend::detail {
namespace {

// ---------------------------------------------------------------------------------------------
// Element-wise.

std::optional<Node> unary(Op &op, OpKind kind) {
  op.check_counts(1, 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(kind, {0});
  switch (kind) {
    case OpKind::LeakyRelu: n.attrs["alpha"] = Attribute::of_float(op.get_float("alpha", 0.01)); break;
    case OpKind::HardSigmoid:
      n.attrs["alpha"] = Attribute::of_float(op.get_float("alpha", 0.2));
      n.attrs["beta"] = Attribute::of_float(op.get_float("beta", 0.5));
      break;
    case OpKind::Gelu: {
      std::string approx = op.get_string("approximate", "none");
      if (approx != "none" && approx != "tanh")
        op.fail(fmt::format("unsupported approximate value '{}'; expected 'none' or 'tanh'", approx));
      n.attrs["approximate"] = Attribute::of_string(approx);
      break;
    }
    default: break;
  }
  return n;
}

std::optional<Node> clip(Op &op) {
  op.check_counts(1, 3, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "input");
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  auto bound = [&](size_t i, const char *what, double &v) {
    if (!op.has(i)) return;
    if (!op.in(i).is_constant()) op.fail(fmt::format("input {} ({}) must be a constant", i, what));
    if (num_elements(op.shape(i)) != 1) op.fail(fmt::format("input {} ({}) must be a scalar, not {}", i, what, shape_to_string(op.shape(i))));
    v = read_doubles(op.in(i))[0];
  };
  bound(1, "min", lo);
  bound(2, "max", hi);
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(OpKind::Clip, {0});
  n.attrs["min"] = Attribute::of_float(lo);
  n.attrs["max"] = Attribute::of_float(hi);
  return n;
}

std::optional<Node> prelu(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_same_type(0, 1);
  if (!Op::broadcasts_to(op.shape(1), op.shape(0)))
    op.fail(fmt::format("slope of shape {} does not broadcast to X of shape {}", shape_to_string(op.shape(1)), shape_to_string(op.shape(0))));
  op.set_out(0, op.in(0).type, op.shape(0));
  return op.node(OpKind::PRelu, {0, 1});
}

std::optional<Node> binary(Op &op, OpKind kind) {
  op.check_counts(2, 2, 1, 1);
  if (kind != OpKind::Pow) op.check_same_type(0, 1);
  Shape s = op.broadcast({0, 1});
  op.set_out(0, op.in(0).type, s);
  if (op.all_constant() && kind != OpKind::Pow) {
    op.check_fold_size(s);
    auto ma = broadcast_map(op.shape(0), s), mb = broadcast_map(op.shape(1), s);
    if (is_float(op.in(0).type)) {
      auto a = read_doubles(op.in(0)), b = read_doubles(op.in(1));
      std::vector<double> r(ma.size());
      for (size_t e = 0; e < r.size(); ++e) {
        double x = a[static_cast<size_t>(ma[e])], y = b[static_cast<size_t>(mb[e])];
        r[e] = kind == OpKind::Add ? x + y : kind == OpKind::Sub ? x - y : kind == OpKind::Mul ? x * y : x / y;
      }
      op.fold_doubles(0, r);
    } else {
      auto a = read_ints(op.in(0)), b = read_ints(op.in(1));
      std::vector<int64_t> r(ma.size());
      for (size_t e = 0; e < r.size(); ++e) {
        // Wrap on overflow like the integer types do.
        uint64_t x = static_cast<uint64_t>(a[static_cast<size_t>(ma[e])]), y = static_cast<uint64_t>(b[static_cast<size_t>(mb[e])]);
        if (kind == OpKind::Div) {
          if (y == 0) op.fail("integer division by zero in a constant");
          if (static_cast<int64_t>(y) == -1) r[e] = static_cast<int64_t>(0 - x);
          else r[e] = static_cast<int64_t>(x) / static_cast<int64_t>(y);
        } else {
          r[e] = static_cast<int64_t>(kind == OpKind::Add ? x + y : kind == OpKind::Sub ? x - y : x * y);
        }
      }
      op.fold_ints(0, r);
    }
    return std::nullopt;
  }
  return op.node(kind, {0, 1});
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling.

/// Kernel geometry of a Conv, ConvTranspose or pool, read from the attributes and normalized.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;
  std::string auto_pad;
};

Window read_window(Op &op, const std::vector<int64_t> &kernel, bool dilations_allowed) {
  size_t sp = kernel.size();
  Window w;
  w.kernel = kernel;
  auto list = [&](const char *key, int64_t def, size_t count, int64_t min) {
    auto v = op.get_ints(key).value_or(std::vector<int64_t>(count, def));
    if (v.size() != count) op.fail(fmt::format("attribute '{}' has {} values; expected {}", key, v.size(), count));
    for (int64_t x : v)
      if (x < min) op.fail(fmt::format("attribute '{}' has value {}; it must be at least {}", key, x, min));
    return v;
  };
  w.strides = list("strides", 1, sp, 1);
  if (!dilations_allowed && op.has_attr("dilations")) op.fail("attribute 'dilations' is not supported here");
  w.dilations = list("dilations", 1, sp, 1);
  w.auto_pad = op.get_string("auto_pad", "NOTSET");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER" && w.auto_pad != "VALID")
    op.fail(fmt::format("unsupported auto_pad value '{}'; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID", w.auto_pad));
  if (w.auto_pad != "NOTSET" && op.has_attr("pads"))
    op.fail(fmt::format("attribute 'pads' cannot be used with auto_pad '{}'", w.auto_pad));
  w.pads = list("pads", 0, 2 * sp, 0);
  return w;
}

/// Output sizes of a convolution or pool over spatial input `in`; resolves auto_pad into w.pads.
Shape window_output(Op &op, Window &w, const Shape &in, bool ceil_mode) {
  size_t sp = w.kernel.size();
  Shape out(sp);
  for (size_t i = 0; i < sp; ++i) {
    int64_t ek = (w.kernel[i] - 1) * w.dilations[i] + 1, s = w.strides[i];
    if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") {
      out[i] = (in[i] + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (out[i] - 1) * s + ek - in[i]);
      int64_t small = total / 2, big = total - small;
      w.pads[i] = w.auto_pad == "SAME_UPPER" ? small : big;
      w.pads[i + sp] = w.auto_pad == "SAME_UPPER" ? big : small;
      continue;
    }
    if (w.auto_pad == "VALID") w.pads[i] = w.pads[i + sp] = 0;
    int64_t span = in[i] + w.pads[i] + w.pads[i + sp] - ek;
    if (span < 0)
      op.fail(fmt::format("spatial axis {}: input {} with pads {}+{} is smaller than the kernel's extent {}", i, in[i],
                          w.pads[i], w.pads[i + sp], ek));
    out[i] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // As PyTorch and onnxruntime do: the last window must start inside the input or its left pad.
    if (ceil_mode && (out[i] - 1) * s >= in[i] + w.pads[i]) --out[i];
  }
  return out;
}

void put_window(Node &n, const Window &w) {
  n.attrs["kernel_shape"] = Attribute::of_ints(w.kernel);
  n.attrs["strides"] = Attribute::of_ints(w.strides);
  n.attrs["dilations"] = Attribute::of_ints(w.dilations);
  n.attrs["pads"] = Attribute::of_ints(w.pads);
}

std::vector<int64_t> kernel_from_weights(Op &op, const Shape &w) {
  std::vector<int64_t> k(w.begin() + 2, w.end());
  if (auto attr = op.get_ints("kernel_shape"); attr && *attr != k)
    op.fail(fmt::format("attribute kernel_shape [{}] does not match the weights' shape {}", fmt::join(*attr, ","), shape_to_string(w)));
  return k;
}

std::optional<Node> conv(Op &op) {
  op.check_counts(2, 3, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  op.check_same_type(0, 1);
  const Shape &x = op.shape(0), &w = op.shape(1);
  if (x.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(x)));
  if (w.size() != x.size()) op.fail(fmt::format("weights W of shape {} must have the rank of X ({})", shape_to_string(w), shape_to_string(x)));
  int64_t group = op.get_int("group", 1);
  if (group < 1) op.fail(fmt::format("group {} must be positive", group));
  if (w[1] * group != x[1])
    op.fail(fmt::format("input X has {} channels but W of shape {} expects {} (group {})", x[1], shape_to_string(w), w[1] * group, group));
  if (w[0] % group != 0) op.fail(fmt::format("{} output channels do not divide into {} groups", w[0], group));
  if (op.has(2) && op.shape(2) != Shape{w[0]})
    op.fail(fmt::format("bias B has shape {}; expected {}", shape_to_string(op.shape(2)), w[0]));
  Window win = read_window(op, kernel_from_weights(op, w), true);
  Shape out = window_output(op, win, Shape(x.begin() + 2, x.end()), false);
  out.insert(out.begin(), {x[0], w[0]});
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(OpKind::Conv, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  put_window(n, win);
  n.attrs["group"] = Attribute::of_int(group);
  return n;
}

std::optional<Node> conv_transpose(Op &op) {
  op.check_counts(2, 3, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  op.check_same_type(0, 1);
  const Shape &x = op.shape(0), &w = op.shape(1);
  if (x.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(x)));
  if (w.size() != x.size()) op.fail(fmt::format("weights W of shape {} must have the rank of X ({})", shape_to_string(w), shape_to_string(x)));
  int64_t group = op.get_int("group", 1);
  if (group < 1) op.fail(fmt::format("group {} must be positive", group));
  if (w[0] != x[1]) op.fail(fmt::format("input X has {} channels but W of shape {} expects {}", x[1], shape_to_string(w), w[0]));
  if (x[1] % group != 0) op.fail(fmt::format("{} input channels do not divide into {} groups", x[1], group));
  int64_t m = w[1] * group;
  if (op.has(2) && op.shape(2) != Shape{m}) op.fail(fmt::format("bias B has shape {}; expected {}", shape_to_string(op.shape(2)), m));
  Window win = read_window(op, kernel_from_weights(op, w), true);
  size_t sp = x.size() - 2;
  auto output_padding = op.get_ints("output_padding").value_or(std::vector<int64_t>(sp, 0));
  if (output_padding.size() != sp) op.fail(fmt::format("attribute 'output_padding' has {} values; expected {}", output_padding.size(), sp));
  auto output_shape = op.get_ints("output_shape");
  if (output_shape && output_shape->size() != sp && output_shape->size() != x.size())
    op.fail(fmt::format("attribute 'output_shape' has {} values; expected {}", output_shape->size(), sp));
  Shape out{x[0], m};
  for (size_t i = 0; i < sp; ++i) {
    int64_t in = x[i + 2], s = win.strides[i], ek = (win.kernel[i] - 1) * win.dilations[i] + 1;
    int64_t full = s * (in - 1) + output_padding[i] + ek;
    bool same = win.auto_pad == "SAME_UPPER" || win.auto_pad == "SAME_LOWER";
    if (output_shape || same) {
      // ONNX: total padding from the requested size; SAME_UPPER puts the smaller half first.
      int64_t target = output_shape ? (*output_shape)[output_shape->size() - sp + i] : in * s;
      int64_t total = full - target;
      if (total < 0) op.fail(fmt::format("output_shape {} on spatial axis {} is larger than the {} the input allows", target, i, full));
      int64_t small = total / 2, big = total - small;
      win.pads[i] = win.auto_pad == "SAME_UPPER" ? small : big;
      win.pads[i + sp] = win.auto_pad == "SAME_UPPER" ? big : small;
    } else if (win.auto_pad == "VALID") {
      win.pads[i] = win.pads[i + sp] = 0;
    }
    int64_t o = full - win.pads[i] - win.pads[i + sp];
    if (o <= 0) op.fail(fmt::format("spatial axis {}: the pads leave an empty output", i));
    out.push_back(o);
  }
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(OpKind::ConvTranspose, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  put_window(n, win);
  n.attrs["group"] = Attribute::of_int(group);
  n.attrs["output_padding"] = Attribute::of_ints(output_padding);
  return n;
}

std::optional<Node> pool(Op &op, OpKind kind) {
  op.check_counts(1, 1, 1, kind == OpKind::MaxPool ? 2 : 1);
  if (kind == OpKind::MaxPool) op.no_optional_output(1, "Indices");
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  const Shape &x = op.shape(0);
  if (x.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(x)));
  auto kernel = op.get_ints("kernel_shape");
  if (!kernel) op.fail("attribute 'kernel_shape' is required");
  if (kernel->size() != x.size() - 2)
    op.fail(fmt::format("attribute kernel_shape [{}] does not match the {} spatial axes of X", fmt::join(*kernel, ","), x.size() - 2));
  for (int64_t k : *kernel)
    if (k < 1) op.fail(fmt::format("attribute kernel_shape [{}] must be positive", fmt::join(*kernel, ",")));
  int64_t ceil_mode = op.get_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) op.fail(fmt::format("ceil_mode {} must be 0 or 1", ceil_mode));
  Window win = read_window(op, *kernel, kind == OpKind::MaxPool || op.opset() >= 19);
  Shape out = window_output(op, win, Shape(x.begin() + 2, x.end()), ceil_mode == 1);
  out.insert(out.begin(), {x[0], x[1]});
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(kind, {0});
  put_window(n, win);
  n.attrs["ceil_mode"] = Attribute::of_int(ceil_mode);
  if (kind == OpKind::AveragePool) {
    int64_t cip = op.get_int("count_include_pad", 0);
    if (cip != 0 && cip != 1) op.fail(fmt::format("count_include_pad {} must be 0 or 1", cip));
    n.attrs["count_include_pad"] = Attribute::of_int(cip);
  } else if (op.get_int("storage_order", 0) != 0) {
    op.fail("storage_order 1 is not supported");
  }
  return n;
}

std::optional<Node> global_average_pool(Op &op) {
  op.check_counts(1, 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  Shape s = op.shape(0);
  if (s.size() < 3) op.fail(fmt::format("input X must have rank 3 or more (N, C, spatial...), has shape {}", shape_to_string(s)));
  std::fill(s.begin() + 2, s.end(), 1);
  op.set_out(0, op.in(0).type, s);
  return op.node(OpKind::GlobalAveragePool, {0});
}

std::optional<Node> batch_norm(Op &op) {
  op.check_counts(5, 5, 1, 5);
  for (size_t i = 1; i < op.num_outputs(); ++i) op.no_optional_output(i, "training statistics");
  if (op.get_int("training_mode", 0) != 0) op.fail("training_mode 1 is not supported (kcc compiles inference)");
  const Shape &x = op.shape(0);
  if (x.size() < 2) op.fail(fmt::format("input X must have rank 2 or more, has shape {}", shape_to_string(x)));
  const char *names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    op.check_same_type(0, i);
    if (op.shape(i) != Shape{x[1]})
      op.fail(fmt::format("input {} ({}) has shape {}; expected {} (the channels of X)", i, names[i], shape_to_string(op.shape(i)), x[1]));
  }
  op.set_out(0, op.in(0).type, x);
  Node n = op.node(OpKind::BatchNormalization, {0, 1, 2, 3, 4});
  n.attrs["epsilon"] = Attribute::of_float(op.get_float("epsilon", 1e-5));
  return n;
}

// ---------------------------------------------------------------------------------------------
// Matrix products and normalizations.

std::optional<Node> gemm(Op &op) {
  op.check_counts(2, 3, 1, 1);
  op.check_same_type(0, 1);
  int64_t ta = op.get_int("transA", 0), tb = op.get_int("transB", 0);
  if (op.rank(0) != 2 || op.rank(1) != 2)
    op.fail(fmt::format("inputs A and B must be matrices, have shapes {} and {}", shape_to_string(op.shape(0)), shape_to_string(op.shape(1))));
  int64_t m = op.shape(0)[ta ? 1 : 0], k = op.shape(0)[ta ? 0 : 1];
  int64_t kb = op.shape(1)[tb ? 1 : 0], n = op.shape(1)[tb ? 0 : 1];
  if (k != kb)
    op.fail(fmt::format("A{} is {} and B{} is {}: inner dimensions {} and {} differ", ta ? "'" : "", shape_to_string(op.shape(0)),
                        tb ? "'" : "", shape_to_string(op.shape(1)), k, kb));
  if (op.has(2) && !Op::broadcasts_to(op.shape(2), Shape{m, n}))
    op.fail(fmt::format("C of shape {} does not broadcast to the {}x{} result", shape_to_string(op.shape(2)), m, n));
  op.set_out(0, op.in(0).type, {m, n});
  Node node = op.node(OpKind::Gemm, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  node.attrs["alpha"] = Attribute::of_float(op.get_float("alpha", 1));
  node.attrs["beta"] = Attribute::of_float(op.get_float("beta", 1));
  node.attrs["transA"] = Attribute::of_int(ta != 0);
  node.attrs["transB"] = Attribute::of_int(tb != 0);
  return node;
}

std::optional<Node> matmul(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_same_type(0, 1);
  Shape a = op.shape(0), b = op.shape(1);
  if (a.empty() || b.empty()) op.fail("inputs must have rank 1 or more");
  bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  if (a.back() != b[b.size() - 2])
    op.fail(fmt::format("inner dimensions differ: A is {} and B is {}", shape_to_string(op.shape(0)), shape_to_string(op.shape(1))));
  Shape ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Shape batch(std::max(ba.size(), bb.size()));
  for (size_t k = 0; k < batch.size(); ++k) {
    int64_t x = k + ba.size() >= batch.size() ? ba[k + ba.size() - batch.size()] : 1;
    int64_t y = k + bb.size() >= batch.size() ? bb[k + bb.size() - batch.size()] : 1;
    if (x != y && x != 1 && y != 1)
      op.fail(fmt::format("batch dimensions of {} and {} do not broadcast", shape_to_string(op.shape(0)), shape_to_string(op.shape(1))));
    batch[k] = x == 1 ? y : x;
  }
  Shape out = batch;
  if (!a_vec) out.push_back(a[a.size() - 2]);
  if (!b_vec) out.push_back(b.back());
  op.set_out(0, op.in(0).type, out);
  return op.node(OpKind::MatMul, {0, 1});
}

std::optional<Node> softmax(Op &op) {
  op.check_counts(1, 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "input");
  int64_t r = op.rank(0);
  if (r == 0) op.fail("input must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", op.opset() >= 13 ? -1 : 1), r);
  // Before opset 13 Softmax normalizes over every axis from `axis` on; that equals the one-axis
  // form when the axes after it are all 1.
  if (op.opset() < 13)
    for (int64_t d = axis + 1; d < r; ++d)
      if (op.shape(0)[static_cast<size_t>(d)] != 1)
        op.fail(fmt::format("before opset 13 Softmax over axis {} of a {} tensor normalizes over axes {} to {}; kcc supports "
                            "one axis (re-export with opset 13)",
                            axis, shape_to_string(op.shape(0)), axis, r - 1));
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(OpKind::Softmax, {0});
  n.attrs["axis"] = Attribute::of_int(axis);
  return n;
}

std::optional<Node> layer_norm(Op &op) {
  op.check_counts(2, 3, 1, 3);
  op.no_optional_output(1, "Mean");
  op.no_optional_output(2, "InvStdDev");
  op.check_type(0, {ElemType::F32, ElemType::F64}, "X");
  int64_t axis = op.norm_axis(op.get_int("axis", -1), op.rank(0));
  Shape norm(op.shape(0).begin() + axis, op.shape(0).end());
  for (size_t i = 1; i < op.num_inputs(); ++i)
    if (op.has(i) && !Op::broadcasts_to(op.shape(i), norm))
      op.fail(fmt::format("input {} ({}) of shape {} does not broadcast to the normalized shape {}", i, i == 1 ? "Scale" : "B",
                          shape_to_string(op.shape(i)), shape_to_string(norm)));
  op.set_out(0, op.in(0).type, op.shape(0));
  Node n = op.node(OpKind::LayerNormalization, op.has(2) ? std::vector<size_t>{0, 1, 2} : std::vector<size_t>{0, 1});
  n.attrs["axis"] = Attribute::of_int(axis);
  n.attrs["epsilon"] = Attribute::of_float(op.get_float("epsilon", 1e-5));
  return n;
}

std::optional<Node> reduce(Op &op, OpKind kind) {
  // ReduceSum takes its axes as an input from opset 13, ReduceMean from opset 18.
  bool axes_input = op.opset() >= (kind == OpKind::ReduceSum ? 13 : 18);
  op.check_counts(1, axes_input ? 2 : 1, 1, 1);
  op.check_type(0, {ElemType::F32, ElemType::F64}, "data");
  std::vector<int64_t> axes;
  if (axes_input) {
    if (op.has_attr("axes")) op.fail(fmt::format("attribute 'axes' is an input from opset {}", kind == OpKind::ReduceSum ? 13 : 18));
    if (op.has(1)) axes = op.const_ints(1, "axes");
  } else {
    axes = op.get_ints("axes").value_or(std::vector<int64_t>{});
  }
  int64_t keepdims = op.get_int("keepdims", 1);
  int64_t r = op.rank(0);
  if (axes.empty()) {
    if (op.get_int("noop_with_empty_axes", 0) != 0) {
      op.set_out(0, op.in(0).type, op.shape(0));
      op.alias_output(0);
      return std::nullopt;
    }
    for (int64_t d = 0; d < r; ++d) axes.push_back(d);
  }
  axes = op.norm_axes(axes, r);
  Shape out;
  for (int64_t d = 0; d < r; ++d) {
    bool reduced = std::binary_search(axes.begin(), axes.end(), d);
    if (!reduced) out.push_back(op.shape(0)[static_cast<size_t>(d)]);
    else if (keepdims) out.push_back(1);
  }
  op.set_out(0, op.in(0).type, out);
  Node n = op.node(kind, {0});
  n.attrs["axes"] = Attribute::of_ints(axes);
  n.attrs["keepdims"] = Attribute::of_int(keepdims != 0);
  return n;
}

}  // namespace

void add_nn_ops(OpTable &t) {
  for (OpKind k : {OpKind::Relu, OpKind::Sigmoid, OpKind::Tanh, OpKind::Erf, OpKind::Exp, OpKind::Sqrt, OpKind::HardSwish,
                   OpKind::LeakyRelu, OpKind::HardSigmoid, OpKind::Gelu})
    t[op_name(k)] = [k](Op &op) { return unary(op, k); };
  for (OpKind k : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::Pow})
    t[op_name(k)] = [k](Op &op) { return binary(op, k); };
  for (OpKind k : {OpKind::MaxPool, OpKind::AveragePool}) t[op_name(k)] = [k](Op &op) { return pool(op, k); };
  for (OpKind k : {OpKind::ReduceMean, OpKind::ReduceSum}) t[op_name(k)] = [k](Op &op) { return reduce(op, k); };
  t["Clip"] = clip;
  t["PRelu"] = prelu;
  t["Conv"] = conv;
  t["ConvTranspose"] = conv_transpose;
  t["GlobalAveragePool"] = global_average_pool;
  t["BatchNormalization"] = batch_norm;
  t["Gemm"] = gemm;
  t["MatMul"] = matmul;
  t["Softmax"] = softmax;
  t["LayerNormalization"] = layer_norm;
}

}  // namespace kcc::frontend::detail
