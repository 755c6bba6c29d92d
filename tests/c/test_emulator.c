/*
 * The certless C ABI against the emulator on loopback (started by scripts/test/test-c-dotnet.sh, which
 * exports its client environment and CERTLESS_TEST_EMULATOR_URL): the blocking, cache-only and
 * async calls, whether a kept token is still the cached one, credentials from options (the
 * deadline option included), async from several threads, cancellation, every error getter on real
 * managed-identity and AADSTS errors, and the log callback. The same file runs as a 32-bit
 * Windows program (scripts/package/package-native.sh): the token times are checked to the second and
 * every callback's arguments are checked, so that a mismatch of calling convention or of integer
 * width between this header and the library fails a check rather than passing by luck.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "harness.h"

static const char *const SHAREPOINT[] = {"https://contoso.sharepoint.com/.default"};
static const char *const GRAPH[] = {"https://graph.microsoft.com/.default"};
/* An app id the emulator's tenant does not know: Entra answers AADSTS700016. */
#define UNKNOWN_APP "9e9e9e9e-1111-4222-8333-444444444444"

/* A configuration JSON for the emulator's tenant with the given app id and extra credentials. */
static certless_credential *from_json(const char *client_id, const char *extra_credential,
                                      certless_error **error_out, certless_status want) {
  char json[2048];
  certless_credential *credential = NULL;
  snprintf(json, sizeof json,
           "{\"AzureAd\":{\"Instance\":\"%s/\",\"TenantId\":\"%s\",\"ClientId\":\"%s\","
           "\"ClientCredentials\":[{\"SourceType\":\"SignedAssertionFromManagedIdentity\","
           "\"ManagedIdentityClientId\":\"%s\"}%s]}}",
           require_env("AZURE_AUTHORITY_HOST"), require_env("AZURE_TENANT_ID"), client_id,
           require_env("CERTLESS_MANAGED_IDENTITY_CLIENT_ID"), extra_credential);
  CHECK_STATUS(certless_credential_from_config_json(json, &credential, error_out), want);
  return credential;
}

static int is_jwt(const char *s) {
  const char *dot1 = s ? strchr(s, '.') : NULL;
  const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  return s && strncmp(s, "eyJ", 3) == 0 && dot2 != NULL && strchr(dot2 + 1, '.') == NULL;
}

/* The emulator checks the token's signature and lifetime (POST /_emulator/verify). */
static int emulator_accepts(const char *jwt) {
  char request[8192];
  char body[8192];
  snprintf(request, sizeof request, "{\"token\":\"%s\"}", jwt);
  return emulator_http("POST", "/_emulator/verify", request, body, sizeof body) == 200 &&
         strstr(body, "\"valid\":true") != NULL;
}

static void test_blocking_happy_path_and_cache(void) {
  certless_credential *credential = from_env();
  certless_token *token = NULL;
  certless_token *again = NULL;
  certless_token *cached = NULL;
  certless_error *error = NULL;
  certless_status status;
  long now = (long)time(NULL);

  emulator_reset();
  status = certless_credential_get_token(credential, SHAREPOINT, 1, NULL, &token, &error);
  CHECK_STATUS(status, CERTLESS_OK);
  if (status != CERTLESS_OK) {
    fprintf(stderr, "  %s\n", certless_error_text(error));
    certless_error_free(error);
    certless_credential_free(credential);
    return;
  }
  CHECK(is_jwt(certless_token_value(token)));
  CHECK(emulator_accepts(certless_token_value(token)));
  CHECK_STR(certless_token_type(token), "Bearer");
  CHECK_STR(certless_token_source(token), "SignedAssertionFromManagedIdentity");
  CHECK(certless_token_expires_on(token) > now + 600);
  CHECK(certless_token_refresh_on(token) == 0 ||
        certless_token_refresh_on(token) < certless_token_expires_on(token));
  CHECK(emulator_counter("imds") == 1);
  CHECK(emulator_counter("entra_token") == 1);

  /* Second call and the cache-only call: the same token, no request. */
  CHECK_STATUS(certless_credential_get_token(credential, SHAREPOINT, 1, NULL, &again, NULL), CERTLESS_OK);
  CHECK_STR(certless_token_value(again), certless_token_value(token));
  CHECK_STATUS(certless_credential_cached_token(credential, SHAREPOINT, 1, &cached, NULL), CERTLESS_OK);
  CHECK_STR(certless_token_value(cached), certless_token_value(token));
  CHECK(certless_token_expires_on(cached) == certless_token_expires_on(token));
  CHECK(emulator_counter("imds") == 1);
  CHECK(emulator_counter("entra_token") == 1);

  /* force_refresh goes to Entra again (the MI assertion is reused while it has life left). */
  {
    certless_token_options *options = certless_token_options_new();
    certless_token *fresh = NULL;
    CHECK_STATUS(certless_token_options_set_force_refresh(options, true, NULL), CERTLESS_OK);
    CHECK_STATUS(certless_credential_get_token(credential, SHAREPOINT, 1, options, &fresh, NULL),
                 CERTLESS_OK);
    CHECK(is_jwt(certless_token_value(fresh)));
    CHECK(emulator_counter("entra_token") == 2);
    CHECK(emulator_counter("imds") == 1);
    certless_token_free(fresh);
    certless_token_options_free(options);
  }
  certless_token_free(cached);
  certless_token_free(again);
  certless_token_free(token);
  certless_credential_free(credential);
}

/* certless_credential_token_is_current: true for the very token the cache would hand out, false
 * once the cache holds another (here: after a forced refresh), for an equal copy that is not
 * that token, for requests that bypass the cache, and for bad arguments. */
static void test_token_is_current(void) {
  certless_credential *credential = from_env();
  certless_credential *other = from_env();
  certless_token *token = NULL;
  certless_token *cached = NULL;
  certless_token *fresh = NULL;
  certless_token *foreign = NULL;
  certless_token_options *force = certless_token_options_new();
  certless_token_options *claims = certless_token_options_new();
  const char *const two[] = {SHAREPOINT[0], GRAPH[0]};
  const char *const null_scope[] = {NULL};

  emulator_reset();
  CHECK_STATUS(certless_credential_get_token(credential, SHAREPOINT, 1, NULL, &token, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_credential_cached_token(credential, SHAREPOINT, 1, &cached, NULL), CERTLESS_OK);
  CHECK(certless_credential_token_is_current(credential, SHAREPOINT, 1, NULL, token));
  CHECK(certless_credential_token_is_current(credential, SHAREPOINT, 1, NULL, cached));
  /* The same resource spelled as a bare resource is the same cache slot. */
  {
    const char *const bare[] = {"https://contoso.sharepoint.com"};
    CHECK(certless_credential_token_is_current(credential, bare, 1, NULL, token));
  }
  CHECK(!certless_credential_token_is_current(credential, GRAPH, 1, NULL, token));
  CHECK(!certless_credential_token_is_current(credential, two, 2, NULL, token));

  /* Another credential caches its own token for the same scope: equal claims, not this token. */
  CHECK_STATUS(certless_credential_get_token(other, SHAREPOINT, 1, NULL, &foreign, NULL), CERTLESS_OK);
  CHECK(!certless_credential_token_is_current(credential, SHAREPOINT, 1, NULL, foreign));
  CHECK(certless_credential_token_is_current(other, SHAREPOINT, 1, NULL, foreign));

  /* Requests that bypass the cache are never answered by a kept token. */
  CHECK_STATUS(certless_token_options_set_force_refresh(force, true, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_token_options_set_claims(claims, "{\"access_token\":{}}", NULL), CERTLESS_OK);
  CHECK(!certless_credential_token_is_current(credential, SHAREPOINT, 1, force, token));
  CHECK(!certless_credential_token_is_current(credential, SHAREPOINT, 1, claims, token));

  /* A refresh replaces the cached token: the old one is no longer current, the new one is. */
  CHECK_STATUS(certless_credential_get_token(credential, SHAREPOINT, 1, force, &fresh, NULL), CERTLESS_OK);
  CHECK(!certless_credential_token_is_current(credential, SHAREPOINT, 1, NULL, token));
  CHECK(!certless_credential_token_is_current(credential, SHAREPOINT, 1, NULL, cached));
  CHECK(certless_credential_token_is_current(credential, SHAREPOINT, 1, NULL, fresh));

  /* Bad arguments answer false. */
  CHECK(!certless_credential_token_is_current(NULL, SHAREPOINT, 1, NULL, fresh));
  CHECK(!certless_credential_token_is_current(credential, SHAREPOINT, 1, NULL, NULL));
  CHECK(!certless_credential_token_is_current(credential, NULL, 1, NULL, fresh));
  CHECK(!certless_credential_token_is_current(credential, null_scope, 1, NULL, fresh));
  CHECK(!certless_credential_token_is_current(credential, SHAREPOINT, 0, NULL, fresh));

  certless_token_options_free(claims);
  certless_token_options_free(force);
  certless_token_free(foreign);
  certless_token_free(fresh);
  certless_token_free(cached);
  certless_token_free(token);
  certless_credential_free(other);
  certless_credential_free(credential);
}

static void test_config_file(void) {
  char path[] = "/tmp/certless-c-test-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  certless_credential *credential = NULL;
  certless_token *token = NULL;
  certless_error *error = NULL;
  certless_status status;

  CHECK(f != NULL);
  if (f == NULL) return;
  /* A whole appsettings.json, with keys in another case than Id.Web's, as .NET accepts. */
  fprintf(f,
          "{\"Logging\":{\"LogLevel\":{\"Default\":\"Information\"}},\n"
          " \"azuread\":{\"instance\":\"%s\",\"tenantid\":\"%s\",\"clientid\":\"%s\",\n"
          "  \"ClientCredentials\":[{\"SourceType\":\"SignedAssertionFromManagedIdentity\","
          "\"ManagedIdentityClientId\":\"%s\"}]}}\n",
          require_env("AZURE_AUTHORITY_HOST"), require_env("AZURE_TENANT_ID"),
          require_env("AZURE_CLIENT_ID"), require_env("CERTLESS_MANAGED_IDENTITY_CLIENT_ID"));
  fclose(f);
  status = certless_credential_from_config_file(path, &credential, &error);
  CHECK_STATUS(status, CERTLESS_OK);
  if (status != CERTLESS_OK) {
    fprintf(stderr, "  %s\n", certless_error_text(error));
    certless_error_free(error);
  } else {
    CHECK_STR(certless_credential_client_id(credential), require_env("AZURE_CLIENT_ID"));
    status = certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error);
    CHECK_STATUS(status, CERTLESS_OK);
    if (status != CERTLESS_OK) fprintf(stderr, "  %s\n", certless_error_text(error));
    CHECK(is_jwt(certless_token_value(token)));
    certless_token_free(token);
    certless_error_free(error);
    certless_credential_free(credential);
  }
  unlink(path);
}

/* ---- token times, to the second ---- */

/* The integer after "name": in JSON text (the first one); -1 when absent or not a number. */
static long long json_integer(const char *json, const char *name) {
  char key[64];
  const char *at;
  char *end;
  long long value;
  snprintf(key, sizeof key, "\"%s\":", name);
  at = json ? strstr(json, key) : NULL;
  if (at == NULL) return -1;
  value = strtoll(at + strlen(key), &end, 10);
  return end == at + strlen(key) ? -1 : value;
}

/* The exp claim of a JWT (its payload base64url-decoded); -1 when there is none. */
static long long jwt_exp(const char *jwt) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char payload[4096];
  size_t used = 0;
  unsigned long bits = 0;
  int nbits = 0;
  const char *p = jwt ? strchr(jwt, '.') : NULL;
  if (p == NULL) return -1;
  for (p++; *p != '.' && *p != '\0' && used < sizeof payload - 1; p++) {
    const char *digit = strchr(alphabet, *p);
    if (digit == NULL) return -1;
    bits = (bits << 6) | (unsigned long)(digit - alphabet);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      payload[used++] = (char)((bits >> nbits) & 0xff);
    }
  }
  payload[used] = '\0';
  return json_integer(payload, "exp");
}

#define REFRESH_IN 1800

/* The completion of test_token_times' async request. */
static struct timed_call {
  pthread_mutex_t lock;
  pthread_cond_t done;
  int calls;
  int misfits; /* calls whose userdata was not &timed */
  int one_of;  /* exactly one of token and error was non-NULL */
  int64_t expires_on;
  int64_t refresh_on;
} timed = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0};

static void on_timed(void *userdata, certless_token *token, certless_error *error) {
  pthread_mutex_lock(&timed.lock);
  if (userdata != &timed) {
    /* Not used: arguments garbled by a calling-convention mismatch must fail a check. */
    timed.misfits++;
  } else {
    timed.calls++;
    timed.one_of = (token != NULL) != (error != NULL);
    /* The 64-bit returns, read on certless's callback thread. */
    timed.expires_on = certless_token_expires_on(token);
    timed.refresh_on = certless_token_refresh_on(token);
    certless_token_free(token);
    certless_error_free(error);
  }
  pthread_cond_broadcast(&timed.done);
  pthread_mutex_unlock(&timed.lock);
}

/* certless_token_expires_on and _refresh_on (int64_t, in a register pair on 32-bit x86) are the
 * moment of the request plus the emulator's expires_in and refresh_in, to the second, and never
 * later than the token's own exp claim (core/src/lifetime.rs): a value read with the wrong width
 * or from the wrong register cannot land in a window one or two seconds wide. Then the same
 * values through the completion callback, on certless's thread. */
static void test_token_times(void) {
  static char original[131072];
  static char changed[131072];
  const char *null_refresh = "\"refresh_in_secs\":null";
  char *at;
  long long lifetime;
  certless_credential *credential;
  certless_token *token = NULL;
  certless_error *error = NULL;
  certless_status status;
  int64_t before;
  int64_t after;
  int64_t expires_on;
  int64_t refresh_on;
  long long exp;

  emulator_reset();
  /* The registry with refresh_in set: Entra's answers then carry refresh_in. */
  CHECK(emulator_http("GET", "/_emulator/registry", NULL, original, sizeof original) == 200);
  lifetime = json_integer(original, "access_token_lifetime_secs");
  CHECK(lifetime > 0);
  at = strstr(original, null_refresh);
  CHECK(at != NULL);
  if (at == NULL || lifetime <= 0) return;
  snprintf(changed, sizeof changed, "%.*s\"refresh_in_secs\":%d%s", (int)(at - original), original,
           REFRESH_IN, at + strlen(null_refresh));
  CHECK(emulator_http("PUT", "/_emulator/registry", changed, NULL, 0) == 200);

  credential = from_env();
  before = (int64_t)time(NULL);
  status = certless_credential_get_token(credential, SHAREPOINT, 1, NULL, &token, &error);
  after = (int64_t)time(NULL);
  CHECK_STATUS(status, CERTLESS_OK);
  if (status != CERTLESS_OK) fprintf(stderr, "  %s\n", certless_error_text(error));
  expires_on = certless_token_expires_on(token);
  refresh_on = certless_token_refresh_on(token);
  exp = jwt_exp(certless_token_value(token));
  if (expires_on < before + lifetime || expires_on > after + lifetime || refresh_on < before + REFRESH_IN ||
      refresh_on > after + REFRESH_IN) {
    fprintf(stderr, "  requested at %lld..%lld: expires_on %lld (expires_in %lld), refresh_on %lld (refresh_in %d)\n",
            (long long)before, (long long)after, (long long)expires_on, lifetime, (long long)refresh_on,
            REFRESH_IN);
  }
  CHECK(expires_on >= before + lifetime && expires_on <= after + lifetime);
  CHECK(refresh_on >= before + REFRESH_IN && refresh_on <= after + REFRESH_IN);
  CHECK(exp >= before + lifetime && expires_on <= exp);

  /* The cached token through the completion callback: the same two numbers. */
  CHECK_STATUS(certless_credential_get_token_async(credential, SHAREPOINT, 1, NULL, on_timed, &timed, NULL, NULL),
               CERTLESS_OK);
  {
    struct timespec deadline;
    int ok = 1;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&timed.lock);
    while (timed.calls + timed.misfits < 1 && ok) ok = pthread_cond_timedwait(&timed.done, &timed.lock, &deadline) == 0;
    CHECK(timed.calls == 1);
    CHECK(timed.misfits == 0);
    CHECK(timed.one_of);
    CHECK(timed.expires_on == expires_on);
    CHECK(timed.refresh_on == refresh_on);
    pthread_mutex_unlock(&timed.lock);
  }
  certless_token_free(token);
  certless_error_free(error);
  certless_credential_free(credential);
  CHECK(emulator_http("PUT", "/_emulator/registry", original, NULL, 0) == 200);
}

/* ---- credential options by name ---- */

/* Options in every spelling C callers meet, with the managed-identity environment given through
 * the options rather than the process: the credential gets a token from the emulator. */
static certless_options *emulator_options(void) {
  certless_options *options = NULL;
  CHECK_STATUS(certless_options_new(&options, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "tenant_id", require_env("AZURE_TENANT_ID"), NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "ClientId", require_env("AZURE_CLIENT_ID"), NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "authorityHost", require_env("AZURE_AUTHORITY_HOST"), NULL),
               CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "managed_identity_client_id",
                                    require_env("CERTLESS_MANAGED_IDENTITY_CLIENT_ID"), NULL),
               CERTLESS_OK);
  /* The emulator's CA, when Entra is reached over https (under Wine it is reached over http). */
  if (getenv("CERTLESS_CA_FILE") != NULL) {
    CHECK_STATUS(certless_options_set(options, "ca_file", getenv("CERTLESS_CA_FILE"), NULL), CERTLESS_OK);
  }
  CHECK_STATUS(certless_options_set_number(options, "request_timeout_ms", 20000.0, NULL), CERTLESS_OK);
  /* Only these variables are read: the process's environment is not. */
  CHECK_STATUS(certless_options_set_environment_variable(options, "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                                                         require_env("AZURE_POD_IDENTITY_AUTHORITY_HOST"), NULL),
               CERTLESS_OK);
  return options;
}

static void test_credential_from_options(void) {
  certless_options *options = emulator_options();
  certless_credential *credential = NULL;
  certless_token *token = NULL;
  certless_error *error = NULL;
  certless_status status;

  emulator_reset();
  status = certless_credential_from_options(options, &credential, &error);
  CHECK_STATUS(status, CERTLESS_OK);
  certless_options_free(options);
  if (status != CERTLESS_OK) {
    fprintf(stderr, "  %s\n", certless_error_text(error));
    certless_error_free(error);
    return;
  }
  CHECK_STR(certless_credential_tenant_id(credential), require_env("AZURE_TENANT_ID"));
  status = certless_credential_get_token(credential, SHAREPOINT, 1, NULL, &token, &error);
  CHECK_STATUS(status, CERTLESS_OK);
  if (status != CERTLESS_OK) {
    fprintf(stderr, "  %s\n", certless_error_text(error));
    certless_error_free(error);
  }
  CHECK(is_jwt(certless_token_value(token)));
  CHECK(emulator_accepts(certless_token_value(token)));
  CHECK(emulator_counter("imds") == 1);
  certless_token_free(token);
  certless_credential_free(credential);
}

/* The deadline option reaches core: with IMDS answering only after 20 s, a 1 s deadline ends the
 * request with a managed-identity timeout that names the deadline. */
static void test_options_deadline(void) {
  certless_options *options = emulator_options();
  certless_credential *credential = NULL;
  certless_token *token = NULL;
  certless_error *error = NULL;

  emulator_reset();
  CHECK_STATUS(certless_options_set_number(options, "deadline", 1.0, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_credential_from_options(options, &credential, NULL), CERTLESS_OK);
  certless_options_free(options);
  CHECK(emulator_http("POST", "/_emulator/faults",
                      "{\"endpoint\":\"imds\",\"delay_ms\":20000,\"remaining\":1}", NULL, 0) == 200);
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error),
               CERTLESS_MANAGED_IDENTITY_TIMEOUT);
  CHECK(token == NULL);
  CHECK_STR(certless_error_leg(error), "managed_identity");
  CHECK_CONTAINS(certless_error_message(error), "no token within the 1 s deadline");
  CHECK_CONTAINS(certless_error_remedy(error), "deadline");
  certless_error_free(error);
  emulator_http("DELETE", "/_emulator/faults", NULL, NULL, 0);
  certless_credential_free(credential);
}

/* ---- async from several threads ---- */

#define THREADS 8
#define PER_THREAD 8

struct request_slot {
  int calls;
  int one_of; /* exactly one of token and error was non-NULL */
  certless_status status;
  int64_t expires_on;
  char token[4096];
};

struct async_state {
  pthread_mutex_t lock;
  pthread_cond_t done;
  int completed;
  const certless_credential *credential;
  struct request_slot slots[THREADS * PER_THREAD];
  int started;
};

struct slot_ref {
  struct async_state *state;
  int index;
};

static struct slot_ref refs[THREADS * PER_THREAD];
/* Completions whose userdata was none of refs. */
static pthread_mutex_t foreign_lock = PTHREAD_MUTEX_INITIALIZER;
static int foreign_userdata = 0;

/* Whether p is exactly one of refs, compared as numbers: a userdata that arrived garbled (a
 * calling-convention mismatch shifts every argument) must fail a check, not crash. */
static int is_ref(const void *p) {
  uintptr_t at = (uintptr_t)p;
  uintptr_t first = (uintptr_t)refs;
  return at >= first && at < first + sizeof refs && (at - first) % sizeof refs[0] == 0;
}

static void on_slot_token(void *userdata, certless_token *token, certless_error *error) {
  struct slot_ref *ref = userdata;
  if (!is_ref(userdata)) {
    pthread_mutex_lock(&foreign_lock);
    foreign_userdata++;
    pthread_mutex_unlock(&foreign_lock);
    return;
  }
  struct async_state *s = ref->state;
  struct request_slot *slot = &s->slots[ref->index];
  pthread_mutex_lock(&s->lock);
  slot->calls++;
  slot->one_of = (token != NULL) != (error != NULL);
  slot->status = token ? CERTLESS_OK : certless_error_code(error);
  slot->expires_on = certless_token_expires_on(token);
  if (token) snprintf(slot->token, sizeof slot->token, "%s", certless_token_value(token));
  s->completed++;
  pthread_cond_broadcast(&s->done);
  pthread_mutex_unlock(&s->lock);
  certless_token_free(token);
  certless_error_free(error);
}

static void *start_requests(void *arg) {
  struct slot_ref *first = arg;
  int i;
  for (i = 0; i < PER_THREAD; i++) {
    struct slot_ref *ref = first + i;
    certless_pending *pending = NULL;
    certless_status status = certless_credential_get_token_async(
        ref->state->credential, GRAPH, 1, NULL, on_slot_token, ref, &pending, NULL);
    if (status == CERTLESS_OK) {
      pthread_mutex_lock(&ref->state->lock);
      ref->state->started++;
      pthread_mutex_unlock(&ref->state->lock);
    }
    /* Freeing the handle does not cancel: the callback still runs. */
    certless_pending_free(pending);
  }
  return NULL;
}

static int wait_completed(struct async_state *s, int want) {
  struct timespec deadline;
  int ok = 1;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60; /* a hang is a failure, not a wait */
  pthread_mutex_lock(&s->lock);
  while (s->completed < want && ok) ok = pthread_cond_timedwait(&s->done, &s->lock, &deadline) == 0;
  pthread_mutex_unlock(&s->lock);
  return s->completed >= want;
}

static void test_async_from_threads(void) {
  static struct async_state state;
  pthread_t threads[THREADS];
  certless_credential *credential = from_env();
  int i;
  int all_once = 1;
  int all_ok = 1;
  int all_same = 1;
  int all_one_of = 1;
  int all_same_expiry = 1;

  memset(&state, 0, sizeof state);
  pthread_mutex_init(&state.lock, NULL);
  pthread_cond_init(&state.done, NULL);
  state.credential = credential;
  for (i = 0; i < THREADS * PER_THREAD; i++) {
    refs[i].state = &state;
    refs[i].index = i;
  }
  emulator_reset();
  for (i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, start_requests, &refs[i * PER_THREAD]);
  for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  /* The credential may be freed while requests run: they keep what they need. */
  certless_credential_free(credential);
  CHECK(state.started == THREADS * PER_THREAD);
  CHECK(wait_completed(&state, THREADS * PER_THREAD));
  pthread_mutex_lock(&state.lock);
  for (i = 0; i < THREADS * PER_THREAD; i++) {
    all_once &= state.slots[i].calls == 1;
    all_ok &= state.slots[i].status == CERTLESS_OK;
    all_same &= strcmp(state.slots[i].token, state.slots[0].token) == 0;
    all_one_of &= state.slots[i].one_of;
    all_same_expiry &= state.slots[i].expires_on == state.slots[0].expires_on;
  }
  pthread_mutex_unlock(&state.lock);
  CHECK(all_once);
  CHECK(all_ok);
  CHECK(is_jwt(state.slots[0].token));
  CHECK(all_same);
  /* Every callback got its own userdata back and exactly one of token and error; the one token's
   * expiry, a 64-bit return read on 64 callback threads, is the same every time. */
  pthread_mutex_lock(&foreign_lock);
  CHECK(foreign_userdata == 0);
  pthread_mutex_unlock(&foreign_lock);
  CHECK(all_one_of);
  CHECK(all_same_expiry);
  CHECK(state.slots[0].expires_on > (int64_t)time(NULL));
  /* One upstream request per leg for all 64 concurrent callers (the core cache is single-flight). */
  {
    long imds = emulator_counter("imds");
    long entra = emulator_counter("entra_token");
    if (imds != 1 || entra != 1) {
      fprintf(stderr, "  64 concurrent requests made %ld IMDS and %ld Entra requests\n", imds, entra);
    }
    CHECK(imds == 1);
    CHECK(entra == 1);
  }
}

/* ---- cancellation ---- */

struct one_call {
  pthread_mutex_t lock;
  pthread_cond_t done;
  int calls;
  certless_status status;
  char leg[32];
};

static void on_one(void *userdata, certless_token *token, certless_error *error) {
  struct one_call *c = userdata;
  pthread_mutex_lock(&c->lock);
  c->calls++;
  c->status = token ? CERTLESS_OK : certless_error_code(error);
  snprintf(c->leg, sizeof c->leg, "%s", error ? certless_error_leg(error) : "");
  pthread_cond_broadcast(&c->done);
  pthread_mutex_unlock(&c->lock);
  certless_token_free(token);
  certless_error_free(error);
}

static int wait_one(struct one_call *c) {
  struct timespec deadline;
  int ok = 1;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60;
  pthread_mutex_lock(&c->lock);
  while (c->calls < 1 && ok) ok = pthread_cond_timedwait(&c->done, &c->lock, &deadline) == 0;
  pthread_mutex_unlock(&c->lock);
  return c->calls >= 1;
}

static void test_cancel(void) {
  certless_credential *credential = from_env();
  struct one_call c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, ""};
  certless_pending *pending = NULL;
  struct timespec pause = {0, 200 * 1000 * 1000};

  emulator_reset();
  /* The first IMDS request is answered only after 3 s: the request is still running when it is
   * cancelled. */
  CHECK(emulator_http("POST", "/_emulator/faults",
                      "{\"endpoint\":\"imds\",\"delay_ms\":3000,\"remaining\":1}", NULL, 0) == 200);
  CHECK_STATUS(certless_credential_get_token_async(credential, SHAREPOINT, 1, NULL, on_one, &c,
                                                   &pending, NULL),
               CERTLESS_OK);
  nanosleep(&pause, NULL); /* let it reach the emulator; correctness does not depend on it */
  CHECK(certless_pending_cancel(pending) == true);
  CHECK(wait_one(&c));
  CHECK_STATUS(c.status, CERTLESS_CANCELLED);
  CHECK_STR(c.leg, "caller");
  CHECK(certless_pending_cancel(pending) == false); /* once only */
  certless_pending_free(pending);
  pthread_mutex_lock(&c.lock);
  CHECK(c.calls == 1);
  pthread_mutex_unlock(&c.lock);
  /* The credential still works after a cancellation (this joins the fetch still under way, if
   * core kept it for others, so the emulator's slow answer is read rather than written into a
   * closed connection). */
  {
    certless_token *token = NULL;
    CHECK_STATUS(certless_credential_get_token(credential, SHAREPOINT, 1, NULL, &token, NULL), CERTLESS_OK);
    CHECK(is_jwt(certless_token_value(token)));
    certless_token_free(token);
  }
  emulator_http("DELETE", "/_emulator/faults", NULL, NULL, 0);
  certless_credential_free(credential);
}

/* ---- errors with every getter ---- */

static void test_aadsts_error(void) {
  certless_error *error = NULL;
  certless_credential *credential = from_json(UNKNOWN_APP, "", &error, CERTLESS_OK);
  certless_token *token = (certless_token *)&tests_passed;
  size_t i;
  int has_700016 = 0;

  emulator_reset();
  CHECK_STATUS(certless_credential_get_token(credential, SHAREPOINT, 1, NULL, &token, &error),
               CERTLESS_EXCHANGE_REJECTED);
  CHECK(token == (certless_token *)&tests_passed);
  CHECK_STATUS(certless_error_code(error), CERTLESS_EXCHANGE_REJECTED);
  CHECK_STR(certless_error_leg(error), "exchange");
  CHECK(certless_error_http_status(error) == 400 || certless_error_http_status(error) == 401);
  CHECK(certless_error_aadsts_count(error) >= 1);
  for (i = 0; i < certless_error_aadsts_count(error); i++) {
    has_700016 |= certless_error_aadsts_code(error, i) == 700016;
  }
  CHECK(has_700016);
  CHECK(certless_error_aadsts_code(error, certless_error_aadsts_count(error)) == 0);
  /* An index whose low 32 bits are 0: a size_t cut to 32 bits on its way in would read index 0. */
  if (sizeof(size_t) > 4) CHECK(certless_error_aadsts_code(error, ~(size_t)UINT32_MAX) == 0);
  CHECK_CONTAINS(certless_error_message(error), "AADSTS700016");
  CHECK(certless_error_oauth_error(error) != NULL);
  CHECK(certless_error_trace_id(error) != NULL && strlen(certless_error_trace_id(error)) > 0);
  CHECK(certless_error_correlation_id(error) != NULL &&
        strlen(certless_error_correlation_id(error)) > 0);
  CHECK_STR(certless_error_credential_source(error), "SignedAssertionFromManagedIdentity");
  CHECK_CONTAINS(certless_error_text(error), "certless code 302");
  CHECK_CONTAINS(certless_error_text(error), certless_error_trace_id(error));
  CHECK(certless_error_cause_count(error) == 0);
  CHECK(certless_error_cause(error, 0) == NULL);
  CHECK(emulator_counter("entra_token") >= 1);
  certless_error_free(error);
  certless_credential_free(credential);
}

static void test_managed_identity_error(void) {
  certless_credential *credential = from_env();
  certless_token *token = NULL;
  certless_error *error = NULL;

  emulator_reset();
  CHECK(emulator_http("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"status\":400,\"remaining\":1}", NULL, 0) == 200);
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error),
               CERTLESS_MANAGED_IDENTITY_REJECTED);
  CHECK(token == NULL);
  CHECK_STR(certless_error_leg(error), "managed_identity");
  CHECK(certless_error_http_status(error) == 400);
  CHECK(certless_error_aadsts_count(error) == 0);
  CHECK(certless_error_trace_id(error) == NULL);
  CHECK_CONTAINS(certless_error_text(error), "certless code 202");
  CHECK(emulator_counter("entra_token") == 0);
  /* The managed identity answered and refused: a real failure, not "unavailable". */
  CHECK(!certless_error_is_unavailable(error));
  certless_error_free(error);

  /* The fault was used up: the next request succeeds. */
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, NULL), CERTLESS_OK);
  certless_token_free(token);
  certless_credential_free(credential);
}

/* An App Service endpoint that quotes X-IDENTITY-HEADER back in its 401: the error text says a
 * secret was cut out and does not hold it. */
static void test_echoed_secret_is_not_in_the_error(void) {
  static const char SECRET[] = "c-test-identity-header-5f0e1d2c3b4a";
  char endpoint[256];
  certless_credential *credential;
  certless_token *token = NULL;
  certless_error *error = NULL;

  emulator_reset();
  snprintf(endpoint, sizeof endpoint, "%s/msi/token", require_env("CERTLESS_TEST_EMULATOR_URL"));
  setenv("IDENTITY_ENDPOINT", endpoint, 1);
  setenv("IDENTITY_HEADER", SECRET, 1);
  credential = from_env();
  unsetenv("IDENTITY_ENDPOINT");
  unsetenv("IDENTITY_HEADER");
  CHECK(emulator_http("POST", "/_emulator/faults",
                      "{\"endpoint\":\"app_service\",\"status\":401,\"body\":\"echo_credentials\"}", NULL,
                      0) == 200);
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error),
               CERTLESS_MANAGED_IDENTITY_REJECTED);
  CHECK_CONTAINS(certless_error_text(error), "redacted secret");
  CHECK(strstr(certless_error_text(error), SECRET) == NULL);
  certless_error_free(error);
  certless_credential_free(credential);
  emulator_http("DELETE", "/_emulator/faults", NULL, NULL, 0);
}

/* A loopback port nothing listens on: bound, then closed. 0 when there is none. */
static int closed_port(void) {
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

/* No managed identity on the host (nothing at IMDS's address, or Docker Desktop answering for
 * it): the error says the credential is unavailable, so a host can try its next way in. */
static void test_unavailable(void) {
  char no_imds[64];
  char *saved = strdup(require_env("AZURE_POD_IDENTITY_AUTHORITY_HOST"));
  certless_credential *credential;
  certless_token *token = NULL;
  certless_error *error = NULL;

  emulator_reset();
  snprintf(no_imds, sizeof no_imds, "http://127.0.0.1:%d", closed_port());
  setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", no_imds, 1);
  credential = from_env();
  setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", saved, 1);
  free(saved);
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error),
               CERTLESS_MANAGED_IDENTITY_UNREACHABLE);
  CHECK(certless_error_is_unavailable(error));
  CHECK_STR(certless_error_leg(error), "managed_identity");
  certless_error_free(error);
  certless_credential_free(credential);

  credential = from_env();
  error = NULL;
  CHECK(emulator_http("POST", "/_emulator/faults",
                      "{\"endpoint\":\"imds\",\"status\":403,\"remaining\":1,\"body\":{\"custom\":"
                      "\"connecting to 169.254.169.254:80: dial tcp 169.254.169.254:80: connectex: A socket "
                      "operation was attempted to an unreachable network.\"}}",
                      NULL, 0) == 200);
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error),
               CERTLESS_MANAGED_IDENTITY_REJECTED);
  CHECK(certless_error_is_unavailable(error));
  CHECK(certless_error_http_status(error) == 403);
  CHECK(emulator_counter("imds") == 1); /* not retried: it will not change */
  certless_error_free(error);
  certless_credential_free(credential);
}

static void test_chain_error_causes(void) {
  certless_error *error = NULL;
  certless_credential *credential = from_json(
      UNKNOWN_APP,
      ",{\"SourceType\":\"CustomSignedAssertion\","
      "\"CustomSignedAssertionProviderName\":\"MyProvider\"}",
      &error, CERTLESS_OK);
  certless_token *token = NULL;
  const certless_error *first;
  const certless_error *second;

  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error),
               CERTLESS_ALL_CREDENTIAL_SOURCES_FAILED);
  CHECK_STR(certless_error_leg(error), "exchange"); /* the most telling cause's leg */
  CHECK(certless_error_cause_count(error) == 2);
  first = certless_error_cause(error, 0);
  second = certless_error_cause(error, 1);
  CHECK_STATUS(certless_error_code(first), CERTLESS_EXCHANGE_REJECTED);
  CHECK(certless_error_aadsts_code(first, 0) == 700016);
  CHECK_STATUS(certless_error_code(second), CERTLESS_UNSUPPORTED_CREDENTIAL_SOURCE);
  CHECK_STR(certless_error_credential_source(second), "CustomSignedAssertion");
  CHECK(certless_error_cause(error, 2) == NULL);
  CHECK(certless_error_aadsts_code(error, 0) == 700016);
  CHECK(!certless_error_is_unavailable(error) && !certless_error_is_unavailable(first));
  CHECK_CONTAINS(certless_error_text(error), "\n  2. ");
  certless_error_free(error); /* frees the causes too */
  certless_credential_free(credential);
}

/* ---- log callback ---- */

struct log_capture {
  pthread_mutex_t lock;
  int messages;
  int mentions_jwt;
  int bad_level;
  int on_main_thread;
  int saw_certless;
  pthread_t main_thread;
};

static struct log_capture log_capture = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, 0};
/* Log calls whose userdata was not &log_capture, or whose message was NULL. */
static pthread_mutex_t log_misfit_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_misfits = 0;

static void capture_log(void *userdata, certless_log_level level, const char *message) {
  struct log_capture *c = userdata;
  /* Checked before use: arguments garbled by a calling-convention mismatch must fail a check. */
  if (userdata != &log_capture || message == NULL) {
    pthread_mutex_lock(&log_misfit_lock);
    log_misfits++;
    pthread_mutex_unlock(&log_misfit_lock);
    return;
  }
  pthread_mutex_lock(&c->lock);
  c->messages++;
  if (level < CERTLESS_LOG_ERROR || level > CERTLESS_LOG_INFO) c->bad_level++;
  if (strstr(message, "eyJ") != NULL) c->mentions_jwt++; /* a JWT, or part of one */
  if (strstr(message, "certless") != NULL) c->saw_certless++;
  if (pthread_equal(pthread_self(), c->main_thread)) c->on_main_thread++;
  pthread_mutex_unlock(&c->lock);
}

static void force_refresh(certless_credential *credential) {
  certless_token_options *options = certless_token_options_new();
  certless_token *token = NULL;
  certless_token_options_set_force_refresh(options, true, NULL);
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, options, &token, NULL), CERTLESS_OK);
  certless_token_free(token);
  certless_token_options_free(options);
}

static void test_log_callback(void) {
  struct log_capture *const c = &log_capture;
  certless_credential *credential;
  int seen;

  c->main_thread = pthread_self();
  CHECK_STATUS(certless_log_set_callback(capture_log, c, CERTLESS_LOG_INFO, NULL), CERTLESS_OK);
  credential = from_env(); /* logs which managed-identity source it chose */
  force_refresh(credential);
  force_refresh(credential);
  /* Turning logging off delivers everything queued before it returns. */
  CHECK_STATUS(certless_log_set_callback(NULL, NULL, CERTLESS_LOG_OFF, NULL), CERTLESS_OK);
  pthread_mutex_lock(&c->lock);
  seen = c->messages;
  CHECK(seen >= 3);
  CHECK(c->saw_certless >= 1);
  CHECK(c->bad_level == 0);
  CHECK(c->mentions_jwt == 0);
  CHECK(c->on_main_thread == 0); /* delivered on certless's logging thread */
  pthread_mutex_unlock(&c->lock);
  pthread_mutex_lock(&log_misfit_lock);
  CHECK(log_misfits == 0); /* every call had this userdata and a message */
  pthread_mutex_unlock(&log_misfit_lock);
  /* Off: nothing more arrives. */
  force_refresh(credential);
  pthread_mutex_lock(&c->lock);
  CHECK(c->messages == seen);
  pthread_mutex_unlock(&c->lock);
  certless_credential_free(credential);
}

/* certless_diagnose: the report of the healthy set-up, then a seeded failure on the first line. */
static void test_diagnose(void) {
  certless_report *report = NULL;
  certless_error *error = NULL;
  CHECK_STATUS(certless_diagnose(NULL, NULL, SHAREPOINT[0], &report, &error), CERTLESS_OK);
  CHECK(certless_report_ok(report));
  CHECK_CONTAINS(certless_report_headline(report), "OK: token obtained");
  CHECK_CONTAINS(certless_report_json(report), "\"leg\": \"federated_credential\"");
  CHECK_CONTAINS(certless_report_json(report), "az ad app federated-credential create");
  CHECK(strstr(certless_report_json(report), "eyJ") == NULL);
  certless_report_free(report);

  char json[2048];
  snprintf(json, sizeof json,
           "{\"AzureAd\":{\"Instance\":\"%s/\",\"TenantId\":\"%s\",\"ClientId\":"
           "\"99999999-8888-7777-6666-555555555555\",\"ClientCredentials\":[{\"SourceType\":"
           "\"SignedAssertionFromManagedIdentity\",\"ManagedIdentityClientId\":\"%s\"}]}}",
           require_env("AZURE_AUTHORITY_HOST"), require_env("AZURE_TENANT_ID"),
           require_env("CERTLESS_MANAGED_IDENTITY_CLIENT_ID"));
  report = NULL;
  CHECK_STATUS(certless_diagnose(NULL, json, NULL, &report, &error), CERTLESS_OK);
  CHECK(!certless_report_ok(report));
  CHECK_CONTAINS(certless_report_headline(report), "FAIL: ");
  CHECK_CONTAINS(certless_report_headline(report), "AADSTS700016");
  certless_report_free(report);

  /* A configuration that cannot be read is a report too; bad arguments are errors. */
  report = NULL;
  CHECK_STATUS(certless_diagnose("/nonexistent/appsettings.json", NULL, NULL, &report, &error), CERTLESS_OK);
  CHECK_CONTAINS(certless_report_headline(report), "configuration file /nonexistent/appsettings.json cannot be read");
  certless_report_free(report);
  CHECK_STATUS(certless_diagnose("a", "{}", NULL, &report, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "config_path and config_json are given");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_diagnose(NULL, NULL, NULL, NULL, &error), CERTLESS_INVALID_ARGUMENT);
  certless_error_free(error);
  certless_report_free(NULL);
  CHECK(certless_report_json(NULL) == NULL && !certless_report_ok(NULL));
}

/* certless_diagnose_options: the options that build a working credential give a healthy report;
 * options that cannot make one give the configuration failure as the report; NULL is an error. */
static void test_diagnose_options(void) {
  certless_options *options = emulator_options();
  certless_report *report = NULL;
  certless_error *error = NULL;

  CHECK_STATUS(certless_diagnose_options(options, SHAREPOINT[0], &report, &error), CERTLESS_OK);
  CHECK(certless_report_ok(report));
  CHECK_CONTAINS(certless_report_headline(report), "OK: token obtained");
  CHECK(strstr(certless_report_json(report), "eyJ") == NULL);
  certless_report_free(report);

  report = NULL;
  CHECK_STATUS(certless_options_unset(options, "tenant_id", NULL), CERTLESS_OK);
  CHECK_STATUS(certless_diagnose_options(options, NULL, &report, &error), CERTLESS_OK);
  CHECK(!certless_report_ok(report));
  CHECK_CONTAINS(certless_report_headline(report), "FAIL: ");
  CHECK_CONTAINS(certless_report_headline(report), "tenant");
  certless_report_free(report);
  certless_options_free(options);

  report = NULL;
  CHECK_STATUS(certless_diagnose_options(NULL, NULL, &report, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK(report == NULL);
  CHECK_CONTAINS(certless_error_message(error), "options");
  certless_error_free(error);
}

/* Copies the JSON array that follows `key` in `json` into `out` (brackets counted: the registry's
 * strings hold none); 0 when there is none or it does not fit. */
static int json_array(const char *json, const char *key, char *out, size_t cap) {
  const char *start = strstr(json, key);
  int depth = 0;
  start = start ? strchr(start, '[') : NULL;
  for (const char *p = start; p && *p; p++) {
    if (*p == '[') {
      depth++;
    } else if (*p == ']' && --depth == 0) {
      size_t len = (size_t)(p - start) + 1;
      if (len >= cap) return 0;
      memcpy(out, start, len);
      out[len] = '\0';
      return 1;
    }
  }
  return 0;
}

/* Expects certless_diagnose_with to refuse `settings` with CERTLESS_INVALID_ARGUMENT, an error
 * whose message holds `says`, and no report. */
static void check_refused(const char *settings, const char *says) {
  certless_report *report = NULL;
  certless_error *error = NULL;
  CHECK_STATUS(certless_diagnose_with(NULL, NULL, NULL, settings, &report, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK(report == NULL);
  CHECK(error != NULL && certless_error_code(error) == CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), says);
  certless_error_free(error);
}

/* certless_diagnose_with: the app's federated credentials handed in (inline, Graph's shape, a file)
 * and the one that matches named on the headline; NULL settings are the defaults; settings that
 * are malformed, unknown or contradictory are errors that say so. */
static void test_diagnose_with(void) {
  static char registry[131072];
  char credentials[8192];
  char settings[16384];
  char named[512];
  certless_report *report = NULL;
  certless_error *error = NULL;

  CHECK(emulator_http("GET", "/_emulator/registry", NULL, registry, sizeof registry) == 200);
  CHECK(json_array(registry, "\"federated_credentials\"", credentials, sizeof credentials));
  const char *name = strstr(credentials, "\"name\"");
  name = name ? strchr(strchr(name + 6, ':'), '"') : NULL;
  CHECK(name != NULL);
  if (name == NULL) return;
  snprintf(named, sizeof named, "through federated credential '%.*s'", (int)strcspn(name + 1, "\""), name + 1);

  /* Inline, from the environment. */
  snprintf(settings, sizeof settings, "{\"scope\":\"%s\",\"federated_credentials\":%s}", SHAREPOINT[0], credentials);
  CHECK_STATUS(certless_diagnose_with(NULL, NULL, NULL, settings, &report, &error), CERTLESS_OK);
  CHECK(certless_report_ok(report));
  CHECK_CONTAINS(certless_report_headline(report), "OK: token obtained");
  CHECK_CONTAINS(certless_report_headline(report), named);
  certless_report_free(report);

  /* Graph's {"value": [...]}, from options. */
  certless_options *options = emulator_options();
  snprintf(settings, sizeof settings, "{\"federated_credentials\":{\"value\":%s}}", credentials);
  report = NULL;
  CHECK_STATUS(certless_diagnose_with(NULL, NULL, options, settings, &report, &error), CERTLESS_OK);
  CHECK_CONTAINS(certless_report_headline(report), named);
  certless_report_free(report);

  /* A file, as `az ad app federated-credential list` writes it. */
  char path[] = "/tmp/certless-fics-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) {
    FILE *file = fdopen(fd, "w");
    CHECK(file != NULL && fputs(credentials, file) >= 0 && fclose(file) == 0);
    snprintf(settings, sizeof settings, "{\"federated_credentials_file\":\"%s\"}", path);
    report = NULL;
    CHECK_STATUS(certless_diagnose_with(NULL, NULL, NULL, settings, &report, &error), CERTLESS_OK);
    CHECK_CONTAINS(certless_report_headline(report), named);
    certless_report_free(report);
    remove(path);
  }

  /* NULL settings: the defaults (Microsoft Graph's scope, nothing read back). */
  report = NULL;
  CHECK_STATUS(certless_diagnose_with(NULL, NULL, NULL, NULL, &report, &error), CERTLESS_OK);
  CHECK(certless_report_ok(report));
  CHECK(strstr(certless_report_headline(report), "through federated credential") == NULL);
  certless_report_free(report);

  /* Bad settings and arguments are errors that say what is wrong. */
  check_refused("{\"scop\":\"x\"}", "unknown field `scop`");
  check_refused("{\"scope\":", "not valid");
  check_refused("{\"federated_credentials_file\":\"f.json\",\"graph\":{\"token_env\":\"GRAPH_TOKEN\"}}", "one way");
  check_refused("{\"graph\":{}}", "exactly one token source");
  check_refused("{\"scope\":\"\xff\"}", "settings_json");
  report = NULL;
  CHECK_STATUS(certless_diagnose_with("a.json", NULL, options, NULL, &report, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK(report == NULL);
  CHECK_CONTAINS(certless_error_message(error), "config_path and options are given: pass one configuration at most");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_diagnose_with(NULL, NULL, NULL, NULL, NULL, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "report_out");
  certless_error_free(error);
  /* error_out NULL: the status alone. */
  CHECK_STATUS(certless_diagnose_with(NULL, NULL, NULL, "[1", &report, NULL), CERTLESS_INVALID_ARGUMENT);
  certless_options_free(options);
}

/* No OTEL_* variable, no telemetry: a flush has nothing to send, and the receiver, when the
 * script started one (CERTLESS_TEST_OTLP_URL; emptied when this program started), got nothing from
 * all of this program's token requests. test_telemetry.c checks what is sent when asked for. */
static void test_telemetry_off(void) {
  char received[4096];
  CHECK(certless_telemetry_flush(1000));
  if (getenv("CERTLESS_TEST_OTLP_URL") == NULL) return;
  CHECK(otlp_http("GET", "/received", received, sizeof received) == 200);
  CHECK_CONTAINS(received, "\"requests\": []");
  CHECK_CONTAINS(received, "\"metrics\": []");
}

int main(void) {
  require_env("CERTLESS_TEST_EMULATOR_URL");
  /* Telemetry off, whatever the environment that started this program says. */
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  unsetenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (getenv("CERTLESS_TEST_OTLP_URL") != NULL) otlp_http("DELETE", "/received", NULL, 0);
  test_blocking_happy_path_and_cache();
  test_token_is_current();
  test_token_times();
  test_config_file();
  test_credential_from_options();
  test_options_deadline();
  test_async_from_threads();
  test_cancel();
  test_aadsts_error();
  test_managed_identity_error();
  test_echoed_secret_is_not_in_the_error();
  test_chain_error_causes();
  test_unavailable();
  test_log_callback();
  test_diagnose();
  test_diagnose_options();
  test_diagnose_with();
  test_telemetry_off();
  emulator_reset();
  return finish("test_emulator");
}
