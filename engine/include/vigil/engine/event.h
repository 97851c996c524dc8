// Event: one parsed message as the rules see it, plus the ids that name keys.
//
// An Event is a view into an event batch owned by one shard; it is valid only
// during the call it is passed to. Fields are doubles with NaN meaning "the
// message lacks this field" (JSON cannot carry NaN, so the encoding is
// unambiguous); tags are interned ids with 0 meaning "absent"; keys hold, per
// key list of the schema, the id of the key tuple (kNoKey when a tag of it is
// absent), the shard that owns that key and the key's slot on that shard.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace vigil {

using KeyId = uint32_t;
inline constexpr KeyId kNoKey = 0;
inline constexpr uint32_t kNoTag = 0;
inline constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

inline double NullValue() { return std::numeric_limits<double>::quiet_NaN(); }
inline bool IsNull(double v) { return std::isnan(v); }

struct Event {
  int64_t ts = 0;          // event time, epoch ms
  int64_t watermark = 0;   // the source watermark once this message arrived
  int64_t ingest_ns = 0;   // steady-clock ns when the message entered the engine
  uint32_t source = 0;     // index of the source
  const double* fields = nullptr;     // [schema.field_count()]
  const uint32_t* tags = nullptr;     // [schema.tag_count()]
  const KeyId* keys = nullptr;        // [schema.keylist_count()]
  const uint8_t* key_shards = nullptr;  // [schema.keylist_count()]
  const uint32_t* key_slots = nullptr;  // [schema.keylist_count()] KeyInfo::slot of each key
};

}  // namespace vigil
