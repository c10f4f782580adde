// frontend/onnx_import.cpp - the protobuf side of the importer: file, opset, initializers, inputs,
// names to tensors, outputs; each node goes through detail::import_node (onnx_ops.cpp).
#include "frontend/onnx_import.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "frontend/onnx_ops.h"

namespace kcc::frontend {

ModelError::ModelError(const std::string &path, const std::string &where, const std::string &msg)
    : UserError(SourceLoc{}, msg), text_(fmt::format("{}: {}error: {}", path, where.empty() ? "" : where + ": ", msg)) {}

std::pair<std::string, Shape> parse_input_shape(const std::string &spec) {
  auto bad = [&]() {
    return UserError(SourceLoc{}, fmt::format("--input-shape expects NAME=DIMS such as input=1x3x224x224; got '{}'", spec));
  };
  size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0) throw bad();
  std::string name = spec.substr(0, eq), dims = spec.substr(eq + 1);
  Shape shape;
  size_t pos = 0;
  while (pos < dims.size()) {
    size_t x = dims.find('x', pos);
    std::string d = dims.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    if (d.empty() || d.size() > 12 || d.find_first_not_of("0123456789") != std::string::npos) throw bad();
    shape.push_back(std::stoll(d));
    if (shape.back() <= 0) throw bad();
    if (x == std::string::npos) break;
    pos = x + 1;
    if (pos == dims.size()) throw bad();
  }
  return {name, shape};
}

namespace {

/// Why protobuf refused `bytes`: walks the top-level fields to tell a cut-off file from one that
/// is not a protobuf at all.
std::string why_unparsable(const std::string &bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t *>(bytes.data()),
                                            static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX)));
  for (;;) {
    int at = in.CurrentPosition();
    uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.CurrentPosition() >= static_cast<int>(bytes.size())) break;
      return fmt::format("it is not a protobuf (bad field tag at byte {})", at);
    }
    uint64_t v;
    uint32_t n32;
    switch (tag & 7) {
      case 0:
        if (!in.ReadVarint64(&v)) return fmt::format("the file is truncated (a value at byte {} is cut off)", at);
        break;
      case 1:
        if (!in.Skip(8)) return fmt::format("the file is truncated (a value at byte {} is cut off)", at);
        break;
      case 5:
        if (!in.Skip(4)) return fmt::format("the file is truncated (a value at byte {} is cut off)", at);
        break;
      case 2:
        if (!in.ReadVarint32(&n32)) return fmt::format("the file is truncated (a length at byte {} is cut off)", at);
        if (!in.Skip(static_cast<int>(n32)))
          return fmt::format("the file is truncated: field {} at byte {} needs {} bytes, {} are left", tag >> 3, at, n32,
                             bytes.size() - static_cast<size_t>(in.CurrentPosition()));
        break;
      default:
        return fmt::format("it is not a protobuf (bad wire type {} at byte {})", tag & 7, at);
    }
  }
  return "a field does not match ONNX's schema (it is not an ONNX model, or it is damaged)";
}

std::optional<ElemType> elem_type_of(int onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT: return ElemType::F32;
    case onnx::TensorProto::DOUBLE: return ElemType::F64;
    case onnx::TensorProto::INT8: return ElemType::I8;
    case onnx::TensorProto::UINT8: return ElemType::U8;
    case onnx::TensorProto::INT32: return ElemType::I32;
    case onnx::TensorProto::INT64: return ElemType::I64;
    case onnx::TensorProto::BOOL: return ElemType::Bool;
    default: return std::nullopt;
  }
}

std::string onnx_type_name(int onnx_type) {
  if (onnx::TensorProto_DataType_IsValid(onnx_type))
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(onnx_type));
  return fmt::format("#{}", onnx_type);
}

class Importer {
 public:
  Importer(const std::string &path, const ImportOptions &options) : path_(path), options_(options) {}

  Graph run(const std::string &bytes) {
    onnx::ModelProto model = parse(bytes);
    ctx_.path = path_;
    ctx_.graph = &g_;
    ctx_.opset = check_opset(model);
    g_.opset = ctx_.opset;
    const onnx::GraphProto &graph = model.graph();
    g_.name = graph.name();
    for (const auto &init : graph.initializer()) add_initializer(init);
    if (graph.sparse_initializer_size() > 0) fail("sparse initializers are not supported");
    for (const auto &in : graph.input())
      if (!names_.count(in.name())) add_input(in);
    for (const auto &[name, shape] : options_.input_shapes)
      if (!pinned_used_.count(name)) fail(fmt::format("--input-shape names '{}', which is not an input of the model; inputs: {}", name, input_list(graph)));
    count_uses(graph);
    for (int i = 0; i < graph.node_size(); ++i) import(graph.node(i), i);
    for (const auto &out : graph.output()) add_output(out);
    return compact();
  }

 private:
  [[noreturn]] void fail(const std::string &msg) const { throw ModelError(path_, "", msg); }

  onnx::ModelProto parse(const std::string &bytes) {
    if (bytes.empty()) fail("the file is empty");
    if (bytes.size() > INT32_MAX) fail("the file is larger than 2 GiB; store the weights as external data");
    onnx::ModelProto model;
    if (!model.ParseFromString(bytes)) fail("cannot read the file as an ONNX model: " + why_unparsable(bytes));
    if (!model.has_graph() || model.ir_version() == 0)
      fail("not an ONNX model (it has no graph or no IR version)");
    return model;
  }

  int64_t check_opset(const onnx::ModelProto &model) {
    int64_t opset = -1;
    for (const auto &o : model.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
    if (opset < 0) fail("the model imports no ai.onnx opset");
    if (opset < 11 || opset > 18)
      fail(fmt::format("opset {} is not supported; kcc reads ai.onnx opsets 11 to 18 (re-export with, e.g., "
                       "opset_version=13)",
                       opset));
    return opset;
  }

  TensorId new_tensor(const std::string &name) {
    g_.tensors.push_back(Tensor{});
    g_.tensors.back().name = name;
    TensorId id = static_cast<TensorId>(g_.tensors.size() - 1);
    if (!name.empty()) names_[name] = id;
    return id;
  }

  std::string external_data(const onnx::TensorProto &t, size_t bytes_needed) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::atoll(kv.value().c_str());
      else if (kv.key() == "length") length = std::atoll(kv.value().c_str());
    }
    if (location.empty()) fail(fmt::format("initializer '{}' keeps its data externally but names no file", t.name()));
    size_t slash = path_.rfind('/');
    std::string file = (slash == std::string::npos ? std::string() : path_.substr(0, slash + 1)) + location;
    std::ifstream in(file, std::ios::binary);
    if (!in) fail(fmt::format("cannot read '{}', the external data of initializer '{}'", file, t.name()));
    if (length >= 0 && static_cast<size_t>(length) != bytes_needed)
      fail(fmt::format("initializer '{}' has {} bytes of external data but needs {}", t.name(), length, bytes_needed));
    in.seekg(0, std::ios::end);
    int64_t size = in.tellg();
    if (offset < 0 || size < offset || static_cast<size_t>(size - offset) < bytes_needed)
      fail(fmt::format("'{}' ends before the {} bytes of initializer '{}' at offset {}", file, bytes_needed, t.name(), offset));
    std::string data(bytes_needed, '\0');
    in.seekg(offset);
    if (offset < 0 || !in.read(data.data(), static_cast<std::streamsize>(bytes_needed)))
      fail(fmt::format("'{}' ends before the {} bytes of initializer '{}' at offset {}", file, bytes_needed, t.name(), offset));
    return data;
  }

  /// Tensor `t` of an initializer or a tensor-valued attribute, with its data.
  Tensor read_tensor(const onnx::TensorProto &t, const std::string &what) {
    Tensor out;
    out.name = t.name();
    auto type = elem_type_of(t.data_type());
    if (!type) fail(fmt::format("{} has element type {}, which kcc does not support", what, onnx_type_name(t.data_type())));
    out.type = *type;
    for (int64_t d : t.dims()) {
      if (d < 0) fail(fmt::format("{} has a negative dimension {}", what, d));
      out.shape.push_back(d);
    }
    int64_t n = num_elements(out.shape);
    if (n > INT64_MAX / 8) fail(fmt::format("{} has too many elements ({})", what, shape_to_string(out.shape)));
    size_t bytes = static_cast<size_t>(n) * static_cast<size_t>(elem_size(out.type));
    auto need = [&](int64_t have) {
      if (have != n)
        fail(fmt::format("{} has {} elements of data but its shape {} needs {}", what, have, shape_to_string(out.shape), n));
    };
    // The sizes are checked before anything is allocated: a damaged shape must not ask for
    // terabytes.
    std::vector<uint8_t> data;
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      std::string ext = external_data(t, bytes);
      data.assign(ext.begin(), ext.end());
    } else if (t.has_raw_data()) {
      if (t.raw_data().size() != bytes)
        fail(fmt::format("{} has {} bytes of data but its shape {} of {} needs {}", what, t.raw_data().size(),
                         shape_to_string(out.shape), elem_type_name(out.type), bytes));
      data.assign(t.raw_data().begin(), t.raw_data().end());
    } else {
      int64_t have = out.type == ElemType::F32   ? t.float_data_size()
                     : out.type == ElemType::F64 ? t.double_data_size()
                     : out.type == ElemType::I64 ? t.int64_data_size()
                                                 : t.int32_data_size();
      need(have);
      data.resize(bytes);
      switch (out.type) {
        case ElemType::F32:
          std::memcpy(data.data(), t.float_data().data(), bytes);
          break;
        case ElemType::F64:
          std::memcpy(data.data(), t.double_data().data(), bytes);
          break;
        case ElemType::I64:
          std::memcpy(data.data(), t.int64_data().data(), bytes);
          break;
        case ElemType::I32:
          std::memcpy(data.data(), t.int32_data().data(), bytes);
          break;
        case ElemType::I8:
        case ElemType::U8:
        case ElemType::Bool:
          for (int64_t i = 0; i < n; ++i) data[static_cast<size_t>(i)] = static_cast<uint8_t>(t.int32_data(static_cast<int>(i)));
          break;
      }
    }
    out.data = std::move(data);
    return out;
  }

  void add_initializer(const onnx::TensorProto &init) {
    if (init.name().empty()) fail("an initializer has no name");
    if (names_.count(init.name())) fail(fmt::format("initializer '{}' is defined twice", init.name()));
    Tensor t = read_tensor(init, fmt::format("initializer '{}'", init.name()));
    g_.tensors[static_cast<size_t>(new_tensor(init.name()))] = std::move(t);
  }

  std::string input_list(const onnx::GraphProto &graph) const {
    std::vector<std::string> names;
    for (const auto &in : graph.input())
      if (!(names_.count(in.name()) && g_.tensor(names_.at(in.name())).is_constant())) names.push_back("'" + in.name() + "'");
    return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
  }

  void add_input(const onnx::ValueInfoProto &in) {
    if (in.name().empty()) fail("a graph input has no name");
    if (!in.type().has_tensor_type())
      fail(fmt::format("input '{}' is not a tensor (sequences and maps are not supported)", in.name()));
    const auto &tt = in.type().tensor_type();
    auto type = elem_type_of(tt.elem_type());
    if (!type) fail(fmt::format("input '{}' has element type {}, which kcc does not support", in.name(), onnx_type_name(tt.elem_type())));
    auto pin = options_.input_shapes.find(in.name());
    if (!tt.has_shape() && pin == options_.input_shapes.end())
      fail(fmt::format("input '{}' has no shape; pin it with --input-shape {}=DIMS", in.name(), in.name()));
    Shape shape;
    std::string example;
    if (tt.has_shape()) {
      std::vector<std::string> ex;
      for (const auto &d : tt.shape().dim()) ex.push_back(d.has_dim_value() && d.dim_value() > 0 ? std::to_string(d.dim_value()) : "1");
      example = fmt::format("{}={}", in.name(), fmt::join(ex, "x"));
    }
    if (pin != options_.input_shapes.end()) {
      pinned_used_.insert(in.name());
      shape = pin->second;
      if (tt.has_shape()) {
        if (tt.shape().dim_size() != static_cast<int>(shape.size()))
          fail(fmt::format("--input-shape gives input '{}' rank {} ({}) but the model declares rank {}", in.name(),
                           shape.size(), shape_to_string(shape), tt.shape().dim_size()));
        for (int i = 0; i < tt.shape().dim_size(); ++i) {
          const auto &d = tt.shape().dim(i);
          if (d.has_dim_value() && d.dim_value() != shape[static_cast<size_t>(i)])
            fail(fmt::format("--input-shape gives input '{}' dimension {} = {} but the model fixes it to {}", in.name(), i,
                             shape[static_cast<size_t>(i)], d.dim_value()));
        }
      }
    } else {
      for (int i = 0; i < tt.shape().dim_size(); ++i) {
        const auto &d = tt.shape().dim(i);
        if (d.has_dim_value() && d.dim_value() > 0) {
          shape.push_back(d.dim_value());
          continue;
        }
        std::string what = d.has_dim_param() && !d.dim_param().empty() ? fmt::format("dimension '{}'", d.dim_param())
                                                                         : fmt::format("unknown dimension {}", i);
        fail(fmt::format("input '{}' has a dynamic {}; pin it with --input-shape {}", in.name(), what, example));
      }
    }
    num_elements(shape);
    TensorId id = new_tensor(in.name());
    g_.tensors[static_cast<size_t>(id)].type = *type;
    g_.tensors[static_cast<size_t>(id)].shape = shape;
    g_.inputs.push_back(id);
  }

  void count_uses(const onnx::GraphProto &graph) {
    for (const auto &n : graph.node())
      for (const auto &i : n.input()) used_.insert(i);
    for (const auto &o : graph.output()) used_.insert(o.name());
  }

  /// The graph's tensor for input `name` of node `n`, through aliases.
  TensorId resolve(const detail::OnnxNode &n, const std::string &name, size_t i) {
    auto it = names_.find(name);
    if (it == names_.end())
      ctx_.fail(n, fmt::format("input {} '{}' is not a graph input, an initializer or the output of an earlier node", i, name));
    TensorId id = it->second;
    for (auto a = ctx_.aliases.find(id); a != ctx_.aliases.end(); a = ctx_.aliases.find(id)) id = a->second;
    return id;
  }

  Attribute read_attr(const detail::OnnxNode &n, const onnx::AttributeProto &a) {
    using A = onnx::AttributeProto;
    switch (a.type()) {
      case A::INT: return Attribute::of_int(a.i());
      case A::FLOAT: return Attribute::of_float(a.f());
      case A::STRING: return Attribute::of_string(a.s());
      case A::INTS: return Attribute::of_ints({a.ints().begin(), a.ints().end()});
      case A::FLOATS: return Attribute::of_floats({a.floats().begin(), a.floats().end()});
      case A::STRINGS: {
        Attribute r;
        r.kind = Attribute::Kind::Strings;
        r.strings.assign(a.strings().begin(), a.strings().end());
        return r;
      }
      default:
        ctx_.fail(n, fmt::format("attribute '{}' has a kind kcc does not read ({})", a.name(),
                                 A::AttributeType_Name(a.type())));
    }
  }

  void import(const onnx::NodeProto &proto, int index) {
    detail::OnnxNode n;
    n.op_type = proto.op_type();
    n.name = proto.name();
    n.index = index;
    if (!proto.domain().empty() && proto.domain() != "ai.onnx")
      ctx_.fail(n, fmt::format("operator '{}' of domain '{}' is not supported; kcc reads the ai.onnx domain only",
                               proto.op_type(), proto.domain()));
    for (int i = 0; i < proto.input_size(); ++i)
      n.inputs.push_back(proto.input(i).empty() ? -1 : resolve(n, proto.input(i), static_cast<size_t>(i)));
    for (const auto &a : proto.attribute()) {
      if (a.type() == onnx::AttributeProto::TENSOR)
        n.tensor_attrs[a.name()] = read_tensor(a.t(), fmt::format("node {}: attribute '{}'", index, a.name()));
      else if (a.type() == onnx::AttributeProto::SPARSE_TENSOR)
        ctx_.fail(n, fmt::format("attribute '{}' is a sparse tensor, which kcc does not support", a.name()));
      else
        n.attrs[a.name()] = read_attr(n, a);
    }
    for (const auto &o : proto.output()) {
      if (!o.empty() && names_.count(o)) ctx_.fail(n, fmt::format("output '{}' is defined twice", o));
      n.outputs.push_back(o.empty() ? -1 : new_tensor(o));
      n.output_used.push_back(!o.empty() && used_.count(o));
    }
    if (auto node = detail::import_node(ctx_, n)) g_.nodes.push_back(std::move(*node));
  }

  void add_output(const onnx::ValueInfoProto &out) {
    auto it = names_.find(out.name());
    if (it == names_.end()) fail(fmt::format("output '{}' is not produced by any node", out.name()));
    TensorId id = it->second;
    while (ctx_.aliases.count(id)) id = ctx_.aliases.at(id);
    const Tensor &t = g_.tensor(id);
    if (out.type().has_tensor_type() && out.type().tensor_type().has_shape()) {
      const auto &dims = out.type().tensor_type().shape().dim();
      bool conflict = dims.size() != static_cast<int>(t.shape.size());
      for (int i = 0; !conflict && i < dims.size(); ++i)
        conflict = dims[i].has_dim_value() && dims[i].dim_value() != t.shape[static_cast<size_t>(i)];
      if (conflict) {
        std::vector<std::string> declared;
        for (const auto &d : dims) declared.push_back(d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
        fail(fmt::format("output '{}' is declared as {} but its inferred shape is {}", out.name(),
                         fmt::join(declared, "x"), shape_to_string(t.shape)));
      }
    }
    if (t.type != ElemType::F32)
      fail(fmt::format("output '{}' is {}: only float outputs are supported", out.name(), elem_type_name(t.type)));
    // An output that is an input, or another output under a second name (Identity removed),
    // is a tensor of its own: a same-shape Reshape (a view) that the lowering copies. An output
    // that an Identity renamed otherwise keeps the model's name.
    bool taken = is_graph_input(id) || std::find(g_.outputs.begin(), g_.outputs.end(), id) != g_.outputs.end();
    if (taken && !t.is_constant())
      id = own_output(id, out.name());
    else if (id != it->second && !t.is_constant())
      g_.tensors[static_cast<size_t>(id)].name = out.name();
    g_.outputs.push_back(id);
  }

  /// A new tensor `name` holding `of`'s values (a same-shape Reshape of it).
  TensorId own_output(TensorId of, const std::string &name) {
    Node n;
    n.op = OpKind::Reshape;
    n.inputs = {of};
    TensorId id = new_tensor("");
    Tensor &t = g_.tensors[static_cast<size_t>(id)];
    t.name = name;
    t.type = g_.tensor(of).type;
    t.shape = g_.tensor(of).shape;
    n.attrs["shape"] = Attribute::of_ints(t.shape);
    n.outputs = {id};
    g_.nodes.push_back(std::move(n));
    return id;
  }

  bool is_graph_input(TensorId id) const {
    return std::find(g_.inputs.begin(), g_.inputs.end(), id) != g_.inputs.end();
  }

  /// Drops tensors nothing reads (folded intermediates, removed nodes' outputs, unused weights)
  /// and renumbers the rest.
  Graph compact() {
    std::vector<TensorId> remap(g_.tensors.size(), -1);
    Graph out;
    out.name = g_.name;
    out.opset = g_.opset;
    auto keep = [&](TensorId id) {
      if (remap[static_cast<size_t>(id)] < 0) {
        remap[static_cast<size_t>(id)] = static_cast<TensorId>(out.tensors.size());
        out.tensors.push_back(std::move(g_.tensors[static_cast<size_t>(id)]));
        if (out.tensors.back().is_constant()) out.initializers.push_back(remap[static_cast<size_t>(id)]);
      }
      return remap[static_cast<size_t>(id)];
    };
    for (TensorId id : g_.inputs) out.inputs.push_back(keep(id));
    for (Node &n : g_.nodes) {
      for (TensorId &id : n.inputs) id = keep(id);
      for (TensorId &id : n.outputs) id = keep(id);
      out.nodes.push_back(std::move(n));
    }
    for (TensorId id : g_.outputs) out.outputs.push_back(keep(id));
    return out;
  }

  std::string path_;
  const ImportOptions &options_;
  Graph g_;
  detail::ImportContext ctx_;
  std::unordered_map<std::string, TensorId> names_;
  std::set<std::string> used_;
  std::set<std::string> pinned_used_;
};

}  // namespace

Graph import_onnx(const std::string &path, const ImportOptions &options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(SourceLoc{}, fmt::format("cannot read '{}'", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return import_onnx_bytes(ss.str(), path, options);
}

Graph import_onnx_bytes(const std::string &bytes, const std::string &path, const ImportOptions &options) {
  return Importer(path, options).run(bytes);
}

}  // namespace kcc::frontend
