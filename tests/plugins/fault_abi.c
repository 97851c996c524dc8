/* fault_abi: a plugin built for ABI 99.0, which vigil must refuse naming
 * both versions. */
#include "vigil/plugin.h"

static const vigil_plugin_descriptor kDescriptor = {
    sizeof(vigil_plugin_descriptor), 99u << 16, "future", NULL, NULL, VIGIL_PLUGIN_RULE,
    NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

VIGIL_PLUGIN_EXPORT const vigil_plugin_descriptor* vigil_plugin_entry(void) { return &kDescriptor; }
