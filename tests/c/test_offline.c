/*
 * The certless C ABI without any server: version, argument checking (NULL, invalid UTF-8),
 * configuration errors (malformed JSON, unknown keys, missing values), token request options,
 * credential options by name, the cache-only call, the async path's synchronous and asynchronous
 * failures, the log callback's arguments and every getter's NULL behaviour.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "harness.h"

#define TENANT "4f6c1d2a-8b3e-4e71-9a5d-0c2b7e9f3a81"
#define APP "0f3e8b5c-9a2d-4e6f-b1c7-4d8a2e6f0b93"
#define MI "7d2b3f4e-1c5a-4b6d-8e9f-0a1b2c3d4e5f"

/* Loopback only: the discard port, where nothing answers. */
static const char *const VALID_CONFIG =
    "{\"AzureAd\":{\"Instance\":\"http://127.0.0.1:9/\",\"TenantId\":\"" TENANT "\","
    "\"ClientId\":\"" APP "\",\"ClientCredentials\":[{\"SourceType\":"
    "\"SignedAssertionFromManagedIdentity\",\"ManagedIdentityClientId\":\"" MI "\"}]}}";

/* The C types this header gives Rust's: certless_status and certless_log_level are u32, bool is
 * Rust's one-byte bool, size_t is usize (pointer-sized on every target certless builds for: 4
 * bytes in the x86 DLL). No structure crosses the ABI by value (every object is an opaque pointer),
 * so these are all the layout the two sides must agree on; a header that drifted fails to build. */
_Static_assert(sizeof(certless_status) == 4, "certless_status is Rust's u32");
_Static_assert(sizeof(certless_log_level) == 4, "certless_log_level is Rust's u32");
_Static_assert(sizeof(bool) == 1, "bool is Rust's bool");
_Static_assert(sizeof(size_t) == sizeof(void *), "size_t is Rust's usize");

static certless_credential *SENTINEL_CREDENTIAL = (certless_credential *)&tests_passed;
static certless_error *SENTINEL_ERROR = (certless_error *)&tests_failed;

/* Runs certless_credential_from_config_json expecting `want`; returns the error (caller frees). */
static certless_error *config_error(const char *json, certless_status want) {
  certless_credential *credential = SENTINEL_CREDENTIAL;
  certless_error *error = NULL;
  CHECK_STATUS(certless_credential_from_config_json(json, &credential, &error), want);
  CHECK(credential == SENTINEL_CREDENTIAL); /* outputs are written only on success */
  CHECK(error != NULL);
  CHECK_STATUS(certless_error_code(error), want);
  CHECK_STR(certless_error_leg(error), "config");
  CHECK(certless_error_message(error) != NULL);
  CHECK(certless_error_http_status(error) == 0);
  CHECK(certless_error_aadsts_count(error) == 0);
  return error;
}

static void test_version(void) {
  CHECK_STR(certless_version(), CERTLESS_VERSION);
  CHECK(CERTLESS_VERSION_MAJOR == 0 && CERTLESS_VERSION_MINOR >= 1);
}

static void test_free_null_is_a_noop(void) {
  certless_credential_free(NULL);
  certless_token_free(NULL);
  certless_error_free(NULL);
  certless_pending_free(NULL);
  certless_token_options_free(NULL);
  certless_options_free(NULL);
  CHECK(certless_pending_cancel(NULL) == false);
}

static void test_getters_accept_null(void) {
  CHECK_STATUS(certless_error_code(NULL), CERTLESS_OK);
  CHECK(certless_error_leg(NULL) == NULL);
  CHECK(certless_error_message(NULL) == NULL);
  CHECK(certless_error_text(NULL) == NULL);
  CHECK(certless_error_remedy(NULL) == NULL);
  CHECK(certless_error_http_status(NULL) == 0);
  CHECK(certless_error_aadsts_count(NULL) == 0);
  CHECK(certless_error_aadsts_code(NULL, 0) == 0);
  CHECK(certless_error_oauth_error(NULL) == NULL);
  CHECK(certless_error_trace_id(NULL) == NULL);
  CHECK(certless_error_correlation_id(NULL) == NULL);
  CHECK(certless_error_credential_source(NULL) == NULL);
  CHECK(certless_error_cause_count(NULL) == 0);
  CHECK(certless_error_cause(NULL, 0) == NULL);
  CHECK(certless_error_is_unavailable(NULL) == false);
  CHECK(certless_token_value(NULL) == NULL);
  CHECK(certless_token_type(NULL) == NULL);
  CHECK(certless_token_source(NULL) == NULL);
  CHECK(certless_token_expires_on(NULL) == 0);
  CHECK(certless_token_refresh_on(NULL) == 0);
  CHECK(certless_credential_tenant_id(NULL) == NULL);
  CHECK(certless_credential_client_id(NULL) == NULL);
}

static void test_null_and_utf8_arguments(void) {
  certless_credential *credential = SENTINEL_CREDENTIAL;
  certless_error *error = NULL;

  CHECK_STATUS(certless_credential_from_config_json(NULL, &credential, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK(credential == SENTINEL_CREDENTIAL);
  CHECK_STATUS(certless_error_code(error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`json` is NULL");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_from_config_json(VALID_CONFIG, NULL, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "credential_out");
  certless_error_free(error);

  /* error_out may be NULL: the status alone tells. */
  CHECK_STATUS(certless_credential_from_config_json(NULL, &credential, NULL),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_credential_from_env(NULL, NULL), CERTLESS_INVALID_ARGUMENT);

  error = NULL;
  CHECK_STATUS(certless_credential_from_config_json("{\"AzureAd\":{\"TenantId\":\"\xff\xfe\"}}",
                                                    &credential, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "not valid UTF-8 (invalid byte at offset 24)");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_from_config_file("/tmp/\xc3(.json", &credential, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`path` is not valid UTF-8");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_from_config_file(NULL, &credential, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`path` is NULL");
  certless_error_free(error);
  CHECK(credential == SENTINEL_CREDENTIAL);
}

static void test_configuration_errors(void) {
  certless_error *error;

  error = config_error("{\"AzureAd\": {", CERTLESS_INVALID_CONFIG);
  CHECK_CONTAINS(certless_error_message(error), "not valid JSON");
  CHECK(certless_error_remedy(error) != NULL);
  CHECK_CONTAINS(certless_error_text(error), "certless code 101");
  certless_error_free(error);

  error = config_error("[1, 2]", CERTLESS_INVALID_CONFIG);
  certless_error_free(error);

  error = config_error("{\"AzureAd\":{\"TennantId\":\"" TENANT "\",\"ClientId\":\"" APP "\"}}",
                       CERTLESS_UNKNOWN_CONFIG_KEY);
  CHECK_CONTAINS(certless_error_text(error), "TennantId");
  CHECK_CONTAINS(certless_error_text(error), "TenantId");
  certless_error_free(error);

  error = config_error("{\"AzureAd\":{\"ClientId\":\"" APP "\",\"ClientCredentials\":[{\"SourceType\":"
                       "\"SignedAssertionFromManagedIdentity\"}]}}",
                       CERTLESS_MISSING_CONFIG);
  CHECK_CONTAINS(certless_error_message(error), "tenant");
  certless_error_free(error);

  error = config_error("{\"AzureAd\":{\"TenantId\":\"YOUR_TENANT_ID\",\"ClientId\":\"" APP "\","
                       "\"ClientCredentials\":[{\"SourceType\":"
                       "\"SignedAssertionFromManagedIdentity\"}]}}",
                       CERTLESS_INVALID_CONFIG);
  CHECK_CONTAINS(certless_error_message(error), "placeholder");
  CHECK(certless_error_remedy(error) != NULL);
  certless_error_free(error);

  error = config_error("{\"AzureAd\":{\"Instance\":\"http://login.example.com/\",\"TenantId\":\"" TENANT
                       "\",\"ClientId\":\"" APP "\",\"ClientCredentials\":[{\"SourceType\":"
                       "\"SignedAssertionFromManagedIdentity\"}]}}",
                       CERTLESS_INSECURE_AUTHORITY);
  certless_error_free(error);

  {
    certless_credential *credential = SENTINEL_CREDENTIAL;
    error = NULL;
    CHECK_STATUS(certless_credential_from_config_file("/nonexistent/certless/appsettings.json",
                                                      &credential, &error),
                 CERTLESS_CONFIG_FILE_UNREADABLE);
    CHECK(credential == SENTINEL_CREDENTIAL);
    CHECK_CONTAINS(certless_error_message(error), "/nonexistent/certless/appsettings.json");
    certless_error_free(error);
  }

  {
    /* from_env without the variables names the one to set. */
    certless_credential *credential = SENTINEL_CREDENTIAL;
    char *saved = getenv("AZURE_TENANT_ID") ? strdup(getenv("AZURE_TENANT_ID")) : NULL;
    unsetenv("AZURE_TENANT_ID");
    error = NULL;
    CHECK_STATUS(certless_credential_from_env(&credential, &error), CERTLESS_MISSING_CONFIG);
    CHECK(credential == SENTINEL_CREDENTIAL);
    CHECK_CONTAINS(certless_error_text(error), "AZURE_TENANT_ID");
    certless_error_free(error);
    if (saved) {
      setenv("AZURE_TENANT_ID", saved, 1);
      free(saved);
    }
  }
}

static certless_credential *valid_credential(void) {
  certless_credential *credential = NULL;
  certless_error *error = SENTINEL_ERROR;
  CHECK_STATUS(certless_credential_from_config_json(VALID_CONFIG, &credential, &error), CERTLESS_OK);
  CHECK(error == SENTINEL_ERROR); /* error_out is written only on failure */
  CHECK(credential != NULL);
  return credential;
}

static void test_credential_getters(void) {
  certless_credential *credential = valid_credential();
  CHECK_STR(certless_credential_tenant_id(credential), TENANT);
  CHECK_STR(certless_credential_client_id(credential), APP);
  certless_credential_free(credential);
}

static void test_get_token_arguments(void) {
  certless_credential *credential = valid_credential();
  const char *good[] = {"https://graph.microsoft.com/.default"};
  const char *with_null[] = {"https://graph.microsoft.com/.default", NULL};
  const char *bad_utf8[] = {"https://graph.microsoft.com/\xff"};
  const char *delegated[] = {"https://graph.microsoft.com/User.Read"};
  const char *two_resources[] = {"https://graph.microsoft.com/.default",
                                 "https://contoso.sharepoint.com/.default"};
  certless_token *token = (certless_token *)SENTINEL_ERROR;
  certless_error *error = NULL;

  CHECK_STATUS(certless_credential_get_token(NULL, good, 1, NULL, &token, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`credential` is NULL");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, NULL, 1, NULL, &token, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`scopes` is NULL");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, with_null, 2, NULL, &token, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`scopes[1]` is NULL");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, bad_utf8, 1, NULL, &token, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`scopes[0]` is not valid UTF-8");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, good, 1, NULL, NULL, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`token_out` is NULL");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, delegated, 1, NULL, &token, &error),
               CERTLESS_INVALID_SCOPE);
  CHECK(certless_error_remedy(error) != NULL);
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, two_resources, 2, NULL, &token, &error),
               CERTLESS_INVALID_SCOPE);
  CHECK_CONTAINS(certless_error_message(error), "two resources");
  certless_error_free(error);

  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, good, 0, NULL, &token, &error),
               CERTLESS_INVALID_SCOPE);
  certless_error_free(error);
  CHECK(token == (certless_token *)SENTINEL_ERROR);

  /* The cache-only call: nothing cached is an answer, not an error. */
  error = SENTINEL_ERROR;
  CHECK_STATUS(certless_credential_cached_token(credential, good, 1, &token, &error),
               CERTLESS_NOT_CACHED);
  CHECK(token == (certless_token *)SENTINEL_ERROR);
  CHECK(error == SENTINEL_ERROR);
  error = NULL;
  CHECK_STATUS(certless_credential_cached_token(credential, delegated, 1, &token, &error),
               CERTLESS_INVALID_SCOPE);
  certless_error_free(error);
  CHECK_STATUS(certless_credential_cached_token(credential, good, 1, NULL, NULL),
               CERTLESS_INVALID_ARGUMENT);
  certless_credential_free(credential);
}

static void test_options(void) {
  certless_credential *credential = valid_credential();
  certless_token_options *options = certless_token_options_new();
  const char *good[] = {"https://graph.microsoft.com/.default"};
  certless_token *token = NULL;
  certless_error *error = NULL;

  CHECK(options != NULL);
  CHECK_STATUS(certless_token_options_set_claims(NULL, "{}", &error), CERTLESS_INVALID_ARGUMENT);
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_token_options_set_tenant_id(options, "\xfe", &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`tenant_id` is not valid UTF-8");
  certless_error_free(error);
  CHECK_STATUS(certless_token_options_set_claims(options, "{\"access_token\":{}}", NULL), CERTLESS_OK);
  CHECK_STATUS(certless_token_options_set_claims(options, NULL, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_token_options_set_force_refresh(options, true, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_token_options_set_force_refresh(NULL, true, NULL), CERTLESS_INVALID_ARGUMENT);

  /* core refuses a tenant that is neither a GUID nor a domain before any request. */
  CHECK_STATUS(certless_token_options_set_tenant_id(options, "not a tenant!", NULL), CERTLESS_OK);
  error = NULL;
  CHECK_STATUS(certless_credential_get_token(credential, good, 1, options, &token, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "neither a GUID nor a domain");
  certless_error_free(error);
  CHECK(token == NULL);
  certless_token_options_free(options);
  certless_credential_free(credential);
}

/* Credential options by name: every argument checked, core's names, rules and error text. */
static void test_credential_options(void) {
  certless_options *options = NULL;
  certless_credential *credential = SENTINEL_CREDENTIAL;
  certless_error *error = NULL;

  CHECK_STATUS(certless_options_new(NULL, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`options_out` is NULL");
  certless_error_free(error);
  error = SENTINEL_ERROR;
  CHECK_STATUS(certless_options_new(&options, &error), CERTLESS_OK);
  CHECK(options != NULL);
  CHECK(error == SENTINEL_ERROR); /* error_out is written only on failure */

  /* NULLs and invalid UTF-8 name the argument. */
  error = NULL;
  CHECK_STATUS(certless_options_set(NULL, "tenant_id", TENANT, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`options` is NULL");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set(options, NULL, TENANT, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`name` is NULL");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set(options, "tenant_id", NULL, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`value` is NULL");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set(options, "tenant_\xff", TENANT, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`name` is not valid UTF-8 (invalid byte at offset 7)");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set(options, "tenant_id", "\xc3(", &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`value` is not valid UTF-8");
  certless_error_free(error);
  CHECK_STATUS(certless_options_set_number(options, NULL, 1.0, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_options_set_flag(NULL, "from_env", true, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_options_unset(options, NULL, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_options_isolate_environment(NULL, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_options_set_environment_variable(options, "A", NULL, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_credential_from_options(NULL, &credential, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_credential_from_options(options, NULL, NULL), CERTLESS_INVALID_ARGUMENT);

  /* An unknown name: the name probably meant, spelled as the caller spells names. */
  error = NULL;
  CHECK_STATUS(certless_options_set(options, "tennant_id", TENANT, &error), CERTLESS_UNKNOWN_CONFIG_KEY);
  CHECK_STR(certless_error_leg(error), "config");
  CHECK_CONTAINS(certless_error_message(error), "unknown option 'tennant_id'");
  CHECK_STR(certless_error_remedy(error), "Did you mean 'tenant_id'?");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set_number(options, "deadlineMilliseconds", 5.0, &error),
               CERTLESS_UNKNOWN_CONFIG_KEY);
  CHECK_CONTAINS(certless_error_remedy(error), "deadline");
  certless_error_free(error);

  /* The wrong kind of value, and values out of range. */
  error = NULL;
  CHECK_STATUS(certless_options_set_number(options, "tenant_id", 3.0, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_STR(certless_error_message(error), "tenant_id takes text, not the number 3");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set(options, "deadline", "soon", &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "deadline takes a number, not 'soon'");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set_flag(options, "connect_timeout", true, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "connect_timeout takes a number");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set(options, "from_env", "yes", &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "from_env takes true or false");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_options_set_number(options, "deadline", 0.0, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "more than 0 and at most one hour");
  CHECK(certless_error_remedy(error) != NULL);
  certless_error_free(error);
  CHECK_STATUS(certless_options_set_number(options, "request_timeout", 3600.5, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_options_set_number(options, "connect_timeout_ms", -1.0, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_options_set_number(options, "deadline", NAN, NULL), CERTLESS_INVALID_ARGUMENT);
  error = NULL;
  CHECK_STATUS(certless_options_set_environment_variable(options, "A=B", "c", &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "not an environment variable name");
  certless_error_free(error);

  /* None of those changed anything: the options alone still lack a tenant. */
  error = NULL;
  CHECK_STATUS(certless_credential_from_options(options, &credential, &error), CERTLESS_MISSING_CONFIG);
  CHECK(credential == SENTINEL_CREDENTIAL);
  CHECK_CONTAINS(certless_error_text(error), "tenant");
  certless_error_free(error);

  /* Names in any idiom, numbers as text, durations in ms; combinations checked at build. */
  CHECK_STATUS(certless_options_set(options, "TenantId", TENANT, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "clientId", APP, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "authority_host", "http://127.0.0.1:9", NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "managed_identity_client_id", MI, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "managed_identity_object_id", MI, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "request_timeout", "2.5", NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set_number(options, "connectTimeoutMs", 1500.0, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set_number(options, "deadline", 90.0, NULL), CERTLESS_OK);
  error = NULL;
  CHECK_STATUS(certless_credential_from_options(options, &credential, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "give at most one");
  certless_error_free(error);
  CHECK_STATUS(certless_options_unset(options, "managedIdentityObjectId", NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_isolate_environment(options, NULL), CERTLESS_OK);
  error = SENTINEL_ERROR;
  CHECK_STATUS(certless_credential_from_options(options, &credential, &error), CERTLESS_OK);
  CHECK(error == SENTINEL_ERROR);
  CHECK_STR(certless_credential_tenant_id(credential), TENANT);
  CHECK_STR(certless_credential_client_id(credential), APP);
  /* The credential keeps nothing of the options. */
  certless_options_free(options);
  CHECK_STR(certless_credential_client_id(credential), APP);
  certless_credential_free(credential);
}

/* The shared cache's getters: a credential with one (at the discard port, where no Redis answers:
 * nothing here needs it to) and one without. */
static void test_shared_cache_getters(void) {
  certless_options *options = NULL;
  certless_credential *with = NULL, *without = valid_credential();
  certless_error *error = NULL;
  uint64_t value = 7;

  CHECK(certless_credential_shared_cache_target(NULL) == NULL);
  CHECK(certless_credential_shared_cache_state(NULL) == NULL);
  CHECK(certless_credential_shared_cache_target(without) == NULL);
  CHECK(certless_credential_shared_cache_state(without) == NULL);
  CHECK_STATUS(certless_credential_shared_cache_counter(without, "hit", &value, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "no shared cache");
  certless_error_free(error);
  error = NULL;

  CHECK_STATUS(certless_options_new(&options, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "tenant_id", TENANT, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "client_id", APP, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "authority_host", "http://127.0.0.1:9", NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set(options, "shared_cache", "redis://:hunter2@127.0.0.1:9/0", NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_isolate_environment(options, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_options_set_environment_variable(
                   options, "CERTLESS_SHARED_CACHE_KEY", "c-test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", NULL),
               CERTLESS_OK);
  CHECK_STATUS(certless_credential_from_options(options, &with, &error), CERTLESS_OK);
  certless_options_free(options);
  if (with == NULL) {
    certless_error_free(error);
    certless_credential_free(without);
    return;
  }
  /* The target never carries the password. */
  CHECK_STR(certless_credential_shared_cache_target(with), "redis://127.0.0.1:9/0");
  const char *state = certless_credential_shared_cache_state(with);
  CHECK(state != NULL && (strcmp(state, "closed") == 0 || strcmp(state, "open") == 0 || strcmp(state, "half_open") == 0));
  CHECK_STATUS(certless_credential_shared_cache_counter(with, "hit", &value, NULL), CERTLESS_OK);
  CHECK(value == 0);
  CHECK_STATUS(certless_credential_shared_cache_counter(with, "breaker_opened", &value, NULL), CERTLESS_OK);

  CHECK_STATUS(certless_credential_shared_cache_counter(with, "hits", &value, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "not a shared-cache counter");
  CHECK_CONTAINS(certless_error_message(error), "lease_won");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_credential_shared_cache_counter(with, "hit", NULL, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`value_out` is NULL");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_credential_shared_cache_counter(with, NULL, &value, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`name` is NULL");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_credential_shared_cache_counter(with, "hi\xff", &value, &error), CERTLESS_INVALID_ARGUMENT);
  certless_error_free(error);
  CHECK_STATUS(certless_credential_shared_cache_counter(NULL, "hit", &value, NULL), CERTLESS_INVALID_ARGUMENT);
  certless_credential_free(with);
  certless_credential_free(without);
}

/* Async completions, collected for the main thread. */
struct completion {
  pthread_mutex_t lock;
  pthread_cond_t done;
  int calls;
  int one_of; /* exactly one of token and error was non-NULL, in every call */
  certless_status status;
};

/* The userdata on_token expects, set before the request starts. */
static struct completion *expected_completion = NULL;
static int foreign_userdata = 0; /* written only if a callback gets another userdata */

static void on_token(void *userdata, certless_token *token, certless_error *error) {
  struct completion *c = userdata;
  /* Checked before use: arguments garbled by a calling-convention mismatch must fail a check. */
  if (userdata != expected_completion) {
    foreign_userdata++;
    return;
  }
  pthread_mutex_lock(&c->lock);
  c->calls++;
  c->one_of &= (token != NULL) != (error != NULL);
  c->status = token != NULL ? CERTLESS_OK : certless_error_code(error);
  pthread_cond_broadcast(&c->done);
  pthread_mutex_unlock(&c->lock);
  certless_token_free(token);
  certless_error_free(error);
}

/* Waits until `calls` reaches `want`, giving up after a minute (a hang is a failure, not a wait). */
static int wait_calls(struct completion *c, int want) {
  struct timespec deadline;
  int ok = 1;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60;
  pthread_mutex_lock(&c->lock);
  while (c->calls < want && ok) {
    ok = pthread_cond_timedwait(&c->done, &c->lock, &deadline) == 0;
  }
  pthread_mutex_unlock(&c->lock);
  return c->calls >= want;
}

static void test_async_failures(void) {
  certless_credential *credential = valid_credential();
  const char *delegated[] = {"https://graph.microsoft.com/User.Read"};
  struct completion c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};
  certless_pending *pending = (certless_pending *)SENTINEL_ERROR;
  certless_error *error = NULL;

  expected_completion = &c;

  /* Refused up front: nothing started, the callback never runs. */
  CHECK_STATUS(certless_credential_get_token_async(credential, delegated, 1, NULL, NULL, &c,
                                                   &pending, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`callback` is NULL");
  certless_error_free(error);
  CHECK(pending == (certless_pending *)SENTINEL_ERROR);
  CHECK_STATUS(certless_credential_get_token_async(NULL, delegated, 1, NULL, on_token, &c, NULL, NULL),
               CERTLESS_INVALID_ARGUMENT);

  /* Started: a bad scope is reported through the callback, exactly once. */
  CHECK_STATUS(certless_credential_get_token_async(credential, delegated, 1, NULL, on_token, &c,
                                                   &pending, NULL),
               CERTLESS_OK);
  CHECK(pending != (certless_pending *)SENTINEL_ERROR && pending != NULL);
  CHECK(wait_calls(&c, 1));
  CHECK_STATUS(c.status, CERTLESS_INVALID_SCOPE);
  CHECK(c.one_of); /* the error, and no token */
  CHECK(certless_pending_cancel(pending) == false); /* already completed: nothing to cancel */
  certless_pending_free(pending);
  certless_credential_free(credential);
  CHECK(c.calls == 1);
  CHECK(foreign_userdata == 0); /* the callback got &c back */
  expected_completion = NULL;
}

static void ignore_log(void *userdata, certless_log_level level, const char *message) {
  (void)userdata;
  (void)level;
  (void)message;
}

static void test_log_callback_arguments(void) {
  certless_error *error = NULL;
  CHECK_STATUS(certless_log_set_callback(ignore_log, NULL, 9, &error), CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "max_level");
  certless_error_free(error);
  CHECK_STATUS(certless_log_set_callback(ignore_log, NULL, CERTLESS_LOG_TRACE, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_log_set_callback(NULL, NULL, CERTLESS_LOG_INFO, NULL), CERTLESS_OK);
}

/* A token as Entra issues it to a Sites.Selected app for SharePoint (the signature is never read). */
static const char *const SITES_SELECTED_TOKEN =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
    "eyJhdWQiOiJodHRwczovL2NvbnRvc28uc2hhcmVwb2ludC5jb20iLCJhcHBpZCI6IjBmM2U4YjVjLTlhMmQtNGU2Zi1i"
    "MWM3LTRkOGEyZTZmMGI5MyIsInRpZCI6IjcyZjk4OGJmLTg2ZjEtNDFhZi05MWFiLTJkN2NkMDExZGI0NyIsImV4cCI6"
    "NDEwMjQ0NDgwMCwicm9sZXMiOlsiU2l0ZXMuU2VsZWN0ZWQiXX0."
    "c2lnbmF0dXJlLXRoYXQtaXMtbG9uZw";

static void test_explain_refusal(void) {
  const char *url =
      "https://contoso.sharepoint.com/sites/crm/_api/web/lists/getbytitle('Orders')/items";
  const char *denied =
      "{\"error\":{\"code\":\"-2147024891, System.UnauthorizedAccessException\",\"message\":"
      "{\"lang\":\"en-US\",\"value\":\"Access denied. You do not have permission to perform this "
      "action or access this resource.\"}}}";
  certless_error *error = NULL;

  CHECK_STATUS(certless_explain_refusal(url, 403, NULL, denied, SITES_SELECTED_TOKEN, &error),
               CERTLESS_RESOURCE_REFUSED);
  CHECK(error != NULL);
  CHECK_STATUS(certless_error_code(error), CERTLESS_RESOURCE_REFUSED);
  CHECK_STR(certless_error_leg(error), "resource");
  CHECK(certless_error_http_status(error) == 403);
  CHECK_CONTAINS(certless_error_message(error),
                 "Sites.Selected but no grant on site contoso.sharepoint.com/sites/crm");
  CHECK_CONTAINS(certless_error_remedy(error),
                 "POST https://graph.microsoft.com/v1.0/sites/{site-id}/permissions");
  CHECK_CONTAINS(certless_error_remedy(error), "Sites.FullControl.All");
  CHECK(strstr(certless_error_text(error), "c2lnbmF0dXJl") == NULL); /* never the token */
  CHECK(strstr(certless_error_text(error), "eyJhdWQi") == NULL);
  certless_error_free(error);

  /* Everything but the URL may be missing. */
  error = NULL;
  CHECK_STATUS(certless_explain_refusal(url, 401, NULL, NULL, NULL, &error),
               CERTLESS_RESOURCE_REFUSED);
  CHECK(certless_error_http_status(error) == 401);
  certless_error_free(error);

  /* A claims challenge. */
  error = NULL;
  CHECK_STATUS(certless_explain_refusal(
                   url, 401,
                   "Bearer realm=\"\",client_id=\"00000003-0000-0ff1-ce00-000000000000\","
                   "error=\"insufficient_claims\",claims=\"eyJ9\"",
                   "", SITES_SELECTED_TOKEN, &error),
               CERTLESS_RESOURCE_REFUSED);
  CHECK_STR(certless_error_oauth_error(error), "insufficient_claims");
  certless_error_free(error);

  /* Bad arguments: named, and nothing else written. */
  error = NULL;
  CHECK_STATUS(certless_explain_refusal(NULL, 403, NULL, NULL, NULL, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`url` is NULL");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_explain_refusal(url, 403, NULL, "{\"x\":\"\xff\"}", NULL, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`body` is not valid UTF-8");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_explain_refusal(url, 403, "Bearer \xc3(", NULL, NULL, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "`www_authenticate` is not valid UTF-8");
  certless_error_free(error);
  CHECK_STATUS(certless_explain_refusal(url, 403, NULL, NULL, NULL, NULL),
               CERTLESS_INVALID_ARGUMENT);
}

int main(void) {
  /* Whatever the environment says, nothing here may reach a real managed-identity endpoint. */
  setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9", 1);
  test_version();
  test_free_null_is_a_noop();
  test_getters_accept_null();
  test_null_and_utf8_arguments();
  test_configuration_errors();
  test_credential_getters();
  test_get_token_arguments();
  test_options();
  test_credential_options();
  test_shared_cache_getters();
  test_async_failures();
  test_log_callback_arguments();
  test_explain_refusal();
  return finish("test_offline");
}
