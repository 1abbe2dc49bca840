#ifndef DEPLOYCTL_CCURL_SHIM_H
#define DEPLOYCTL_CCURL_SHIM_H

#include <curl/curl.h>
/* The transfer loop waits on libcurl's sockets with epoll, woken by an eventfd (Linux). */
#include <sys/epoll.h>
#include <sys/eventfd.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic; Swift needs typed entry points. */
static inline CURLcode dc_curl_setopt_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dc_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode dc_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
  return curl_easy_setopt(handle, option, value);
}

typedef size_t (*dc_curl_write_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode dc_curl_setopt_write_function(CURL *handle, dc_curl_write_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

static inline CURLcode dc_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
  return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode dc_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
  return curl_easy_getinfo(handle, info, value);
}

/* CURL_GLOBAL_DEFAULT is a macro expression. */
static inline CURLcode dc_curl_global_init_default(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* CURLMsg.data is an anonymous union; read its CURLcode member here. */
static inline CURLcode dc_curl_msg_result(const CURLMsg *message) {
  return message->data.result;
}

static inline int dc_curl_msg_is_done(const CURLMsg *message) {
  return message->msg == CURLMSG_DONE;
}

/* curl_multi_setopt is variadic too: the callbacks and data of the socket interface
   (curl_multi_socket_action), which CurlTransferLoop drives with epoll. */
static inline CURLMcode dc_curl_multi_setopt_pointer(CURLM *multi, CURLMoption option, void *value) {
  return curl_multi_setopt(multi, option, value);
}

static inline CURLMcode dc_curl_multi_setopt_socket_function(CURLM *multi, curl_socket_callback callback) {
  return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
}

static inline CURLMcode dc_curl_multi_setopt_timer_function(CURLM *multi, curl_multi_timer_callback callback) {
  return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
}

/* CURL_SOCKET_TIMEOUT is a macro of a macro. */
static inline curl_socket_t dc_curl_socket_timeout(void) {
  return CURL_SOCKET_TIMEOUT;
}

#endif
