// ir/type.h - scalar and vector element types of kcc.
#pragma once
#include <cstdint>
#include <string>

namespace kcc {

/// Scalar element kinds. f32 is implemented end to end; the others are parsed,
/// type-checked and carried through the IR so that they are not designed out.
enum class ScalarKind : uint8_t { F32, F16, BF16, F64, I8, I32, I64, Bool };

/// A scalar or fixed-width vector type. `lanes == 1` is a scalar.
struct Type {
  ScalarKind kind = ScalarKind::F32;
  int lanes = 1;

  static Type f32(int lanes = 1) { return {ScalarKind::F32, lanes}; }
  static Type f64(int lanes = 1) { return {ScalarKind::F64, lanes}; }
  static Type i32(int lanes = 1) { return {ScalarKind::I32, lanes}; }
  static Type i64(int lanes = 1) { return {ScalarKind::I64, lanes}; }
  static Type boolean(int lanes = 1) { return {ScalarKind::Bool, lanes}; }

  bool is_float() const {
    return kind == ScalarKind::F32 || kind == ScalarKind::F16 || kind == ScalarKind::BF16 ||
           kind == ScalarKind::F64;
  }
  bool is_int() const { return kind == ScalarKind::I8 || kind == ScalarKind::I32 || kind == ScalarKind::I64; }
  bool is_bool() const { return kind == ScalarKind::Bool; }
  bool is_vector() const { return lanes > 1; }
  Type element() const { return {kind, 1}; }
  Type with_lanes(int n) const { return {kind, n}; }
  int bits() const;
  int bytes() const { return (bits() + 7) / 8; }

  bool operator==(const Type &o) const { return kind == o.kind && lanes == o.lanes; }
  bool operator!=(const Type &o) const { return !(*this == o); }
};

/// Two's complement wrap of `v` to the width of the integer kind `k` (bool: v != 0); other kinds
/// return v unchanged.
int64_t wrap_int(ScalarKind k, int64_t v);

/// The range of the integer kind `k` (bool: 0 and 1); internal error for float kinds.
int64_t int_min(ScalarKind k);
int64_t int_max(ScalarKind k);

/// "f32", "i32", ... ; vectors print as "f32x8".
std::string to_string(Type t);
std::string to_string(ScalarKind k);
/// Parses "f32", "f16", "bf16", "f64", "i8", "i32", "i64", "bool"; returns false if unknown.
bool parse_scalar_kind(const std::string &s, ScalarKind &out);

}  // namespace kcc
