/*
 * OpenTelemetry from C: what certless exports over OTLP/HTTP reaches a real receiver
 * (tests/otlp/receiver.py, OpenTelemetry's own protobuf definitions), with `Platform` "c".
 * scripts/test/test-c-dotnet.sh starts the emulator and the receiver and exports
 * CERTLESS_TEST_EMULATOR_URL and CERTLESS_TEST_OTLP_URL; this program sets the OTEL_* variables
 * itself, before its first credential (telemetry is configured once per process). The receiver
 * answers GET /received with one metric or span per line, which is what the checks below scan.
 * Nothing waits for time to pass: each test flushes, then polls the receiver up to a bound that
 * only limits how long a broken run hangs. test_emulator.c checks that nothing is sent when
 * no OTEL_* variable asks for it.
 */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "harness.h"

static const char *const GRAPH[] = {"https://graph.microsoft.com/.default"};
static const char *const SHAREPOINT[] = {"https://contoso.sharepoint.com/.default"};
static const char *const ARM[] = {"https://management.azure.com/.default"};

#define MSAL_METER "MicrosoftIdentityClient_Common_Meter"
#define SPANS "/received?name=certless.acquire_token&name=certless.managed_identity&name=certless.entra"

/* What the receiver last answered (one request at a time). */
static char received[262144];

static void pause_briefly(void) {
  struct timespec pause = {0, 50 * 1000 * 1000};
  nanosleep(&pause, NULL);
}

/* GET path into `received`; 1 on 200. */
static int fetch(const char *path) {
  return otlp_http("GET", path, received, sizeof received) == 200;
}

/* The value of the JSON string field `key` on one line of /received (keys are unique on a span's
 * line outside its attributes, which name none of these), copied into out; 1 when found. */
static int field(const char *line, const char *key, char *out, size_t cap) {
  char pattern[64];
  const char *start;
  const char *end;
  snprintf(pattern, sizeof pattern, "\"%s\": \"", key);
  start = strstr(line, pattern);
  if (start == NULL) return 0;
  start += strlen(pattern);
  end = strchr(start, '"');
  if (end == NULL || (size_t)(end - start) >= cap) return 0;
  memcpy(out, start, (size_t)(end - start));
  out[end - start] = '\0';
  return 1;
}

/* Whether some line of `received` holds every one of the NULL-terminated needles. */
static int some_line_has(const char *const *needles) {
  const char *line = received;
  while (line != NULL && *line != '\0') {
    const char *next = strchr(line, '\n');
    size_t len = next ? (size_t)(next - line) : strlen(line);
    int all = 1;
    const char *const *n;
    for (n = needles; *n != NULL && all; n++) {
      const char *at = strstr(line, *n);
      all = at != NULL && at < line + len;
    }
    if (all) return 1;
    line = next ? next + 1 : NULL;
  }
  return 0;
}

typedef struct {
  char name[64];
  char trace_id[40];
  char span_id[24];
  char parent_span_id[24];
  char kind[16];
  char status[16];
  int http_status;
  char method[16];
} span_t;

/* The spans in `received` (lines with a span_id), at most cap of them. */
static int parse_spans(span_t *spans, int cap) {
  int count = 0;
  char *line = received;
  while (line != NULL && *line != '\0' && count < cap) {
    char *next = strchr(line, '\n');
    if (next) *next = '\0';
    if (strstr(line, "\"span_id\": \"") != NULL) {
      span_t *s = &spans[count];
      const char *code = strstr(line, "\"http.response.status_code\": ");
      memset(s, 0, sizeof *s);
      field(line, "name", s->name, sizeof s->name);
      field(line, "trace_id", s->trace_id, sizeof s->trace_id);
      field(line, "span_id", s->span_id, sizeof s->span_id);
      field(line, "parent_span_id", s->parent_span_id, sizeof s->parent_span_id);
      field(line, "kind", s->kind, sizeof s->kind);
      field(line, "status", s->status, sizeof s->status);
      field(line, "http.request.method", s->method, sizeof s->method);
      s->http_status = code ? atoi(code + strlen("\"http.response.status_code\": ")) : 0;
      count++;
    }
    if (next) *next = '\n';
    line = next ? next + 1 : NULL;
  }
  return count;
}

static int count_named(const span_t *spans, int n, const char *name) {
  int i, count = 0;
  for (i = 0; i < n; i++) count += strcmp(spans[i].name, name) == 0;
  return count;
}

/* Polls until every line set in `wanted` (each a NULL-terminated list of needles on one line of
 * GET path) is there; 1 when it arrived. 30 s bounds a broken run; it is not a timing. */
static int wait_for(const char *path, const char *const *const *wanted) {
  time_t deadline = time(NULL) + 30;
  for (;;) {
    int all = fetch(path);
    const char *const *const *w;
    for (w = wanted; *w != NULL && all; w++) all = some_line_has(*w);
    if (all) return 1;
    if (time(NULL) > deadline) {
      fprintf(stderr, "  %s did not arrive within 30 s; last answer:\n%.2000s\n", path, received);
      return 0;
    }
    pause_briefly();
  }
}

/* Polls GET SPANS until there are at least `roots` request spans; the spans, parsed. */
static int wait_for_spans(span_t *spans, int cap, int roots) {
  time_t deadline = time(NULL) + 30;
  for (;;) {
    int n = fetch(SPANS) ? parse_spans(spans, cap) : 0;
    if (count_named(spans, n, "certless.acquire_token") >= roots) return n;
    if (time(NULL) > deadline) {
      fprintf(stderr, "  %d request spans did not arrive within 30 s\n", roots);
      return n;
    }
    pause_briefly();
  }
}

static certless_status get_token(certless_credential *credential, const char *const *scope,
                                 const certless_token_options *options) {
  certless_token *token = NULL;
  certless_error *error = NULL;
  certless_status status = certless_credential_get_token(credential, scope, 1, options, &token, &error);
  if (status != CERTLESS_OK && status != CERTLESS_INVALID_ARGUMENT && status != CERTLESS_EXCHANGE_REJECTED) {
    fprintf(stderr, "  get_token: %s\n", certless_error_text(error));
  }
  certless_token_free(token);
  certless_error_free(error);
  return status;
}

static void test_set_host_checks_its_argument(void) {
  certless_error *error = NULL;
  char too_long[40];
  memset(too_long, 'x', sizeof too_long - 1);
  too_long[sizeof too_long - 1] = '\0';
  CHECK_STATUS(certless_telemetry_set_host(NULL, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_text(error), "host");
  certless_error_free(error);
  CHECK_STATUS(certless_telemetry_set_host("has space", NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_telemetry_set_host(too_long, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_telemetry_set_host("\xff", NULL), CERTLESS_INVALID_ARGUMENT);
  /* None of those named the host: the first credential names it "c" (checked below). */
}

static void test_miss_then_hit(void) {
  certless_credential *credential = from_env();
  static span_t spans[32];
  char emulator_requests[65536];
  char header[128];
  int n, i;
  const span_t *root = NULL, *mi = NULL, *entra = NULL;
  const char *const from_entra[] = {"\"name\": \"MsalSuccess\"", "\"TokenSource\": \"IdentityProvider\"",
                                    "\"Platform\": \"c\"", "\"ApiId\": \"AcquireTokenForClient\"",
                                    "\"CacheRefreshReason\": \"NoCachedAccessToken\"", "\"scope\": \"" MSAL_METER "\"",
                                    "\"type\": \"sum\"", "\"monotonic\": true", NULL};
  const char *const from_cache[] = {"\"name\": \"MsalSuccess\"", "\"TokenSource\": \"Cache\"",
                                    "\"CacheLevel\": \"L1Cache\"", NULL};
  const char *const resource[] = {"\"certless.host\": \"c\"", "\"service.name\": \"certless-c-test\"",
                                  "\"telemetry.sdk.name\": \"certless\"", "\"telemetry.sdk.language\": \"rust\"",
                                  "\"process.pid\": ", NULL};
  const char *const total[] = {"\"name\": \"MsalTotalDuration.1A\"", "\"type\": \"histogram\"", "\"unit\": \"ms\"", NULL};
  const char *const in_http[] = {"\"name\": \"MsalDurationInHttp.1A\"", "\"unit\": \"ms\"", NULL};
  const char *const in_l1[] = {"\"name\": \"MsalDurationInL1CacheInUs.1B\"", "\"type\": \"histogram\"",
                               "\"unit\": \"us\"", NULL};
  const char *const mi_requests[] = {"\"name\": \"certless.managed_identity.requests\"", "\"unit\": \"{request}\"",
                                     "\"outcome\": \"ok\"", "\"certless.managed_identity.source\": \"imds\"",
                                     "\"http.response.status_code\": 200", NULL};
  const char *const entra_requests[] = {"\"name\": \"certless.entra.requests\"", "\"outcome\": \"ok\"", NULL};
  const char *const *const wanted[] = {from_entra, from_cache, resource, total, in_http, in_l1, mi_requests,
                                       entra_requests, NULL};

  otlp_http("DELETE", "/received", NULL, 0);
  emulator_http("DELETE", "/_emulator/requests", NULL, NULL, 0);
  CHECK_STATUS(get_token(credential, GRAPH, NULL), CERTLESS_OK);
  CHECK_STATUS(get_token(credential, GRAPH, NULL), CERTLESS_OK);
  CHECK(certless_telemetry_flush(30000));

  CHECK(wait_for("/received?name=MsalSuccess&name=MsalTotalDuration.1A&name=MsalDurationInHttp.1A"
                 "&name=MsalDurationInL1CacheInUs.1B&name=certless.managed_identity.requests"
                 "&name=certless.entra.requests",
                 wanted));
  /* Every point says which host sent it. */
  CHECK(fetch("/received?name=MsalSuccess") && strstr(received, "\"Platform\": \"") != NULL);
  {
    const char *at = received;
    while ((at = strstr(at, "\"Platform\": \"")) != NULL) {
      at += strlen("\"Platform\": \"");
      CHECK(strncmp(at, "c\"", 2) == 0);
    }
  }
  CHECK(fetch("/received?name=MsalFailure") && strstr(received, "MsalFailure") == NULL);

  /* One fetch, so one span tree; the hit made none. */
  n = wait_for_spans(spans, 32, 1);
  CHECK(count_named(spans, n, "certless.acquire_token") == 1);
  CHECK(count_named(spans, n, "certless.managed_identity") == 1);
  CHECK(count_named(spans, n, "certless.entra") == 1);
  for (i = 0; i < n; i++) {
    if (strcmp(spans[i].name, "certless.acquire_token") == 0) root = &spans[i];
    if (strcmp(spans[i].name, "certless.managed_identity") == 0) mi = &spans[i];
    if (strcmp(spans[i].name, "certless.entra") == 0) entra = &spans[i];
  }
  CHECK(root != NULL && mi != NULL && entra != NULL);
  if (root == NULL || mi == NULL || entra == NULL) {
    certless_credential_free(credential);
    return;
  }
  CHECK_STR(root->kind, "INTERNAL");
  CHECK_STR(root->parent_span_id, "");
  CHECK(strcmp(root->status, "ERROR") != 0);
  CHECK(strlen(root->trace_id) == 32 && strlen(root->span_id) == 16);
  CHECK_STR(mi->trace_id, root->trace_id);
  CHECK_STR(mi->parent_span_id, root->span_id);
  CHECK_STR(mi->kind, "CLIENT");
  CHECK_STR(mi->method, "GET");
  CHECK(mi->http_status == 200);
  CHECK_STR(entra->trace_id, root->trace_id);
  CHECK_STR(entra->parent_span_id, root->span_id);
  CHECK_STR(entra->kind, "CLIENT");
  CHECK_STR(entra->method, "POST");
  CHECK(entra->http_status == 200);

  /* Each request to a server carried its own span's context. */
  CHECK(emulator_http("GET", "/_emulator/requests", NULL, emulator_requests, sizeof emulator_requests) == 200);
  snprintf(header, sizeof header, "[\"traceparent\",\"00-%s-%s-01\"]", root->trace_id, mi->span_id);
  CHECK_CONTAINS(emulator_requests, header);
  snprintf(header, sizeof header, "[\"traceparent\",\"00-%s-%s-01\"]", root->trace_id, entra->span_id);
  CHECK_CONTAINS(emulator_requests, header);
  certless_credential_free(credential);
}

static void test_traceparent(void) {
  certless_credential *credential = from_env();
  certless_token_options *options = certless_token_options_new();
  static span_t spans[32];
  int n, i, children = 0;
  const span_t *root = NULL;
  const char *trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const char *span_id = "00f067aa0ba902b7";

  otlp_http("DELETE", "/received", NULL, 0);
  CHECK_STATUS(certless_token_options_set_traceparent(NULL, "00-x", NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_token_options_set_traceparent(options, "\xff", NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_token_options_set_traceparent(options, "00-not-a-traceparent-01", NULL), CERTLESS_OK);
  CHECK_STATUS(get_token(credential, ARM, options), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_token_options_set_traceparent(options, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                                      NULL),
               CERTLESS_OK);
  CHECK_STATUS(get_token(credential, SHAREPOINT, options), CERTLESS_OK);
  CHECK(certless_telemetry_flush(30000));

  n = wait_for_spans(spans, 32, 1);
  for (i = 0; i < n; i++) {
    if (strcmp(spans[i].name, "certless.acquire_token") == 0) root = &spans[i];
  }
  CHECK(root != NULL);
  if (root != NULL) {
    CHECK_STR(root->trace_id, trace_id);
    CHECK_STR(root->parent_span_id, span_id);
    for (i = 0; i < n; i++) {
      if (strcmp(spans[i].parent_span_id, root->span_id) == 0) {
        children++;
        CHECK_STR(spans[i].trace_id, trace_id);
      }
    }
    CHECK(children >= 1); /* the exchange, and the managed identity unless its token was reused */
  }
  /* NULL clears it: a request without a parent again. */
  CHECK_STATUS(certless_token_options_set_traceparent(options, NULL, NULL), CERTLESS_OK);
  certless_token_options_free(options);
  certless_credential_free(credential);
}

static void test_refused_exchange(void) {
  certless_credential *credential = from_env();
  static span_t spans[32];
  int n, i, entra = 0;
  const char *const failure[] = {"\"name\": \"MsalFailure\"", "\"scope\": \"" MSAL_METER "\"", "\"Platform\": \"c\"",
                                 "\"ApiId\": \"AcquireTokenForClient\"", "\"ErrorCode\": \"ExchangeRejected\"",
                                 "\"IsProactiveRefresh\": false", NULL};
  const char *const rejected[] = {"\"name\": \"certless.entra.requests\"", "\"outcome\": \"rejected\"",
                                  "\"http.response.status_code\": 400", NULL};
  const char *const *const wanted[] = {failure, rejected, NULL};

  otlp_http("DELETE", "/received", NULL, 0);
  CHECK(emulator_http("POST", "/_emulator/faults", "{\"endpoint\":\"entra_token\",\"status\":400}", NULL, 0) == 200);
  CHECK_STATUS(get_token(credential, GRAPH, NULL), CERTLESS_EXCHANGE_REJECTED);
  emulator_http("DELETE", "/_emulator/faults", NULL, NULL, 0);
  CHECK(certless_telemetry_flush(30000));
  CHECK(wait_for("/received?name=MsalFailure&name=certless.entra.requests", wanted));

  n = wait_for_spans(spans, 32, 1);
  CHECK(count_named(spans, n, "certless.acquire_token") == 1);
  for (i = 0; i < n; i++) {
    if (strcmp(spans[i].name, "certless.acquire_token") == 0) CHECK_STR(spans[i].status, "ERROR");
    if (strcmp(spans[i].name, "certless.entra") == 0) {
      entra++;
      CHECK_STR(spans[i].status, "ERROR");
      CHECK(spans[i].http_status == 400);
    }
  }
  CHECK(entra >= 1);
  certless_credential_free(credential);
}

int main(void) {
  require_env("CERTLESS_TEST_EMULATOR_URL");
  /* Before the first credential: telemetry reads these once per process. */
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", require_env("CERTLESS_TEST_OTLP_URL"), 1);
  setenv("OTEL_SERVICE_NAME", "certless-c-test", 1);
  setenv("OTEL_METRIC_EXPORT_INTERVAL", "200", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
  unsetenv("OTEL_SDK_DISABLED");
  unsetenv("OTEL_METRICS_EXPORTER");
  unsetenv("OTEL_TRACES_EXPORTER");
  unsetenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  test_set_host_checks_its_argument();
  test_miss_then_hit();
  test_traceparent();
  test_refused_exchange();
  emulator_reset();
  return finish("test_telemetry");
}
