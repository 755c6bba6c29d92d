/*
 * A tiny test harness for the certless C tests: CHECK macros that count, and a minimal HTTP
 * client for the emulator's admin API (/_emulator/...) on 127.0.0.1. Header-only on purpose:
 * each test program is one translation unit plus this file.
 */
#ifndef CERTLESS_TEST_HARNESS_H
#define CERTLESS_TEST_HARNESS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "certless.h"

static int tests_passed = 0;
static int tests_failed = 0;

#define CHECK(cond)                                                                      \
  do {                                                                                   \
    if (cond) {                                                                          \
      tests_passed++;                                                                    \
    } else {                                                                             \
      tests_failed++;                                                                    \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                    \
    }                                                                                    \
  } while (0)

#define CHECK_STATUS(got, want)                                                          \
  do {                                                                                   \
    certless_status got_ = (got);                                                        \
    if (got_ == (certless_status)(want)) {                                               \
      tests_passed++;                                                                    \
    } else {                                                                             \
      tests_failed++;                                                                    \
      fprintf(stderr, "FAIL %s:%d: %s returned %u, want %s (%u)\n", __FILE__, __LINE__, \
              #got, (unsigned)got_, #want, (unsigned)(want));                            \
    }                                                                                    \
  } while (0)

#define CHECK_STR(got, want)                                                             \
  do {                                                                                   \
    const char *got_ = (got);                                                            \
    const char *want_ = (want);                                                          \
    if (got_ != NULL && strcmp(got_, want_) == 0) {                                      \
      tests_passed++;                                                                    \
    } else {                                                                             \
      tests_failed++;                                                                    \
      fprintf(stderr, "FAIL %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__,    \
              #got, got_ ? got_ : "(null)", want_);                                      \
    }                                                                                    \
  } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                 \
  do {                                                                                   \
    const char *h_ = (haystack);                                                         \
    const char *n_ = (needle);                                                           \
    if (h_ != NULL && n_ != NULL && strstr(h_, n_) != NULL) {                            \
      tests_passed++;                                                                    \
    } else {                                                                             \
      tests_failed++;                                                                    \
      fprintf(stderr, "FAIL %s:%d: %s is \"%s\", which lacks \"%s\"\n", __FILE__,       \
              __LINE__, #haystack, h_ ? h_ : "(null)", n_ ? n_ : "(null)");              \
    }                                                                                    \
  } while (0)

/* A credential from the environment the test scripts export (the emulator's); the test program
 * ends when there is none, as every later check would fail for the same reason. */
static inline certless_credential *from_env(void) {
  certless_credential *credential = NULL;
  certless_error *error = NULL;
  certless_status status = certless_credential_from_env(&credential, &error);
  CHECK_STATUS(status, CERTLESS_OK);
  if (status != CERTLESS_OK) {
    fprintf(stderr, "  %s\n", certless_error_text(error));
    certless_error_free(error);
    exit(1);
  }
  return credential;
}

/* Prints the closing line the CI reads and returns the exit code. The line before says which
 * kind of process ran the checks (scripts/package/package-native.sh looks for "32-bit process"). */
static inline int finish(const char *name) {
  printf("%s: ran in a %d-bit process\n", name, (int)(sizeof(void *) * 8));
  printf("%s: %d passed, %d failed\n", name, tests_passed, tests_failed);
  return tests_failed == 0 ? 0 : 1;
}

static inline const char *require_env(const char *name) {
  const char *value = getenv(name);
  if (value == NULL || value[0] == '\0') {
    fprintf(stderr, "%s is not set: run this test through scripts/test/test-c-dotnet.sh\n", name);
    exit(2);
  }
  return value;
}

/* Writes all of data to the socket fd (a large body may take several writes). */
static inline int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/*
 * One HTTP/1.1 request to a test server on loopback (url: http://127.0.0.1:PORT). Returns the
 * HTTP status (-1 on a transport error) and copies up to body_cap-1 bytes of the response body
 * into body (NUL-terminated) when body is not NULL.
 */
static inline int loopback_http(const char *url, const char *method, const char *path, const char *json,
                                char *body, size_t body_cap) {
  const char *port_text = strrchr(url, ':');
  struct sockaddr_in addr;
  char request[512];
  static char response[262144]; /* a registry is tens of kilobytes; one request at a time */
  size_t used = 0;
  ssize_t n;
  int fd;
  int status = -1;
  const char *payload = json ? json : "";
  char *body_start;

  if (port_text == NULL) return -1;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(port_text + 1));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  /* The head, then the body as it is: a body (a whole registry) may be larger than the head. */
  snprintf(request, sizeof request,
           "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           "Content-Type: application/json\r\nContent-Length: %lu\r\n\r\n",
           method, path, (unsigned long)strlen(payload));
  if (write(fd, request, strlen(request)) < 0 || write_all(fd, payload, strlen(payload)) != 0) {
    close(fd);
    return -1;
  }
  while (used < sizeof response - 1 &&
         (n = read(fd, response + used, sizeof response - 1 - used)) > 0) {
    used += (size_t)n;
  }
  close(fd);
  response[used] = '\0';
  if (sscanf(response, "HTTP/1.1 %d", &status) != 1) return -1;
  body_start = strstr(response, "\r\n\r\n");
  if (body != NULL && body_cap > 0) {
    snprintf(body, body_cap, "%s", body_start ? body_start + 4 : "");
  }
  return status;
}

/* One request to the emulator (CERTLESS_TEST_EMULATOR_URL), as loopback_http. */
static inline int emulator_http(const char *method, const char *path, const char *json, char *body,
                                size_t body_cap) {
  return loopback_http(require_env("CERTLESS_TEST_EMULATOR_URL"), method, path, json, body, body_cap);
}

/* One request to the OTLP receiver (tests/otlp/receiver.py, CERTLESS_TEST_OTLP_URL), as loopback_http. */
static inline int otlp_http(const char *method, const char *path, char *body, size_t body_cap) {
  return loopback_http(require_env("CERTLESS_TEST_OTLP_URL"), method, path, NULL, body, body_cap);
}

/* A counter from GET /_emulator/counters ({"imds":1,"entra_token":1,...}); -1 if absent. */
static inline long emulator_counter(const char *name) {
  char body[4096];
  char key[64];
  const char *at;
  if (emulator_http("GET", "/_emulator/counters", NULL, body, sizeof body) != 200) return -1;
  snprintf(key, sizeof key, "\"%s\":", name);
  at = strstr(body, key);
  return at ? strtol(at + strlen(key), NULL, 10) : -1;
}

static inline void emulator_reset(void) {
  emulator_http("DELETE", "/_emulator/faults", NULL, NULL, 0);
  emulator_http("POST", "/_emulator/counters/reset", "", NULL, 0);
}

#endif
