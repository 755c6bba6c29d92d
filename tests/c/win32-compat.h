/*
 * Builds the POSIX-flavoured C tests for Windows with mingw-w64: force-included (gcc -include)
 * ahead of every other header by scripts/package/package-native.sh, which also puts empty
 * arpa/inet.h, netinet/in.h and sys/socket.h on the include path (winsock declares what they
 * would). Sockets become winsock calls, setenv/unsetenv the CRT's _putenv_s (which also sets
 * the process environment the DLL reads).
 */
#ifndef CERTLESS_WIN32_COMPAT_H
#define CERTLESS_WIN32_COMPAT_H

#include <winsock2.h>
#include <ws2tcpip.h>
#include <io.h>
#include <stdlib.h>
#include <unistd.h>

/* Winsock needs starting once per process before the first socket. */
__attribute__((constructor)) static void certless_compat_wsa_startup(void) {
  WSADATA data;
  WSAStartup(MAKEWORD(2, 2), &data);
}

/* The tests only ever read, write and close sockets through these. */
#define read(fd, buf, len) recv((SOCKET)(fd), (char *)(buf), (int)(len), 0)
#define write(fd, buf, len) send((SOCKET)(fd), (const char *)(buf), (int)(len), 0)
#define close(fd) closesocket((SOCKET)(fd))

static inline int certless_compat_setenv(const char *name, const char *value, int overwrite) {
  if (!overwrite && getenv(name) != NULL) return 0;
  return _putenv_s(name, value) == 0 ? 0 : -1;
}
#define setenv(name, value, overwrite) certless_compat_setenv(name, value, overwrite)
/* An empty value removes the variable on Windows. */
#define unsetenv(name) (_putenv_s(name, "") == 0 ? 0 : -1)

#endif
