// EventBatch: the unit the router hands to a shard through its ring.
//
// Flat arrays sized once for `capacity` events of the schema's widths, so
// filling and reading a batch never allocates. A batch also carries the
// watermark to advance to after its events (the source's watermark may move
// with messages routed to other shards), the source start time, and the
// end-of-input mark. Owned by one thread at a time: the router fills it, the
// shard reads it and returns it through the free ring.
#pragma once

#include <cstdint>
#include <vector>

#include "vigil/engine/event.h"

namespace vigil {

struct EventBatch {
  EventBatch(size_t capacity, size_t fields, size_t tags, size_t keylists)
      : capacity(capacity), nfields(fields), ntags(tags), nkeys(keylists) {
    ts.resize(capacity);
    watermark.resize(capacity);
    ingest_ns.resize(capacity);
    source.resize(capacity);
    this->fields.resize(capacity * fields);
    this->tags.resize(capacity * tags);
    keys.resize(capacity * keylists);
    key_shards.resize(capacity * keylists);
    key_slots.resize(capacity * keylists);
  }

  bool full() const { return count == capacity; }
  void Reset() {
    count = 0;
    end_watermark = kMinTime;
    start_ts = kMinTime;
    end_of_input = false;
    last = false;
    checkpoint = 0;
  }
  Event Get(uint32_t i) const {
    Event e;
    e.ts = ts[i];
    e.watermark = watermark[i];
    e.ingest_ns = ingest_ns[i];
    e.source = source[i];
    e.fields = fields.data() + i * nfields;
    e.tags = tags.data() + i * ntags;
    e.keys = keys.data() + i * nkeys;
    e.key_shards = key_shards.data() + i * nkeys;
    e.key_slots = key_slots.data() + i * nkeys;
    return e;
  }

  const size_t capacity, nfields, ntags, nkeys;
  uint32_t count = 0;
  int64_t end_watermark = kMinTime;
  int64_t start_ts = kMinTime;
  bool end_of_input = false;
  bool last = false;  // the shard stops after this batch
  uint64_t checkpoint = 0;  // != 0: a checkpoint barrier after this batch
  std::vector<int64_t> ts, watermark, ingest_ns;
  std::vector<uint32_t> source;
  std::vector<double> fields;
  std::vector<uint32_t> tags;
  std::vector<KeyId> keys;
  std::vector<uint8_t> key_shards;
  std::vector<uint32_t> key_slots;
};

}  // namespace vigil
