// Schema: what the loaded rules need out of a message.
//
// Built once at load time from the rules (field paths such as "temp" or
// "payload.temp", tag names, the key tag lists) and immutable afterwards, so
// every thread may read it. Parsing extracts only what the schema names: a
// field becomes a slot in Event::fields, a tag a slot in Event::tags, and each
// distinct key tag list a slot in Event::keys.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil {

class Schema {
 public:
  // Returns the slot of a numeric field path, adding it if new.
  uint32_t AddField(std::string_view path);
  // Returns the slot of a tag name, adding it if new.
  uint32_t AddTag(std::string_view name);
  // Returns the slot of a key made of these tag names (in this order), adding it if new.
  uint32_t AddKeyList(const std::vector<std::string>& tag_names);

  int FindField(std::string_view path) const;  // -1 when absent
  int FindTag(std::string_view name) const;    // -1 when absent

  size_t field_count() const { return fields_.size(); }
  size_t tag_count() const { return tags_.size(); }
  size_t keylist_count() const { return keylists_.size(); }
  const std::string& field_path(uint32_t slot) const { return fields_[slot]; }
  const std::string& tag_name(uint32_t slot) const { return tags_[slot]; }
  // Tag slots of key list `slot`, in the rule's order.
  const std::vector<uint32_t>& keylist(uint32_t slot) const { return keylists_[slot]; }

 private:
  std::vector<std::string> fields_;
  std::vector<std::string> tags_;
  std::vector<std::vector<uint32_t>> keylists_;
  std::unordered_map<std::string, uint32_t> field_index_;
  std::unordered_map<std::string, uint32_t> tag_index_;
};

}  // namespace vigil
