// Shared fixtures of the micro-benchmarks: warehouse-like messages generated
// with the simulator, loaded rules, parsed events.
#pragma once

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sim/warehouse_sim.h"
#include "vigil/engine/config_errors.h"
#include "vigil/engine/rules_file.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"
#include "vigil/rules/rule_loader.h"

namespace vigil::bench {

// `n` NDJSON lines for `devices` devices, 10 s period, no anomalies.
inline std::vector<std::string> WarehouseLines(int64_t n, int devices) {
  sim::SimOptions o;
  o.devices = devices;
  o.count = n;
  std::ostringstream out;
  (void)sim::GenerateWarehouse(o, out);
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct LoadedRules {
  Schema schema;
  std::unique_ptr<TagInterner> tags = std::make_unique<TagInterner>();
  std::vector<std::shared_ptr<const Rule>> rules;
};

inline std::unique_ptr<LoadedRules> LoadRulesFromText(const std::string& text) {
  auto out = std::make_unique<LoadedRules>();
  ConfigErrors errors("bench");
  RulesFile file;
  if (!LoadRulesText(text, "bench", &file, errors)) return nullptr;
  out->rules = rules::CompileRules(file.rules, &out->schema, out->tags.get(), errors);
  if (!errors.empty()) return nullptr;
  return out;
}

inline std::unique_ptr<LoadedRules> LoadRules(const std::string& path) {
  auto out = std::make_unique<LoadedRules>();
  ConfigErrors errors(path);
  RulesFile file;
  if (!LoadRulesFile(path, &file, errors)) return nullptr;
  out->rules = rules::CompileRules(file.rules, &out->schema, out->tags.get(), errors);
  if (!errors.empty()) return nullptr;
  return out;
}

}  // namespace vigil::bench
