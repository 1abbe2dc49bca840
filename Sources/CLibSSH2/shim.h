#ifndef DEPLOYCTL_CLIBSSH2_SHIM_H
#define DEPLOYCTL_CLIBSSH2_SHIM_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <libssh2.h>
#include <libssh2_publickey.h>
#include <libssh2_sftp.h>

/* Typed wrappers for libssh2's macro-only calls, which Swift cannot import. */
static inline LIBSSH2_CHANNEL *dc_libssh2_channel_open_session(LIBSSH2_SESSION *session) {
  return libssh2_channel_open_ex(session, "session", sizeof("session") - 1,
                                 LIBSSH2_CHANNEL_WINDOW_DEFAULT,
                                 LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int dc_libssh2_channel_exec(LIBSSH2_CHANNEL *channel, const char *command) {
  return libssh2_channel_process_startup(channel, "exec", sizeof("exec") - 1,
                                         command, (unsigned int)strlen(command));
}

static inline ssize_t dc_libssh2_channel_read(LIBSSH2_CHANNEL *channel, char *buf, size_t len) {
  return libssh2_channel_read_ex(channel, 0, buf, len);
}

static inline ssize_t dc_libssh2_channel_read_stderr(LIBSSH2_CHANNEL *channel, char *buf, size_t len) {
  return libssh2_channel_read_ex(channel, SSH_EXTENDED_DATA_STDERR, buf, len);
}

static inline ssize_t dc_libssh2_channel_write(LIBSSH2_CHANNEL *channel, const char *buf, size_t len) {
  return libssh2_channel_write_ex(channel, 0, buf, len);
}

static inline int dc_libssh2_userauth_publickey_fromfile(LIBSSH2_SESSION *session,
                                                         const char *user,
                                                         const char *publickey,
                                                         const char *privatekey,
                                                         const char *passphrase) {
  return libssh2_userauth_publickey_fromfile_ex(session, user, (unsigned int)strlen(user),
                                                publickey, privatekey, passphrase);
}

static inline int dc_libssh2_session_disconnect(LIBSSH2_SESSION *session, const char *why) {
  return libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, why, "");
}

/* Bytes a session read from its socket. Several channels share one socket, so a call for one
   channel may queue another channel's data; the Swift side wakes the other waiters when this
   counter moves. */
typedef struct {
  unsigned long long received;
} dc_session_counters;

/* libssh2's own receive function, plus counting. Like libssh2's, it returns -errno on failure. */
static inline ssize_t dc_libssh2_recv(libssh2_socket_t fd, void *buffer, size_t length, int flags,
                                      void **abstract) {
  ssize_t n = recv(fd, buffer, length, flags);
  if (n < 0) return -errno;
  if (n > 0 && abstract && *abstract) ((dc_session_counters *)*abstract)->received += (unsigned long long)n;
  return n;
}

static inline LIBSSH2_SESSION *dc_libssh2_session_init_counting(dc_session_counters *counters) {
  LIBSSH2_SESSION *session = libssh2_session_init_ex(NULL, NULL, NULL, counters);
  if (session) libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, (void *)dc_libssh2_recv);
  return session;
}

static inline const char *dc_libssh2_last_error_message(LIBSSH2_SESSION *session) {
  char *message = NULL;
  int length = 0;
  libssh2_session_last_error(session, &message, &length, 0);
  return message ? message : "";
}

static inline char *dc_libssh2_userauth_list(LIBSSH2_SESSION *session, const char *user) {
  return libssh2_userauth_list(session, user, (unsigned int)strlen(user));
}

static inline LIBSSH2_CHANNEL *dc_libssh2_channel_direct_tcpip_from(LIBSSH2_SESSION *session,
                                                                   const char *host, int port,
                                                                   const char *shost, int sport) {
  return libssh2_channel_direct_tcpip_ex(session, host, port, shost, sport);
}

static inline int dc_libssh2_channel_exit_signal(LIBSSH2_CHANNEL *channel, char **name) {
  size_t length = 0;
  return libssh2_channel_get_exit_signal(channel, name, &length, NULL, NULL, NULL, NULL);
}

#endif
