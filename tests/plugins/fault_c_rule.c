/* fault_c_rule: a rule plugin written in plain C against <vigil/plugin.h>
 * (it proves the header is C), used by the plugin tests:
 *   - raises when the field `x` exceeds `limit`, clears when it is back at or
 *     below; raising an already raised key repeats (vigil counts it);
 *   - returns VIGIL_ERROR (with a reason) for a negative x: run-time errors;
 *   - with `timeout_ms` > 0, arms a timer at ts + timeout_ms on each event
 *     and raises its last key from on_watermark (timers);
 *   - snapshots a per-key event counter (restore checks it).
 * Keys are tracked in a small fixed table: enough for tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"

#define MAX_KEYS 64

typedef struct {
  uint64_t key;
  uint64_t events;
} key_count;

typedef struct {
  const vigil_host* host;
  vigil_host_ctx* ctx;
  int32_t x;
  double limit;
  double timeout_ms;
  uint64_t last_key;
  key_count keys[MAX_KEYS];
  int nkeys;
} instance;

static key_count* find(instance* in, uint64_t key, int add) {
  for (int i = 0; i < in->nkeys; ++i) {
    if (in->keys[i].key == key) return &in->keys[i];
  }
  if (!add || in->nkeys == MAX_KEYS) return NULL;
  in->keys[in->nkeys].key = key;
  in->keys[in->nkeys].events = 0;
  return &in->keys[in->nkeys++];
}

static int32_t fail(instance* in, const char* why) {
  in->host->set_error(in->ctx, why, strlen(why));
  return VIGIL_ERROR;
}

static void* create(const char* json, size_t len, const vigil_host* host, vigil_host_ctx* ctx) {
  (void)json;
  (void)len;
  instance* in = (instance*)calloc(1, sizeof(instance));
  if (in == NULL) return NULL;
  in->host = host;
  in->ctx = ctx;
  if (!host->config_number(ctx, "limit", &in->limit)) in->limit = 10;
  if (!host->config_number(ctx, "timeout_ms", &in->timeout_ms)) in->timeout_ms = 0;
  if (in->limit < -1000) {
    const char* why = "limit below -1000 makes no sense";
    host->set_error(ctx, why, strlen(why));
    free(in);
    return NULL;
  }
  in->x = host->field_index(ctx, "x", 1);
  return in;
}

static void destroy(void* p) { free(p); }

static int32_t on_event(void* p, const vigil_event* e, vigil_emitter* emit) {
  instance* in = (instance*)p;
  double v = 0;
  const uint64_t key = in->host->event_key(e);
  key_count* k = find(in, key, 1);
  if (k != NULL) k->events++;
  if (!in->host->event_field(e, in->x, &v)) return VIGIL_OK;
  if (v < 0) {
    char why[64];
    snprintf(why, sizeof why, "negative reading %g", v);
    return fail(in, why);
  }
  const int64_t ts = in->host->event_ts(e);
  if (in->timeout_ms > 0) {
    in->last_key = key;
    in->host->set_timer(in->ctx, ts + (int64_t)in->timeout_ms);
    return VIGIL_OK;
  }
  in->host->emit(emit, key, v > in->limit ? VIGIL_ALERT_RAISE : VIGIL_ALERT_CLEAR, ts, v);
  return VIGIL_OK;
}

static int32_t on_watermark(void* p, int64_t wm, vigil_emitter* emit) {
  instance* in = (instance*)p;
  in->host->emit(emit, in->last_key, VIGIL_ALERT_RAISE, wm, NAN);
  return VIGIL_OK;
}

static int32_t snapshot(void* p, uint64_t key, vigil_buffer* out) {
  instance* in = (instance*)p;
  key_count* k = find(in, key, 0);
  if (k != NULL) in->host->buffer_append(out, &k->events, sizeof k->events);
  return VIGIL_OK;
}

static int32_t restore(void* p, uint64_t key, const void* data, size_t len) {
  instance* in = (instance*)p;
  if (len != sizeof(uint64_t)) return fail(in, "snapshot of the wrong size");
  key_count* k = find(in, key, 1);
  if (k == NULL) return fail(in, "too many keys");
  memcpy(&k->events, data, sizeof k->events);
  return VIGIL_OK;
}

static const vigil_config_key kConfig[] = {
    {"limit", VIGIL_CONFIG_NUMBER, 0, "raise above this (default 10)"},
    {"timeout_ms", VIGIL_CONFIG_NUMBER, 0, "timer mode"},
};

static const vigil_plugin_descriptor kDescriptor = {
    sizeof(vigil_plugin_descriptor), VIGIL_PLUGIN_ABI_VERSION, "fault_c", "1", "test rule in C", VIGIL_PLUGIN_RULE,
    kConfig, 2, create, destroy, on_event, on_watermark, snapshot, restore, NULL, NULL,
};

VIGIL_PLUGIN_EXPORT const vigil_plugin_descriptor* vigil_plugin_entry(void) { return &kDescriptor; }
