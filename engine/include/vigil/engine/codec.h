// Fixed-width little-endian encoding for checkpointed state (rule states,
// aggregates, source positions), in the spirit of LevelDB's
// util/coding.h: PutX appends to a std::string, Decoder reads from a
// string_view and remembers the first failure. Byte order is fixed, so state
// written on one host reads on any other. Thread-safety: plain values.
#pragma once

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil {

inline void PutFixed8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }

inline void PutFixed32(std::string* out, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out->append(buf, 4);
}

inline void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out->append(buf, 8);
}

inline void PutInt64(std::string* out, int64_t v) { PutFixed64(out, static_cast<uint64_t>(v)); }
inline void PutDouble(std::string* out, double v) { PutFixed64(out, std::bit_cast<uint64_t>(v)); }
// A length-prefixed byte string (32-bit length).
inline void PutBytes(std::string* out, std::string_view v) {
  PutFixed32(out, static_cast<uint32_t>(v.size()));
  out->append(v.data(), v.size());
}

// Reads values in order from `in`, which must outlive the Decoder. After the
// first read past the end every Get returns false and ok() stays false.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  bool GetFixed8(uint8_t* v) {
    if (!Need(1)) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool GetFixed32(uint32_t* v) {
    if (!Need(4)) return false;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) r |= uint32_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(4);
    *v = r;
    return true;
  }
  bool GetFixed64(uint64_t* v) {
    if (!Need(8)) return false;
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r |= uint64_t{static_cast<uint8_t>(in_[i])} << (8 * i);
    in_.remove_prefix(8);
    *v = r;
    return true;
  }
  bool GetInt64(int64_t* v) {
    uint64_t u;
    if (!GetFixed64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool GetDouble(double* v) {
    uint64_t u;
    if (!GetFixed64(&u)) return false;
    *v = std::bit_cast<double>(u);
    return true;
  }

  bool GetBytes(std::string_view* v) {
    uint32_t n = 0;
    if (!GetFixed32(&n) || !Need(n)) return false;
    *v = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }

  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size(); }
  bool AtEnd() const { return ok_ && in_.empty(); }

 private:
  bool Need(size_t n) {
    if (ok_ && in_.size() >= n) return true;
    ok_ = false;
    return false;
  }

  std::string_view in_;
  bool ok_ = true;
};

}  // namespace vigil
