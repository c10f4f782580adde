// frontend/onnx_ops_data.cpp - importing data movement (also folded: shape computations use
// it), the shape computations folded at import, and the operators removed (Identity, Dropout).
#include <set>

#include "frontend/onnx_op.h"

namespace kcc::frontend::detail {
namespace {

/// For each element of `out` (row-major), the source index base + sum of index[d] * stride[d]:
/// the gather map of a constant folded by a strided view (Slice, Transpose).
std::vector<int64_t> strided_map(const Shape &out, int64_t base, const std::vector<int64_t> &stride) {
  std::vector<int64_t> map(static_cast<size_t>(num_elements(out))), idx(out.size(), 0);
  for (int64_t &src : map) {
    src = base;
    for (size_t d = 0; d < out.size(); ++d) src += idx[d] * stride[d];
    for (size_t d = out.size(); d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return map;
}

// ---------------------------------------------------------------------------------------------
// Data movement (also folded: shape computations use them).

std::optional<Node> concat(Op &op) {
  op.check_counts(1, SIZE_MAX, 1, 1);
  if (!op.has_attr("axis")) op.fail("attribute 'axis' is required");
  int64_t r = op.rank(0);
  if (r == 0) op.fail("inputs must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", 0), r);
  Shape out = op.shape(0);
  out[static_cast<size_t>(axis)] = 0;
  std::vector<size_t> ins;
  for (size_t i = 0; i < op.num_inputs(); ++i) {
    op.check_same_type(0, i);
    const Shape &s = op.shape(i);
    bool ok = s.size() == out.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = static_cast<int64_t>(d) == axis || s[d] == out[d];
    if (!ok) op.fail(fmt::format("input {} of shape {} does not match input 0 of shape {} outside axis {}", i, shape_to_string(s),
                                 shape_to_string(op.shape(0)), axis));
    out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
    ins.push_back(i);
  }
  op.set_out(0, op.in(0).type, out);
  if (op.all_constant()) {
    // Output element e comes from the input whose slice of the axis holds its index.
    std::vector<int64_t> st = strides_of(out);
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= out[static_cast<size_t>(d)];
    int64_t inner = st[static_cast<size_t>(axis)];
    op.alloc_out(0);
    int sz = elem_size(op.out(0).type);
    uint8_t *dst = op.out(0).data->data();
    for (int64_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < op.num_inputs(); ++i) {
        size_t bytes = static_cast<size_t>(op.shape(i)[static_cast<size_t>(axis)] * inner * sz);
        std::memcpy(dst, op.in(i).data->data() + static_cast<size_t>(o) * bytes, bytes);
        dst += bytes;
      }
    return std::nullopt;
  }
  Node n = op.node(OpKind::Concat, ins);
  n.attrs["axis"] = Attribute::of_int(axis);
  return n;
}

/// Pad, constant mode (PyTorch exports an average pool's padding this way): pads from input 1
/// (opset 11 on; opset 18's `axes` input picks the axes they are for), the value from input 2.
std::optional<Node> pad(Op &op) {
  op.check_counts(2, op.opset() >= 18 ? 4 : 3, 1, 1);
  std::string mode = op.get_string("mode", "constant");
  if (mode != "constant") op.fail(fmt::format("mode '{}' is not supported; only 'constant'", mode));
  int64_t r = op.rank(0);
  std::vector<int64_t> given = op.const_ints(1, "pads"), axes;
  if (op.has(3)) {
    axes = op.const_ints(3, "axes");
    for (int64_t &a : axes) a = op.norm_axis(a, r);
  } else {
    for (int64_t a = 0; a < r; ++a) axes.push_back(a);
  }
  if (given.size() != 2 * axes.size())
    op.fail(fmt::format("input 1 (pads) has {} values; {} axes need {}", given.size(), axes.size(), 2 * axes.size()));
  std::vector<int64_t> pads(static_cast<size_t>(2 * r), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    pads[static_cast<size_t>(axes[k])] = given[k];
    pads[static_cast<size_t>(r + axes[k])] = given[axes.size() + k];
  }
  for (int64_t p : pads)
    if (p < 0) op.fail(fmt::format("negative pads [{}] (cropping) are not supported", fmt::join(given, ",")));
  double value = 0;
  if (op.has(2)) {
    if (!op.in(2).is_constant()) op.fail("input 2 (constant_value) must be a constant");
    if (num_elements(op.shape(2)) != 1) op.fail("input 2 (constant_value) must be one value");
    value = read_doubles(op.in(2)).at(0);
  }
  Shape out = op.shape(0);
  for (int64_t d = 0; d < r; ++d) out[static_cast<size_t>(d)] += pads[static_cast<size_t>(d)] + pads[static_cast<size_t>(r + d)];
  op.set_out(0, op.in(0).type, out);
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
    op.alias_output(0);
    return std::nullopt;
  }
  op.check_type(0, {ElemType::F32}, "data");
  Node n = op.node(OpKind::Pad, {0});
  n.attrs["pads"] = Attribute::of_ints(pads);
  n.attrs["value"] = Attribute::of_float(value);
  return n;
}

std::optional<Node> split(Op &op) {
  bool split_input = op.opset() >= 13;
  op.check_counts(1, split_input ? 2 : 1, 1, SIZE_MAX);
  int64_t r = op.rank(0);
  if (r == 0) op.fail("input must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", 0), r);
  int64_t dim = op.shape(0)[static_cast<size_t>(axis)];
  int64_t outs = static_cast<int64_t>(op.num_outputs());
  std::vector<int64_t> sizes;
  if (split_input && op.has(1)) sizes = op.const_ints(1, "split");
  else if (!split_input) sizes = op.get_ints("split").value_or(std::vector<int64_t>{});
  if (!sizes.empty()) {
    if (op.has_attr("num_outputs")) op.fail("'split' and 'num_outputs' cannot both be given");
    if (static_cast<int64_t>(sizes.size()) != outs)
      op.fail(fmt::format("split [{}] has {} sizes for {} outputs", fmt::join(sizes, ","), sizes.size(), outs));
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0) op.fail(fmt::format("split [{}] has a negative size", fmt::join(sizes, ",")));
      sum += s;
    }
    if (sum != dim) op.fail(fmt::format("split [{}] adds up to {}, but axis {} has {}", fmt::join(sizes, ","), sum, axis, dim));
  } else if (op.opset() >= 18 && op.has_attr("num_outputs")) {
    int64_t n = op.get_int("num_outputs", 0);
    if (n != outs) op.fail(fmt::format("num_outputs {} but the node has {} outputs", n, outs));
    int64_t chunk = (dim + n - 1) / n;
    if (chunk * (n - 1) >= dim && dim > 0) op.fail(fmt::format("axis {} of size {} cannot be split into {} non-empty parts", axis, dim, n));
    for (int64_t i = 0; i < n; ++i) sizes.push_back(std::min(chunk, dim - chunk * i));
  } else {
    if (dim % outs != 0) op.fail(fmt::format("axis {} of size {} does not split evenly into {} outputs", axis, dim, outs));
    sizes.assign(static_cast<size_t>(outs), dim / outs);
  }
  for (size_t i = 0; i < op.num_outputs(); ++i) {
    if (op.onnx().outputs[i] < 0) op.fail(fmt::format("output {} is empty", i));
    Shape s = op.shape(0);
    s[static_cast<size_t>(axis)] = sizes[i];
    op.set_out(i, op.in(0).type, s);
  }
  Node n = op.node(OpKind::Split, {0}, op.num_outputs());
  n.attrs["axis"] = Attribute::of_int(axis);
  n.attrs["split"] = Attribute::of_ints(sizes);
  return n;
}

std::optional<Node> slice(Op &op) {
  op.check_counts(3, 5, 1, 1);
  const Shape &x = op.shape(0);
  int64_t r = op.rank(0);
  auto starts = op.const_ints(1, "starts"), ends = op.const_ints(2, "ends");
  std::vector<int64_t> axes, steps;
  if (op.has(3)) axes = op.const_ints(3, "axes");
  else
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (op.has(4)) steps = op.const_ints(4, "steps");
  else steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    op.fail(fmt::format("starts, ends, axes and steps have {}, {}, {} and {} values; they must agree", starts.size(), ends.size(),
                        axes.size(), steps.size()));
  Shape out = x;
  std::vector<int64_t> first(x.size(), 0), step(x.size(), 1);
  std::set<int64_t> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = op.norm_axis(axes[i], r);
    if (!seen.insert(a).second) op.fail(fmt::format("axis {} is sliced twice", a));
    int64_t dim = x[static_cast<size_t>(a)], s = steps[i];
    if (s == 0) op.fail(fmt::format("step 0 on axis {}", a));
    auto clamp = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v = v < -dim ? -1 - dim : v;  // keeps INT64_MIN from overflowing
      if (v < 0) v += dim;
      return std::clamp(v, lo, hi);
    };
    int64_t b = s > 0 ? clamp(starts[i], 0, dim) : clamp(starts[i], 0, dim - 1);
    int64_t e = s > 0 ? clamp(ends[i], 0, dim) : clamp(ends[i], -1, dim - 1);
    starts[i] = b;
    ends[i] = e;
    axes[i] = a;
    int64_t n = s > 0 ? (e - b + s - 1) / s : (b - e + (-s) - 1) / (-s);
    out[static_cast<size_t>(a)] = std::max<int64_t>(0, n);
    first[static_cast<size_t>(a)] = b;
    step[static_cast<size_t>(a)] = s;
  }
  op.set_out(0, op.in(0).type, out);
  if (op.in(0).is_constant()) {
    op.check_fold_size(out);
    std::vector<int64_t> st = strides_of(x), step_st(out.size());
    int64_t base = 0;
    for (size_t d = 0; d < out.size(); ++d) {
      base += first[d] * st[d];
      step_st[d] = step[d] * st[d];
    }
    op.fold_gather(0, 0, strided_map(out, base, step_st));
    return std::nullopt;
  }
  Node n = op.node(OpKind::Slice, {0});
  n.attrs["starts"] = Attribute::of_ints(starts);
  n.attrs["ends"] = Attribute::of_ints(ends);
  n.attrs["axes"] = Attribute::of_ints(axes);
  n.attrs["steps"] = Attribute::of_ints(steps);
  return n;
}

/// Reshape, Flatten, Squeeze, Unsqueeze: output 0 has input 0's elements in a new shape.
std::optional<Node> reshaped(Op &op, OpKind kind, Shape out, const char *attr, std::vector<int64_t> value, bool int_attr = false) {
  if (num_elements(out) != num_elements(op.shape(0)))
    op.fail(fmt::format("cannot reshape {} ({} elements) to {}", shape_to_string(op.shape(0)), num_elements(op.shape(0)), shape_to_string(out)));
  op.set_out(0, op.in(0).type, out);
  if (op.in(0).is_constant()) {
    op.fold_same_data(0);
    return std::nullopt;
  }
  Node n = op.node(kind, {0});
  n.attrs[attr] = int_attr ? Attribute::of_int(value.at(0)) : Attribute::of_ints(std::move(value));
  return n;
}

std::optional<Node> reshape(Op &op) {
  op.check_counts(2, 2, 1, 1);
  auto spec = op.const_ints(1, "shape");
  if (op.rank(1) != 1) op.fail(fmt::format("input 1 (shape) must be a list, has shape {}", shape_to_string(op.shape(1))));
  bool allowzero = op.opset() >= 14 && op.get_int("allowzero", 0) != 0;
  const Shape &x = op.shape(0);
  Shape out;
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      if (i >= x.size()) op.fail(fmt::format("shape [{}] copies dimension {} (a 0) that the {} input does not have", fmt::join(spec, ","), i, shape_to_string(x)));
      d = x[i];
    } else if (d == -1) {
      if (infer >= 0) op.fail(fmt::format("shape [{}] has more than one -1", fmt::join(spec, ",")));
      infer = static_cast<int64_t>(i);
      d = 1;
    } else if (d < 0) {
      op.fail(fmt::format("shape [{}] has a negative dimension {}", fmt::join(spec, ","), d));
    }
    out.push_back(d);
    known = num_elements(Shape{known, d});
  }
  int64_t total = num_elements(x);
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      op.fail(fmt::format("cannot reshape {} ({} elements) to [{}]", shape_to_string(x), total, fmt::join(spec, ",")));
    out[static_cast<size_t>(infer)] = total / known;
  }
  return reshaped(op, OpKind::Reshape, out, "shape", out);
}

std::optional<Node> flatten(Op &op) {
  op.check_counts(1, 1, 1, 1);
  int64_t axis = op.norm_axis(op.get_int("axis", 1), op.rank(0), "axis", true);
  const Shape &x = op.shape(0);
  int64_t a = num_elements(Shape(x.begin(), x.begin() + axis)), b = num_elements(Shape(x.begin() + axis, x.end()));
  return reshaped(op, OpKind::Flatten, {a, b}, "axis", {axis}, true);
}

std::optional<Node> squeeze(Op &op) {
  bool axes_input = op.opset() >= 13;
  op.check_counts(1, axes_input ? 2 : 1, 1, 1);
  std::optional<std::vector<int64_t>> axes;
  if (axes_input && op.has(1)) axes = op.const_ints(1, "axes");
  else if (!axes_input) axes = op.get_ints("axes");
  const Shape &x = op.shape(0);
  std::vector<int64_t> norm;
  if (axes) {
    norm = op.norm_axes(*axes, op.rank(0));
    for (int64_t a : norm)
      if (x[static_cast<size_t>(a)] != 1) op.fail(fmt::format("cannot squeeze axis {} of size {} (shape {})", a, x[static_cast<size_t>(a)], shape_to_string(x)));
  } else {
    for (size_t d = 0; d < x.size(); ++d)
      if (x[d] == 1) norm.push_back(static_cast<int64_t>(d));
  }
  Shape out;
  for (size_t d = 0; d < x.size(); ++d)
    if (!std::binary_search(norm.begin(), norm.end(), static_cast<int64_t>(d))) out.push_back(x[d]);
  return reshaped(op, OpKind::Squeeze, out, "axes", norm);
}

std::optional<Node> unsqueeze(Op &op) {
  bool axes_input = op.opset() >= 13;
  op.check_counts(axes_input ? 2 : 1, axes_input ? 2 : 1, 1, 1);
  std::vector<int64_t> axes;
  if (axes_input) axes = op.const_ints(1, "axes");
  else if (auto a = op.get_ints("axes")) axes = *a;
  else op.fail("attribute 'axes' is required");
  const Shape &x = op.shape(0);
  int64_t r = static_cast<int64_t>(x.size() + axes.size());
  auto norm = op.norm_axes(axes, r);
  Shape out;
  size_t k = 0;
  for (int64_t d = 0; d < r; ++d) out.push_back(std::binary_search(norm.begin(), norm.end(), d) ? 1 : x[k++]);
  return reshaped(op, OpKind::Unsqueeze, out, "axes", norm);
}

std::optional<Node> transpose(Op &op) {
  op.check_counts(1, 1, 1, 1);
  const Shape &x = op.shape(0);
  std::vector<int64_t> perm;
  if (auto p = op.get_ints("perm")) perm = *p;
  else
    for (size_t d = x.size(); d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool ok = perm.size() == x.size();
  for (size_t d = 0; ok && d < sorted.size(); ++d) ok = sorted[d] == static_cast<int64_t>(d);
  if (!ok) op.fail(fmt::format("perm [{}] is not a permutation of the {} axes of {}", fmt::join(perm, ","), x.size(), shape_to_string(x)));
  Shape out;
  for (int64_t p : perm) out.push_back(x[static_cast<size_t>(p)]);
  op.set_out(0, op.in(0).type, out);
  if (op.in(0).is_constant()) {
    op.check_fold_size(out);
    std::vector<int64_t> st = strides_of(x), perm_st;
    for (int64_t p : perm) perm_st.push_back(st[static_cast<size_t>(p)]);
    op.fold_gather(0, 0, strided_map(out, 0, perm_st));
    return std::nullopt;
  }
  Node n = op.node(OpKind::Transpose, {0});
  n.attrs["perm"] = Attribute::of_ints(perm);
  return n;
}

std::optional<Node> gather(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_type(1, {ElemType::I32, ElemType::I64}, "indices");
  const Shape &x = op.shape(0), &ind = op.shape(1);
  if (x.empty()) op.fail("input data must have rank 1 or more");
  int64_t axis = op.norm_axis(op.get_int("axis", 0), op.rank(0));
  Shape out(x.begin(), x.begin() + axis);
  out.insert(out.end(), ind.begin(), ind.end());
  out.insert(out.end(), x.begin() + axis + 1, x.end());
  op.set_out(0, op.in(0).type, out);
  if (op.in(1).is_constant()) {
    int64_t dim = x[static_cast<size_t>(axis)];
    for (int64_t i : read_ints(op.in(1)))
      if (i < -dim || i >= dim) op.fail(fmt::format("index {} is out of range for axis {} of size {}", i, axis, dim));
  }
  if (op.all_constant()) {
    auto indices = read_ints(op.in(1));
    op.check_fold_size(out);
    int64_t dim = x[static_cast<size_t>(axis)];
    int64_t inner = num_elements(Shape(x.begin() + axis + 1, x.end())), outer = num_elements(Shape(x.begin(), x.begin() + axis));
    std::vector<int64_t> map;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i : indices)
        for (int64_t k = 0; k < inner; ++k) map.push_back((o * dim + (i < 0 ? i + dim : i)) * inner + k);
    op.fold_gather(0, 0, map);
    return std::nullopt;
  }
  Node n = op.node(OpKind::Gather, {0, 1});
  n.attrs["axis"] = Attribute::of_int(axis);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Removed and fold-only operators.

std::optional<Node> identity(Op &op) {
  op.check_counts(1, 1, 1, 1);
  op.set_out(0, op.in(0).type, op.shape(0));
  op.alias_output(0);
  return std::nullopt;
}

std::optional<Node> dropout(Op &op) {
  op.check_counts(1, 3, 1, 2);
  op.no_optional_output(1, "mask");
  if (op.has(2) && op.in(2).is_constant() && read_ints(op.in(2)).at(0) != 0)
    op.fail("training_mode true is not supported (kcc compiles inference)");
  op.set_out(0, op.in(0).type, op.shape(0));
  op.alias_output(0);
  return std::nullopt;
}

std::optional<ElemType> cast_target(int64_t to) {
  switch (to) {
    case 1: return ElemType::F32;
    case 2: return ElemType::U8;
    case 3: return ElemType::I8;
    case 6: return ElemType::I32;
    case 7: return ElemType::I64;
    case 9: return ElemType::Bool;
    case 11: return ElemType::F64;
    default: return std::nullopt;
  }
}

std::optional<Node> cast(Op &op) {
  op.check_counts(1, 1, 1, 1);
  int64_t to = op.require_int("to");
  auto type = cast_target(to);
  if (!type) op.fail(fmt::format("casting to ONNX type {} is not supported", to));
  op.set_out(0, *type, op.shape(0));
  if (op.in(0).is_constant()) {
    if (is_float(op.in(0).type)) op.fold_doubles(0, read_doubles(op.in(0)));
    else op.fold_ints(0, read_ints(op.in(0)));
  } else if (*type == op.in(0).type) {
    op.alias_output(0);
  } else {
    op.fail(fmt::format("casting a computed tensor from {} to {} is not supported (only constants are cast)", elem_type_name(op.in(0).type),
                        elem_type_name(*type)));
  }
  return std::nullopt;
}

std::optional<Node> constant(Op &op) {
  op.check_counts(0, 0, 1, 1);
  const OnnxNode &n = op.onnx();
  size_t given = n.attrs.size() + n.tensor_attrs.size();
  if (given != 1) op.fail(fmt::format("expects exactly one value attribute, has {}", given));
  if (n.tensor_attrs.count("value")) {
    const Tensor &t = n.tensor_attrs.at("value");
    op.set_out(0, t.type, t.shape);
    op.out(0).data = t.data;
  } else if (op.has_attr("value_float")) {
    op.set_out(0, ElemType::F32, {});
    op.fold_doubles(0, {op.get_float("value_float", 0)});
  } else if (op.has_attr("value_int")) {
    op.set_out(0, ElemType::I64, {});
    op.fold_ints(0, {op.get_int("value_int", 0)});
  } else if (op.has_attr("value_floats")) {
    const auto &v = op.attr("value_floats", Attribute::Kind::Floats, "a list of floats").floats;
    op.set_out(0, ElemType::F32, {static_cast<int64_t>(v.size())});
    op.fold_doubles(0, v);
  } else if (auto v = op.get_ints("value_ints")) {
    op.set_out(0, ElemType::I64, {static_cast<int64_t>(v->size())});
    op.fold_ints(0, *v);
  } else {
    op.fail(fmt::format("unsupported value attribute '{}'", n.attrs.begin()->first));
  }
  return std::nullopt;
}

std::optional<Node> constant_of_shape(Op &op) {
  op.check_counts(1, 1, 1, 1);
  auto shape = op.const_ints(0, "shape");
  for (int64_t d : shape)
    if (d < 0) op.fail(fmt::format("shape [{}] has a negative dimension", fmt::join(shape, ",")));
  const OnnxNode &n = op.onnx();
  Tensor value;
  value.type = ElemType::F32;
  value.shape = {1};
  value.data.emplace(4, 0);
  if (n.tensor_attrs.count("value")) value = n.tensor_attrs.at("value");
  if (num_elements(value.shape) != 1) op.fail(fmt::format("attribute 'value' must hold one element, has shape {}", shape_to_string(value.shape)));
  op.set_out(0, value.type, shape);
  op.alloc_out(0);
  size_t sz = static_cast<size_t>(elem_size(value.type));
  for (size_t at = 0; at < op.out(0).data->size(); at += sz) std::memcpy(op.out(0).data->data() + at, value.data->data(), sz);
  return std::nullopt;
}

std::optional<Node> shape_op(Op &op) {
  op.check_counts(1, 1, 1, 1);
  int64_t r = op.rank(0);
  int64_t start = op.opset() >= 15 ? op.get_int("start", 0) : 0, end = op.opset() >= 15 ? op.get_int("end", r) : r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(op.shape(0)[static_cast<size_t>(d)]);
  op.set_out(0, ElemType::I64, {static_cast<int64_t>(dims.size())});
  op.fold_ints(0, dims);
  return std::nullopt;
}

std::optional<Node> range(Op &op) {
  op.check_counts(3, 3, 1, 1);
  const char *names[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    if (!op.in(i).is_constant()) op.fail(fmt::format("input {} ({}) must be a constant", i, names[i]));
    if (num_elements(op.shape(i)) != 1) op.fail(fmt::format("input {} ({}) must be a scalar", i, names[i]));
    op.check_same_type(0, i);
  }
  ElemType t = op.in(0).type;
  double start = read_doubles(op.in(0))[0], limit = read_doubles(op.in(1))[0], delta = read_doubles(op.in(2))[0];
  if (delta == 0) op.fail("delta is 0");
  double count = std::max(0.0, std::ceil((limit - start) / delta));
  if (!(count <= static_cast<double>(kMaxFoldedElements))) op.fail(fmt::format("the range has too many elements ({})", count));
  op.set_out(0, t, {static_cast<int64_t>(count)});
  if (is_float(t)) {
    std::vector<double> v;
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) v.push_back(start + static_cast<double>(i) * delta);
    op.fold_doubles(0, v);
  } else {
    std::vector<int64_t> v;
    int64_t s = read_ints(op.in(0))[0], d = read_ints(op.in(2))[0];
    for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) v.push_back(s + i * d);
    op.fold_ints(0, v);
  }
  return std::nullopt;
}

void require_constant_inputs(Op &op) {
  for (size_t i = 0; i < op.num_inputs(); ++i)
    if (op.has(i) && !op.in(i).is_constant())
      op.fail(fmt::format("input {} must be a constant: kcc folds {} at import and does not compile it", i, op.onnx().op_type));
}

std::optional<Node> equal(Op &op) {
  op.check_counts(2, 2, 1, 1);
  op.check_same_type(0, 1);
  Shape s = op.broadcast({0, 1});
  op.set_out(0, ElemType::Bool, s);
  require_constant_inputs(op);
  op.check_fold_size(s);
  auto ma = broadcast_map(op.shape(0), s), mb = broadcast_map(op.shape(1), s);
  auto a = read_doubles(op.in(0)), b = read_doubles(op.in(1));
  auto ai = read_ints(op.in(0)), bi = read_ints(op.in(1));
  std::vector<int64_t> r(ma.size());
  bool fl = is_float(op.in(0).type);
  for (size_t e = 0; e < r.size(); ++e) {
    size_t x = static_cast<size_t>(ma[e]), y = static_cast<size_t>(mb[e]);
    r[e] = fl ? a[x] == b[y] : ai[x] == bi[y];
  }
  op.fold_ints(0, r);
  return std::nullopt;
}

std::optional<Node> where(Op &op) {
  op.check_counts(3, 3, 1, 1);
  op.check_type(0, {ElemType::Bool}, "condition");
  op.check_same_type(1, 2);
  Shape s = op.broadcast({0, 1, 2});
  op.set_out(0, op.in(1).type, s);
  require_constant_inputs(op);
  op.check_fold_size(s);
  auto mc = broadcast_map(op.shape(0), s), mx = broadcast_map(op.shape(1), s), my = broadcast_map(op.shape(2), s);
  auto cond = read_ints(op.in(0));
  op.alloc_out(0);
  size_t sz = static_cast<size_t>(elem_size(op.out(0).type));
  for (size_t e = 0; e < mc.size(); ++e) {
    bool c = cond[static_cast<size_t>(mc[e])] != 0;
    const Tensor &src = op.in(c ? 1 : 2);
    std::memcpy(op.out(0).data->data() + e * sz, src.data->data() + static_cast<size_t>(c ? mx[e] : my[e]) * sz, sz);
  }
  return std::nullopt;
}

std::optional<Node> expand(Op &op) {
  op.check_counts(2, 2, 1, 1);
  auto dims = op.const_ints(1, "shape");
  Shape target(dims.begin(), dims.end());
  for (int64_t d : target)
    if (d < 0) op.fail(fmt::format("shape [{}] has a negative dimension", fmt::join(dims, ",")));
  // Expand broadcasts both ways: a 1 in `shape` keeps the input's dimension.
  const Shape &x = op.shape(0);
  Shape out(std::max(x.size(), target.size()));
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t a = k + x.size() >= out.size() ? x[k + x.size() - out.size()] : 1;
    int64_t b = k + target.size() >= out.size() ? target[k + target.size() - out.size()] : 1;
    if (a != b && a != 1 && b != 1) op.fail(fmt::format("cannot expand {} to [{}]", shape_to_string(x), fmt::join(dims, ",")));
    out[k] = a == 1 ? b : a;
  }
  op.set_out(0, op.in(0).type, out);
  require_constant_inputs(op);
  op.check_fold_size(out);
  op.fold_gather(0, 0, broadcast_map(x, out));
  return std::nullopt;
}

}  // namespace

void add_data_ops(OpTable &t) {
  t["Concat"] = concat;
  t["Pad"] = pad;
  t["Split"] = split;
  t["Slice"] = slice;
  t["Reshape"] = reshape;
  t["Flatten"] = flatten;
  t["Squeeze"] = squeeze;
  t["Unsqueeze"] = unsqueeze;
  t["Transpose"] = transpose;
  t["Gather"] = gather;
  // Removed or folded at import; never in the graph.
  t["Identity"] = identity;
  t["Dropout"] = dropout;
  t["Cast"] = cast;
  t["Constant"] = constant;
  t["ConstantOfShape"] = constant_of_shape;
  t["Shape"] = shape_op;
  t["Range"] = range;
  t["Equal"] = equal;
  t["Where"] = where;
  t["Expand"] = expand;
}

}  // namespace kcc::frontend::detail
