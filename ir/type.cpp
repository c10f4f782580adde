#include "ir/type.h"

#include "ir/diag.h"

namespace kcc {

int Type::bits() const {
  switch (kind) {
    case ScalarKind::F32: return 32;
    case ScalarKind::F16: return 16;
    case ScalarKind::BF16: return 16;
    case ScalarKind::F64: return 64;
    case ScalarKind::I8: return 8;
    case ScalarKind::I32: return 32;
    case ScalarKind::I64: return 64;
    case ScalarKind::Bool: return 1;
  }
  return 0;
}

int64_t wrap_int(ScalarKind k, int64_t v) {
  switch (k) {
    case ScalarKind::I8: return static_cast<int8_t>(v);
    case ScalarKind::I32: return static_cast<int32_t>(v);
    case ScalarKind::Bool: return v != 0;
    case ScalarKind::I64:
    case ScalarKind::F32:
    case ScalarKind::F16:
    case ScalarKind::BF16:
    case ScalarKind::F64: return v;
  }
  return v;
}

int64_t int_min(ScalarKind k) {
  switch (k) {
    case ScalarKind::I8: return INT8_MIN;
    case ScalarKind::I32: return INT32_MIN;
    case ScalarKind::I64: return INT64_MIN;
    case ScalarKind::Bool: return 0;
    case ScalarKind::F32:
    case ScalarKind::F16:
    case ScalarKind::BF16:
    case ScalarKind::F64: break;
  }
  KCC_INTERNAL(false, "int_min of a float kind");
  return 0;
}

int64_t int_max(ScalarKind k) {
  switch (k) {
    case ScalarKind::I8: return INT8_MAX;
    case ScalarKind::I32: return INT32_MAX;
    case ScalarKind::I64: return INT64_MAX;
    case ScalarKind::Bool: return 1;
    case ScalarKind::F32:
    case ScalarKind::F16:
    case ScalarKind::BF16:
    case ScalarKind::F64: break;
  }
  KCC_INTERNAL(false, "int_max of a float kind");
  return 0;
}

std::string to_string(ScalarKind k) {
  switch (k) {
    case ScalarKind::F32: return "f32";
    case ScalarKind::F16: return "f16";
    case ScalarKind::BF16: return "bf16";
    case ScalarKind::F64: return "f64";
    case ScalarKind::I8: return "i8";
    case ScalarKind::I32: return "i32";
    case ScalarKind::I64: return "i64";
    case ScalarKind::Bool: return "bool";
  }
  return "?";
}

std::string to_string(Type t) {
  std::string s = to_string(t.kind);
  if (t.lanes > 1) s += "x" + std::to_string(t.lanes);
  return s;
}

bool parse_scalar_kind(const std::string &s, ScalarKind &out) {
  static const ScalarKind all[] = {ScalarKind::F32, ScalarKind::F16, ScalarKind::BF16, ScalarKind::F64,
                                   ScalarKind::I8,  ScalarKind::I32, ScalarKind::I64,  ScalarKind::Bool};
  for (ScalarKind k : all) {
    if (to_string(k) == s) {
      out = k;
      return true;
    }
  }
  return false;
}

}  // namespace kcc
