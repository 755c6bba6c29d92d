/*
 * What a host that unloads code while the process lives on needs from the C ABI (an ASP.NET
 * AppDomain recycled by IIS, a plugin closed): requests abandoned before their code goes are never
 * called back, and each piece of code has a log subscription of its own that it can end without
 * touching the others'. Against the emulator on loopback (scripts/test/test-c-dotnet.sh starts it).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "harness.h"

static const char *const SHAREPOINT[] = {"https://contoso.sharepoint.com/.default"};

static void sleep_ms(long ms) {
  struct timespec pause;
  pause.tv_sec = ms / 1000;
  pause.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&pause, NULL);
}

/* ---- abandoning requests ---- */

struct calls {
  pthread_mutex_t lock;
  int count;
};

static void count_call(void *userdata, certless_token *token, certless_error *error) {
  struct calls *c = userdata;
  pthread_mutex_lock(&c->lock);
  c->count++;
  pthread_mutex_unlock(&c->lock);
  certless_token_free(token);
  certless_error_free(error);
}

static int calls_of(struct calls *c) {
  int n;
  pthread_mutex_lock(&c->lock);
  n = c->count;
  pthread_mutex_unlock(&c->lock);
  return n;
}

#define ABANDONED 8

static void test_abandoned_requests_are_never_called_back(void) {
  certless_credential *credential = from_env();
  certless_pending *pending[ABANDONED];
  struct calls abandoned = {PTHREAD_MUTEX_INITIALIZER, 0};
  int i;

  emulator_reset();
  /* The managed-identity endpoint answers after 1.5 s: every request is still running when it is
   * abandoned, and its result arrives afterwards. */
  CHECK(emulator_http("POST", "/_emulator/faults", "{\"endpoint\":\"imds\",\"delay_ms\":1500}", NULL,
                      0) == 200);
  for (i = 0; i < ABANDONED; i++) {
    pending[i] = NULL;
    CHECK_STATUS(certless_credential_get_token_async(credential, SHAREPOINT, 1, NULL, count_call,
                                                     &abandoned, &pending[i], NULL),
                 CERTLESS_OK);
  }
  for (i = 0; i < ABANDONED; i++) {
    CHECK(certless_pending_abandon(pending[i]) == true);
    CHECK(certless_pending_abandon(pending[i]) == true); /* abandoned stays abandoned */
    CHECK(certless_pending_cancel(pending[i]) == false); /* nothing left to cancel */
  }
  /* Past the endpoint's answer: nothing may have called back. */
  sleep_ms(2500);
  CHECK(calls_of(&abandoned) == 0);
  for (i = 0; i < ABANDONED; i++) certless_pending_free(pending[i]);
  CHECK(certless_pending_abandon(NULL) == false);
  emulator_http("DELETE", "/_emulator/faults", NULL, NULL, 0);
  certless_credential_free(credential);
}

static void test_abandon_after_the_callback(void) {
  certless_credential *credential = from_env();
  struct calls done = {PTHREAD_MUTEX_INITIALIZER, 0};
  certless_pending *pending = NULL;
  int waited;

  emulator_reset();
  CHECK_STATUS(certless_credential_get_token_async(credential, SHAREPOINT, 1, NULL, count_call,
                                                   &done, &pending, NULL),
               CERTLESS_OK);
  for (waited = 0; calls_of(&done) < 1 && waited < 30000; waited += 10) sleep_ms(10);
  CHECK(calls_of(&done) == 1);
  /* The callback ran: abandoning is too late, and says so. */
  CHECK(certless_pending_abandon(pending) == false);
  certless_pending_free(pending);
  certless_credential_free(credential);
}

/* A callback that is still running when its request is abandoned from another thread: abandoning
 * waits until it has returned, so that the code it runs can be unloaded right after. */
struct slow_call {
  pthread_mutex_t lock;
  int entered;
  int returned;
};

static void slow_callback(void *userdata, certless_token *token, certless_error *error) {
  struct slow_call *c = userdata;
  pthread_mutex_lock(&c->lock);
  c->entered = 1;
  pthread_mutex_unlock(&c->lock);
  sleep_ms(500);
  pthread_mutex_lock(&c->lock);
  c->returned = 1;
  pthread_mutex_unlock(&c->lock);
  certless_token_free(token);
  certless_error_free(error);
}

static void test_abandon_waits_for_a_running_callback(void) {
  certless_credential *credential = from_env();
  struct slow_call c = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
  certless_pending *pending = NULL;
  int waited, entered = 0, returned;

  emulator_reset();
  CHECK_STATUS(certless_credential_get_token_async(credential, SHAREPOINT, 1, NULL, slow_callback,
                                                   &c, &pending, NULL),
               CERTLESS_OK);
  for (waited = 0; !entered && waited < 30000; waited += 5) {
    sleep_ms(5);
    pthread_mutex_lock(&c.lock);
    entered = c.entered;
    pthread_mutex_unlock(&c.lock);
  }
  CHECK(entered);
  CHECK(certless_pending_abandon(pending) == false);
  pthread_mutex_lock(&c.lock);
  returned = c.returned;
  pthread_mutex_unlock(&c.lock);
  CHECK(returned); /* it had returned before abandon did */
  certless_pending_free(pending);
  certless_credential_free(credential);
}

/* ---- log subscriptions ---- */

struct log_lines {
  pthread_mutex_t lock;
  int lines;
  int above_level;
  unsigned max_level;
};

static void count_line(void *userdata, certless_log_level level, const char *message) {
  struct log_lines *l = userdata;
  pthread_mutex_lock(&l->lock);
  l->lines++;
  if (level > l->max_level || level == CERTLESS_LOG_OFF || message == NULL) l->above_level++;
  pthread_mutex_unlock(&l->lock);
}

static int lines_of(struct log_lines *l) {
  int n;
  pthread_mutex_lock(&l->lock);
  n = l->lines;
  pthread_mutex_unlock(&l->lock);
  return n;
}

static void fresh_token(certless_credential *credential) {
  certless_token_options *options = certless_token_options_new();
  certless_token *token = NULL;
  certless_token_options_set_force_refresh(options, true, NULL);
  CHECK_STATUS(certless_credential_get_token(credential, SHAREPOINT, 1, options, &token, NULL), CERTLESS_OK);
  certless_token_free(token);
  certless_token_options_free(options);
}

static void test_log_subscriptions(void) {
  struct log_lines info = {PTHREAD_MUTEX_INITIALIZER, 0, 0, CERTLESS_LOG_INFO};
  struct log_lines trace = {PTHREAD_MUTEX_INITIALIZER, 0, 0, CERTLESS_LOG_TRACE};
  struct log_lines by_default = {PTHREAD_MUTEX_INITIALIZER, 0, 0, CERTLESS_LOG_DEBUG};
  certless_log_subscription *a = NULL, *b = NULL, *untouched = NULL;
  certless_credential *credential;
  certless_error *error = NULL;
  int a_lines, b_lines, default_lines;

  /* Bad arguments: nothing subscribed, *subscription_out untouched, an error that says why. */
  CHECK_STATUS(certless_log_subscribe(NULL, NULL, CERTLESS_LOG_INFO, &untouched, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "callback");
  certless_error_free(error);
  error = NULL;
  CHECK_STATUS(certless_log_subscribe(count_line, &info, CERTLESS_LOG_OFF, &untouched, &error),
               CERTLESS_INVALID_ARGUMENT);
  CHECK_CONTAINS(certless_error_message(error), "CERTLESS_LOG_OFF");
  certless_error_free(error);
  CHECK_STATUS(certless_log_subscribe(count_line, &info, 9, &untouched, NULL), CERTLESS_INVALID_ARGUMENT);
  CHECK_STATUS(certless_log_subscribe(count_line, &info, CERTLESS_LOG_INFO, NULL, NULL),
               CERTLESS_INVALID_ARGUMENT);
  CHECK(untouched == NULL);
  certless_log_unsubscribe(NULL); /* does nothing */

  /* Two subscribers and the process-wide callback, each at its own level. */
  CHECK_STATUS(certless_log_subscribe(count_line, &info, CERTLESS_LOG_INFO, &a, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_log_subscribe(count_line, &trace, CERTLESS_LOG_TRACE, &b, NULL), CERTLESS_OK);
  CHECK_STATUS(certless_log_set_callback(count_line, &by_default, CERTLESS_LOG_DEBUG, NULL), CERTLESS_OK);
  credential = from_env();
  fresh_token(credential);
  /* Ending one delivers what was queued for it first; the others go on. */
  certless_log_unsubscribe(a);
  a_lines = lines_of(&info);
  CHECK(a_lines >= 1);
  fresh_token(credential);
  CHECK(lines_of(&info) == a_lines); /* ended: nothing more */
  CHECK_STATUS(certless_log_set_callback(NULL, NULL, CERTLESS_LOG_OFF, NULL), CERTLESS_OK);
  default_lines = lines_of(&by_default);
  certless_log_unsubscribe(b);
  b_lines = lines_of(&trace);
  CHECK(b_lines > a_lines);         /* the trace subscriber saw more, and after `a` ended */
  CHECK(default_lines >= a_lines);  /* debug sees at least what info sees */
  CHECK(info.above_level == 0 && trace.above_level == 0 && by_default.above_level == 0);
  certless_credential_free(credential);
}

int main(void) {
  require_env("CERTLESS_TEST_EMULATOR_URL");
  test_abandoned_requests_are_never_called_back();
  test_abandon_after_the_callback();
  test_abandon_waits_for_a_running_callback();
  test_log_subscriptions();
  emulator_reset();
  return finish("test_unload");
}
