/* vigil plugin ABI: custom rules and payload decoders as shared libraries.
 *
 * A plugin is a shared library that exports one C function,
 *
 *     const vigil_plugin_descriptor* vigil_plugin_entry(void);
 *
 * returning a descriptor that lives as long as the library. vigil loads the
 * library named by a rule's `plugin: {path: ...}` or a source's
 * `decoder: {path: ...}`, checks the descriptor and calls its functions.
 *
 * Compatibility promise (docs/plugins.md):
 *  - VIGIL_PLUGIN_ABI_MAJOR changes only when a struct or a function of this
 *    header changes incompatibly. vigil refuses a plugin whose major differs
 *    from its own, naming both versions.
 *  - The minor grows when something is appended. A plugin built against
 *    minor N loads in every vigil of the same major with minor >= N.
 *  - Structs only grow at their end, and each starts with its size, so both
 *    sides read only the fields the other side knows.
 *
 * Rules of the boundary: plain C, fixed-width integers, strings as pointer
 * and length (not NUL-terminated unless said), no exception may leave a
 * plugin function (the C++ wrapper <vigil/plugin.hpp> catches them), and
 * every buffer's owner is stated below. A plugin links nothing from vigil:
 * everything it may ask of vigil is in the vigil_host function table.
 *
 * Threads: vigil creates one instance per shard and calls an instance from
 * one thread at a time (its shard's), so instance state needs no locks.
 * Different instances of one plugin run concurrently: the plugin must not
 * keep mutable globals.
 */
#ifndef VIGIL_PLUGIN_H_
#define VIGIL_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VIGIL_PLUGIN_ABI_MAJOR 1
#define VIGIL_PLUGIN_ABI_MINOR 0
/* major << 16 | minor */
#define VIGIL_PLUGIN_ABI_VERSION ((VIGIL_PLUGIN_ABI_MAJOR << 16) | VIGIL_PLUGIN_ABI_MINOR)

/* The symbol every plugin exports. */
#define VIGIL_PLUGIN_ENTRY_SYMBOL "vigil_plugin_entry"

#if defined(__GNUC__)
#define VIGIL_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define VIGIL_PLUGIN_EXPORT
#endif

/* Return codes of plugin functions. */
#define VIGIL_OK 0
#define VIGIL_ERROR 1

typedef enum vigil_plugin_kind {
  VIGIL_PLUGIN_RULE = 1,    /* evaluates events, raises and clears alerts */
  VIGIL_PLUGIN_DECODER = 2  /* turns a message's raw payload into fields */
} vigil_plugin_kind;

typedef enum vigil_alert_state { VIGIL_ALERT_RAISE = 1, VIGIL_ALERT_CLEAR = 2 } vigil_alert_state;

typedef enum vigil_log_level {
  VIGIL_LOG_DEBUG = 0,
  VIGIL_LOG_INFO = 1,
  VIGIL_LOG_WARN = 2,
  VIGIL_LOG_ERROR = 3
} vigil_log_level;

typedef enum vigil_config_type {
  VIGIL_CONFIG_ANY = 0,     /* any YAML value (read it from config_json) */
  VIGIL_CONFIG_NUMBER = 1,
  VIGIL_CONFIG_STRING = 2,
  VIGIL_CONFIG_BOOL = 3,
  VIGIL_CONFIG_INTEGER = 4
} vigil_config_type;

/* A string slice. Valid for the duration of the call that hands it over,
 * unless said otherwise. */
typedef struct vigil_string {
  const char* data;
  size_t len;
} vigil_string;

/* Opaque handles, owned by vigil. */
typedef struct vigil_host_ctx vigil_host_ctx; /* one per instance; valid until destroy returns */
typedef struct vigil_event vigil_event;       /* valid during on_event only */
typedef struct vigil_emitter vigil_emitter;   /* valid during the call it is passed to */
typedef struct vigil_buffer vigil_buffer;     /* append-only bytes, valid during snapshot */
typedef struct vigil_fields_out vigil_fields_out; /* valid during decode */

/* One key of a plugin's configuration. vigil checks the rules file's
 * `config:` against this list before create: unknown keys (with a "did you
 * mean"), missing required keys and wrong types are load errors that name
 * the plugin, the key and the line. */
typedef struct vigil_config_key {
  const char* name;          /* NUL-terminated */
  vigil_config_type type;
  int32_t required;          /* 1: the key must be given */
  const char* help;          /* NUL-terminated, may be NULL; shown in errors */
} vigil_config_key;

/* What vigil offers a plugin. Passed to create; valid until destroy. Read
 * only the members that exist in this struct_size (functions appended in a
 * later minor are absent from an older vigil, but the major check already
 * guarantees every member of your minor is there). */
typedef struct vigil_host {
  uint32_t struct_size;
  uint32_t abi_version;

  /* --- configuration (create) --- */
  /* Config value of `key` (NUL-terminated). Return 1 when present and of
   * that type (an integer is a number too), 0 otherwise. */
  int32_t (*config_number)(vigil_host_ctx* ctx, const char* key, double* out);
  /* The string stays valid until destroy. */
  int32_t (*config_string)(vigil_host_ctx* ctx, const char* key, vigil_string* out);
  int32_t (*config_bool)(vigil_host_ctx* ctx, const char* key, int32_t* out);

  /* --- schema (create) --- */
  /* The index of a numeric field (dotted path such as "payload.vib"), for
   * event_field. Ask in create: vigil then extracts the field from every
   * message. -1 when the field cannot be added (asked outside create, or
   * not asked by the instance vigil validated the configuration with). */
  int32_t (*field_index)(vigil_host_ctx* ctx, const char* name, size_t len);
  /* The same for a string tag, for event_tag. */
  int32_t (*tag_index)(vigil_host_ctx* ctx, const char* name, size_t len);

  /* --- events (on_event) --- */
  int64_t (*event_ts)(const vigil_event* event); /* event time, epoch ms */
  /* The key of the event under the rule's `key:` tags. Stable for the life
   * of the instance; after a restart restore() receives the new ids. */
  uint64_t (*event_key)(const vigil_event* event);
  /* 1 and *out when the message carries the field, 0 when it lacks it. */
  int32_t (*event_field)(const vigil_event* event, int32_t field, double* out);
  /* 1 and *out (valid during on_event) when the message carries the tag. */
  int32_t (*event_tag)(const vigil_event* event, int32_t tag, vigil_string* out);

  /* --- keys --- */
  /* The value of the i-th tag of the rule's key for `key` (valid until
   * destroy). 0 when `key` or `i` is unknown. */
  int32_t (*key_tag)(vigil_host_ctx* ctx, uint64_t key, uint32_t i, vigil_string* out);

  /* --- alerts (on_event, on_watermark) --- */
  /* Raises or clears the alert of `key` at event time `ts_ms`, with `value`
   * (NaN or infinite: null). vigil keeps the lifecycle of built-in rules: a
   * raise of a key already raised counts a repeat, a clear of a key not
   * raised does nothing, ids are deterministic (rule, key, ts of the raise). */
  void (*emit)(vigil_emitter* emitter, uint64_t key, vigil_alert_state state, int64_t ts_ms, double value);

  /* --- time --- */
  /* Asks for on_watermark once the watermark reaches ts_ms (one-shot; the
   * earliest request wins; ask again from on_watermark). Any time after
   * create, including in restore. */
  void (*set_timer)(vigil_host_ctx* ctx, int64_t ts_ms);

  /* --- durability --- */
  /* The state of `key` changed outside on_event (e.g. in on_watermark):
   * snapshot it at the next checkpoint. Keys seen in on_event or emitted
   * for are marked automatically. */
  void (*mark_changed)(vigil_host_ctx* ctx, uint64_t key);
  /* Appends bytes to a snapshot buffer. */
  void (*buffer_append)(vigil_buffer* buffer, const void* data, size_t len);

  /* --- decoders (decode) --- */
  /* Sets a numeric field / a tag of the decoded message. Names the rules do
   * not use are ignored; a name given twice keeps the last value; a value
   * that is NaN or infinite leaves the field absent. */
  void (*out_field)(vigil_fields_out* out, const char* name, size_t len, double value);
  void (*out_tag)(vigil_fields_out* out, const char* name, size_t len, const char* value, size_t value_len);

  /* --- diagnostics --- */
  /* One log line, prefixed by vigil with [rule:plugin]. Rate-limit your own
   * lines: never log per message. */
  void (*log)(vigil_host_ctx* ctx, vigil_log_level level, const char* message, size_t len);
  /* The reason of the VIGIL_ERROR the current call is about to return
   * (copied). Shown in the load error (create) or the log (run time). */
  void (*set_error)(vigil_host_ctx* ctx, const char* message, size_t len);
} vigil_host;

/* The descriptor a plugin exports. Static storage, never modified. */
typedef struct vigil_plugin_descriptor {
  uint32_t struct_size;    /* sizeof(vigil_plugin_descriptor) as the plugin was built */
  uint32_t abi_version;    /* VIGIL_PLUGIN_ABI_VERSION as the plugin was built */
  const char* name;        /* NUL-terminated, [a-z0-9_-]+, used in metrics and logs */
  const char* version;     /* NUL-terminated, free form, may be NULL */
  const char* description; /* NUL-terminated, may be NULL */
  vigil_plugin_kind kind;
  const vigil_config_key* config_keys; /* may be NULL: any config accepted */
  uint32_t config_key_count;

  /* Creates an instance from the `config:` map (JSON text, valid during the
   * call; also readable through host->config_*). Returns NULL on a config
   * it refuses, after host->set_error(ctx, reason). */
  void* (*create)(const char* config_json, size_t config_len, const vigil_host* host, vigil_host_ctx* ctx);
  void (*destroy)(void* instance);

  /* Rules. on_event: a message of a key this instance owns that passed
   * the rule's `match:`. on_watermark: the watermark reached a timer. May
   * be NULL when the rule never needs time. */
  int32_t (*on_event)(void* instance, const vigil_event* event, vigil_emitter* emit);
  int32_t (*on_watermark)(void* instance, int64_t watermark_ms, vigil_emitter* emit);
  /* Durability (may be NULL: the rule then keeps only its alert lifecycle
   * across restarts). snapshot appends the state of `key` to `out` (nothing
   * appended: the key has no state worth keeping); restore reads it back
   * after a restart, before any event; forget drops a key vigil evicted
   * after engine.key_ttl of silence. */
  int32_t (*snapshot)(void* instance, uint64_t key, vigil_buffer* out);
  int32_t (*restore)(void* instance, uint64_t key, const void* data, size_t len);
  void (*forget)(void* instance, uint64_t key);

  /* Decoders: `data[0..len)` is the raw payload (the string value of the
   * source's `input` field). Fill `out`; VIGIL_ERROR rejects the message
   * (counted and dead-lettered as decode_error with the set_error reason). */
  int32_t (*decode)(void* instance, const void* data, size_t len, vigil_fields_out* out);
} vigil_plugin_descriptor;

typedef const vigil_plugin_descriptor* (*vigil_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* VIGIL_PLUGIN_H_ */
