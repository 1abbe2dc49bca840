#ifndef DEPLOYCTL_CLIBSSH2_SHIM_H
#define DEPLOYCTL_CLIBSSH2_SHIM_H

#include <libssh2.h>
#include <libssh2_publickey.h>
#include <libssh2_sftp.h>

/* Typed wrappers for libssh2's macro-only calls, which Swift cannot import. */
static inline LIBSSH2_SESSION *dc_libssh2_session_init(void) {
  return libssh2_session_init_ex(NULL, NULL, NULL, NULL);
}

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

static inline int dc_libssh2_channel_eof_send(LIBSSH2_CHANNEL *channel) {
  return libssh2_channel_send_eof(channel);
}

static inline LIBSSH2_CHANNEL *dc_libssh2_channel_direct_tcpip(LIBSSH2_SESSION *session,
                                                              const char *host, int port) {
  return libssh2_channel_direct_tcpip_ex(session, host, port, "127.0.0.1", 22);
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

#endif
