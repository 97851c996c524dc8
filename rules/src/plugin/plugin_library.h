// PluginLibrary: one plugin shared library, opened and checked.
//
// Open() dlopens the file (RTLD_NOW | RTLD_LOCAL), finds the entry symbol
// of <vigil/plugin.h>, and checks the descriptor it returns: ABI major equal
// to vigil's, minor not newer than vigil's, a struct at least as large as
// the ABI 1.0 descriptor, a name, the kind the caller expects, and the
// functions that kind needs. Every refusal names the file and the reason.
// The library stays loaded as long as a PluginLibrary refers to it.
//
// Thread-safety: immutable after Open; share it with shared_ptr.
#pragma once

#include <memory>
#include <string>

#include "vigil/engine/status.h"
#include "vigil/plugin.h"

namespace vigil::rules {

class PluginLibrary {
 public:
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  // Loads `path` and checks that it holds a plugin of `kind`.
  static Result<std::shared_ptr<const PluginLibrary>> Open(const std::string& path, vigil_plugin_kind kind);

  const vigil_plugin_descriptor& descriptor() const { return *descriptor_; }
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  // Identifies the file (device and inode, else the path): two paths to one
  // library give the same id.
  const std::string& file_id() const { return file_id_; }

 private:
  PluginLibrary(void* handle, const vigil_plugin_descriptor* d, std::string path);

  void* handle_;
  const vigil_plugin_descriptor* descriptor_;
  std::string path_;
  std::string name_;
  std::string file_id_;
};

// "1.0" from an abi_version word.
std::string AbiVersionText(uint32_t abi_version);

}  // namespace vigil::rules
