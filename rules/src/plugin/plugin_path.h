// Where a plugin path of the rules file points: relative paths are taken
// from the rules file's directory; a bare file name ("librule_x.so") too,
// so that dlopen never searches the system library path for it.
#pragma once

#include <string>

namespace vigil::rules {

inline std::string ResolvePluginPath(const std::string& path, const std::string& directory) {
  if (!path.empty() && path[0] == '/') return path;
  if (directory.empty() || directory == ".") return path.find('/') == std::string::npos ? "./" + path : path;
  return directory + "/" + path;
}

}  // namespace vigil::rules
