// Rule evaluation on parsed events, one shard: the 10 event rules of
// bench/rules/threshold.yaml, and the drift + window + deadman workload of
// bench/rules/timeaware.yaml. Items are events (each through every rule).
#include <benchmark/benchmark.h>

#include "bench_data.h"
#include "vigil/engine/json_parser.h"
#include "vigil/engine/key_table.h"

#ifndef VIGIL_BENCH_DIR
#define VIGIL_BENCH_DIR "bench"
#endif

namespace vigil::bench {
namespace {

class CountingOutput final : public AlertOutput {
 public:
  void Emit(const AlertRecord&) noexcept override { ++alerts; }
  uint64_t alerts = 0;
};

struct Workload {
  std::unique_ptr<LoadedRules> loaded;
  std::unique_ptr<KeyTable> keys;
  KeyStateArena arena;
  std::vector<std::unique_ptr<RuleShard>> shards;
  std::vector<int64_t> ts;
  std::vector<double> fields;
  std::vector<uint32_t> tags;
  std::vector<KeyId> key_ids;
  std::vector<uint8_t> key_shards;
  std::vector<uint32_t> key_slots;
  size_t nf = 0, nt = 0, nk = 0, n = 0;

  Event Get(size_t i) const {
    Event e;
    e.ts = ts[i];
    e.watermark = ts[i];
    e.fields = fields.data() + i * nf;
    e.tags = tags.data() + i * nt;
    e.keys = key_ids.data() + i * nk;
    e.key_shards = key_shards.data() + i * nk;
    e.key_slots = key_slots.data() + i * nk;
    return e;
  }
};

// `rules` is a file of bench/rules/, or (starting with "rules:") the text of one.
std::unique_ptr<Workload> Build(const char* rules, int64_t messages, int devices) {
  auto w = std::make_unique<Workload>();
  w->loaded = std::string(rules).rfind("rules:", 0) == 0 ? LoadRulesFromText(rules)
                                                          : LoadRules(std::string(VIGIL_BENCH_DIR) + "/rules/" + rules);
  if (!w->loaded) return nullptr;
  const Schema& schema = w->loaded->schema;
  w->keys = std::make_unique<KeyTable>(1);
  for (uint32_t r = 0; r < w->loaded->rules.size(); ++r) {
    ShardContext ctx{0, 1, r, w->keys.get(), w->loaded->tags.get(), &w->arena};
    w->shards.push_back(w->loaded->rules[r]->CreateShard(ctx));
  }
  JsonMessageParser parser(schema, MessageFormat{}, w->loaded->tags.get());
  w->nf = schema.field_count();
  w->nt = schema.tag_count();
  w->nk = schema.keylist_count();
  ParsedMessage m;
  for (const std::string& line : WarehouseLines(messages, devices)) {
    if (parser.Parse(line.data(), line.size(), line.size(), &m) != RejectReason::kNone) continue;
    w->ts.push_back(m.ts);
    w->fields.insert(w->fields.end(), m.fields.begin(), m.fields.end());
    w->tags.insert(w->tags.end(), m.tags.begin(), m.tags.end());
    for (uint32_t k = 0; k < w->nk; ++k) {
      std::vector<uint32_t> ids;
      for (uint32_t slot : schema.keylist(k)) ids.push_back(m.tags[slot]);
      const KeyId id = w->keys->Intern(k, ids.data(), ids.size(), *w->loaded->tags);
      w->key_ids.push_back(id);
      w->key_shards.push_back(0);
      w->key_slots.push_back(id == kNoKey ? 0 : w->keys->SlotOf(id));
    }
    ++w->n;
  }
  return w;
}

void RunWorkload(benchmark::State& state, const char* rules_file, int devices) {
  // Events keep increasing in time across benchmark iterations by replaying
  // the same data shifted forward, so time-aware state stays realistic.
  auto w = Build(rules_file, 1000000, devices);
  if (!w) {
    state.SkipWithError("cannot load the rules file");
    return;
  }
  CountingOutput out;
  size_t i = 0;
  int64_t shift = 0;
  const int64_t span = w->ts.back() - w->ts.front() + 10000;
  int64_t watermark = kMinTime;
  // As the pipeline's shard loop does: prefetch the state blocks of the keys
  // of the event kPrefetchAhead positions ahead.
  constexpr size_t kPrefetchAhead = 6;
  for (auto _ : state) {
    const size_t ahead = i + kPrefetchAhead < w->n ? i + kPrefetchAhead : i + kPrefetchAhead - w->n;
    const Event pe = w->Get(ahead);
    for (uint32_t k = 0; k < w->nk; ++k) {
      if (pe.keys[k] != kNoKey) w->arena.Prefetch(k, pe.key_slots[k]);
    }
    Event e = w->Get(i);
    e.ts += shift;
    e.watermark = e.ts > watermark ? (watermark = e.ts) : watermark;
    for (auto& r : w->shards) {
      if (e.watermark >= r->next_deadline()) r->OnWatermark(e.watermark, out);
      r->OnEvent(e, out);
    }
    if (++i == w->n) {
      i = 0;
      shift += span;
    }
  }
  size_t bytes = w->arena.MemoryBytes(), keys = 0;
  for (auto& r : w->shards) {
    bytes += r->MemoryBytes();
    keys = std::max(keys, r->KeyCount());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["alerts"] = static_cast<double>(out.alerts);
  state.counters["state_bytes_per_device"] = keys ? static_cast<double>(bytes) / static_cast<double>(keys) : 0;
}

void BM_TenEventRules(benchmark::State& state) { RunWorkload(state, "threshold.yaml", 10000); }
BENCHMARK(BM_TenEventRules)->MinTime(2.0);

void BM_DriftWindowDeadman(benchmark::State& state) { RunWorkload(state, "timeaware.yaml", 10000); }
BENCHMARK(BM_DriftWindowDeadman)->MinTime(2.0);

// The cost of the plugin boundary (issue: a trivial plugin rule costs at
// most 1.5x a built-in threshold rule per event): one built-in threshold
// rule against the same threshold as a plugin (bench/plugins/threshold_plugin.cc).
void BM_OneThresholdRule(benchmark::State& state) {
  RunWorkload(state, "rules:\n  - {name: hot, key: [device], when: temp > 25}\n", 10000);
}
BENCHMARK(BM_OneThresholdRule)->MinTime(2.0);

void BM_OnePluginRule(benchmark::State& state) {
  RunWorkload(state,
              "rules:\n  - {name: hot, key: [device], plugin: {path: " VIGIL_BENCH_THRESHOLD_PLUGIN
              ", config: {field: temp, limit: 25}}}\n",
              10000);
}
BENCHMARK(BM_OnePluginRule)->MinTime(2.0);

}  // namespace
}  // namespace vigil::bench
