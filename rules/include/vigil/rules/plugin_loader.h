// LoadDecoders: the `decoder:` entries of the sources of a rules file ->
// payload decoders (vigil/engine/payload_decoder.h) backed by decoder
// plugins (<vigil/plugin.h>), appended to each source's MessageFormat.
//
//   sources:
//     - name: lora
//       mqtt: {...}
//       decoder:                       # one map, or a list tried in order
//         path: ./libdecoder_hexframe.so   # relative to the rules file
//         config: {layout: th-v2}
//         match: {devicetype: th-v2}   # message fields that must equal these
//         input: payload               # the string field holding the frame
//
// A plugin that cannot be loaded or refuses its config is an error in
// `errors` at the entry's line. Load-time only; single-threaded.
#pragma once

#include "vigil/engine/config_errors.h"
#include "vigil/engine/rules_file.h"

namespace vigil::rules {

void LoadDecoders(RulesFile* file, ConfigErrors& errors);

}  // namespace vigil::rules
