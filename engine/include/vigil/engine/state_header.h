// The common header of every checkpointed key state (rule.h's
// KeyStateWriter): a format version and the alert lifecycle of the key, so
// that `vigil state inspect` and recovery can tell open alerts without
// knowing each rule kind's layout. The rule kind's own bytes follow.
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vigil/engine/codec.h"

namespace vigil {

struct StateHeader {
  static constexpr uint8_t kVersion = 1;
  uint8_t phase = 0;       // 0 OK, 1 PENDING, 2 FIRING
  int64_t raise_ts = 0;    // ts of the open alert's raise (FIRING)
  uint32_t count = 0;      // repeat count of the open alert
  bool firing() const { return phase == 2; }
};

inline void PutStateHeader(std::string* out, const StateHeader& h) {
  PutFixed8(out, StateHeader::kVersion);
  PutFixed8(out, h.phase);
  PutInt64(out, h.raise_ts);
  PutFixed32(out, h.count);
}

// False on a truncated header, an unknown version or phase.
inline bool GetStateHeader(Decoder* in, StateHeader* h) {
  uint8_t version = 0;
  if (!in->GetFixed8(&version) || version != StateHeader::kVersion) return false;
  return in->GetFixed8(&h->phase) && h->phase <= 2 && in->GetInt64(&h->raise_ts) && in->GetFixed32(&h->count);
}

}  // namespace vigil
