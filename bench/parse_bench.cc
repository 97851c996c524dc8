// Parsing: vigil's JsonMessageParser (validating, extracting the schema's
// fields and tags, timestamp) against a bare simdjson on-demand parse that
// reads the same three values.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "bench_data.h"
#include "vigil/engine/json_parser.h"

namespace vigil::bench {
namespace {

const std::vector<std::string>& Lines() {
  static const std::vector<std::string> lines = WarehouseLines(100000, 1000);
  return lines;
}

void BM_JsonMessageParser(benchmark::State& state) {
  Schema schema;
  schema.AddField("temp");
  schema.AddField("hum");
  schema.AddKeyList({"device"});
  schema.AddKeyList({"zone"});
  TagInterner tags;
  JsonMessageParser parser(schema, MessageFormat{}, &tags);
  ParsedMessage m;
  const auto& lines = Lines();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& l = lines[i];
    if (++i == lines.size()) i = 0;
    benchmark::DoNotOptimize(parser.Parse(l.data(), l.size(), l.capacity(), &m));
    bytes += l.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_JsonMessageParser);

void BM_BareSimdjsonOnDemand(benchmark::State& state) {
  simdjson::ondemand::parser parser;
  const auto& lines = Lines();
  std::vector<simdjson::padded_string> padded;
  for (const auto& l : lines) padded.emplace_back(l);
  size_t i = 0;
  for (auto _ : state) {
    auto doc = parser.iterate(padded[i]);
    if (++i == padded.size()) i = 0;
    double temp = 0;
    int64_t ts = 0;
    std::string_view device;
    for (auto field : doc.get_object()) {
      std::string_view key = field.unescaped_key();
      if (key == "ts") ts = field.value().get_int64();
      else if (key == "temp") temp = field.value().get_double();
      else if (key == "device") device = field.value().get_string();
    }
    benchmark::DoNotOptimize(temp);
    benchmark::DoNotOptimize(ts);
    benchmark::DoNotOptimize(device);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BareSimdjsonOnDemand);

}  // namespace
}  // namespace vigil::bench
