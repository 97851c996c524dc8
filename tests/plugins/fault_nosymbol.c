/* fault_nosymbol: a shared library without vigil_plugin_entry. */
int not_a_vigil_plugin(void) { return 42; }
