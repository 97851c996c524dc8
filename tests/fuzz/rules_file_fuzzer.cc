// Fuzz target: a whole rules file through the loader, as `vigil check` reads
// it: LoadRulesText (YAML, environment references, engine/http/sources/
// sinks sections) then CompileRules (every rule kind, durations, keys,
// matches, expressions), then the formatted error list.
//
// Input: the file's text. The loader must report any problem as a
// ConfigErrors entry: an exception escaping it, or a crash, is a finding (so
// nothing here catches). Oracle: a file that loads and compiles without
// errors yields one rule per entry of its `rules:` list.
// Thread-safety: single-threaded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "vigil/engine/rules_file.h"
#include "vigil/rules/rule_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  vigil::ConfigErrors errors("fuzz.yaml");
  vigil::RulesFile file;
  if (vigil::LoadRulesText(text, "dir/fuzz.yaml", &file, errors) && errors.empty()) {
    vigil::Schema schema;
    static vigil::TagInterner tags;  // one per engine (renewed now and then: it only grows)
    if (tags.size() > 100000) tags.Clear();
    const auto rules = vigil::rules::CompileRules(file.rules, &schema, &tags, errors);
    if (errors.empty()) FUZZ_CHECK(rules.size() == file.rules.size());
  }
  for (const std::string& line : errors.Formatted()) FUZZ_CHECK(line.rfind("fuzz.yaml:", 0) == 0);
  return 0;
}
