/*
 * A connection reset in the middle of Entra's answer must not kill the host. This program keeps
 * SIGPIPE's default disposition, as a plain C host does, and gets tokens while the emulator
 * resets the connection halfway through the body of one token response. Over HTTPS with
 * HTTP/1.1 the client then writes its TLS close alert to the dead socket, which raised SIGPIPE
 * and killed the host (exit 141). Each call must instead get its token after one retry.
 *
 * Run by scripts/test/test-c-dotnet.sh against an emulator whose authority is https (under valgrind
 * it is http: the reset is then a plain retry, still checked).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "harness.h"

static const char *const GRAPH[] = {"https://graph.microsoft.com/.default"};

/* The default disposition, unblocked, whatever the parent process left us: a SIGPIPE raised by
 * certless on any thread of this process ends it. */
static void keep_default_sigpipe(void) {
  struct sigaction now;
  sigset_t pipe_only;
  signal(SIGPIPE, SIG_DFL);
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL);
  CHECK(sigaction(SIGPIPE, NULL, &now) == 0 && now.sa_handler == SIG_DFL);
}

/* The next token response is cut halfway through its body by a TCP reset. */
static void reset_next_exchange(void) {
  emulator_reset();
  CHECK(emulator_http("POST", "/_emulator/faults",
                      "{\"endpoint\":\"entra_token\",\"reset_mid_body\":true,\"remaining\":1}",
                      NULL, 0) == 200);
}

/* The reset request and its retry reached Entra, and the fault was used up. */
static void check_retried(const char *what) {
  char faults[256];
  long entra = emulator_counter("entra_token");
  if (entra != 2) fprintf(stderr, "  %s: %ld Entra requests, want 2 (the reset one and its retry)\n", what, entra);
  CHECK(entra == 2);
  CHECK(emulator_http("GET", "/_emulator/faults", NULL, faults, sizeof faults) == 200);
  CHECK_STR(faults, "[]");
}

static void test_blocking(void) {
  certless_credential *credential = from_env();
  certless_token *token = NULL;
  certless_error *error = NULL;
  reset_next_exchange();
  CHECK_STATUS(certless_credential_get_token(credential, GRAPH, 1, NULL, &token, &error), CERTLESS_OK);
  if (error != NULL) fprintf(stderr, "  %s\n", certless_error_text(error));
  CHECK(token != NULL && strncmp(certless_token_value(token), "eyJ", 3) == 0);
  check_retried("blocking");
  certless_token_free(token);
  certless_error_free(error);
  certless_credential_free(credential);
}

struct one_call {
  pthread_mutex_t lock;
  pthread_cond_t done;
  int calls;
  certless_status status;
};

static void on_token(void *userdata, certless_token *token, certless_error *error) {
  struct one_call *c = userdata;
  pthread_mutex_lock(&c->lock);
  c->calls++;
  c->status = token ? CERTLESS_OK : certless_error_code(error);
  if (error != NULL) fprintf(stderr, "  %s\n", certless_error_text(error));
  pthread_cond_broadcast(&c->done);
  pthread_mutex_unlock(&c->lock);
  certless_token_free(token);
  certless_error_free(error);
}

static void test_async(void) {
  static struct one_call call;
  certless_credential *credential = from_env();
  certless_error *error = NULL;
  struct timespec deadline;
  memset(&call, 0, sizeof call);
  pthread_mutex_init(&call.lock, NULL);
  pthread_cond_init(&call.done, NULL);
  reset_next_exchange();
  CHECK_STATUS(certless_credential_get_token_async(credential, GRAPH, 1, NULL, on_token, &call, NULL, &error),
               CERTLESS_OK);
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60;
  pthread_mutex_lock(&call.lock);
  while (call.calls < 1 && pthread_cond_timedwait(&call.done, &call.lock, &deadline) == 0) {
  }
  CHECK(call.calls == 1);
  CHECK_STATUS(call.status, CERTLESS_OK);
  pthread_mutex_unlock(&call.lock);
  check_retried("async");
  certless_error_free(error);
  certless_credential_free(credential);
}

/* The doctor tries each leg once, but a connection dropped mid-answer once more (as the token flow
 * would), so a single reset is not reported as the cause of a failure. */
static void test_diagnose(void) {
  certless_report *report = NULL;
  certless_error *error = NULL;
  reset_next_exchange();
  CHECK_STATUS(certless_diagnose(NULL, NULL, GRAPH[0], &report, &error), CERTLESS_OK);
  CHECK(certless_report_ok(report));
  CHECK_CONTAINS(certless_report_headline(report), "token obtained");
  CHECK_CONTAINS(certless_report_json(report), "reset by peer");
  check_retried("diagnose");
  certless_report_free(report);
  certless_error_free(error);
}

int main(void) {
  const char *authority = require_env("AZURE_AUTHORITY_HOST");
  keep_default_sigpipe();
  if (strncmp(authority, "https://", 8) != 0) {
    printf("test_sigpipe: Entra at %s is not https: the resets are checked over plain HTTP only\n", authority);
  }
  /* HTTP/1.1 over TLS: after a reset, its client writes a close alert (an HTTP/2 client does not). */
  CHECK(emulator_http("POST", "/_emulator/https-http2", "{\"enabled\":false}", NULL, 0) == 200);
  test_blocking();
  test_async();
  test_diagnose();
  CHECK(emulator_http("POST", "/_emulator/https-http2", "{\"enabled\":true}", NULL, 0) == 200);
  emulator_reset();
  return finish("test_sigpipe");
}
