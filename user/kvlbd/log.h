/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* kvlbd's log: one line per event on stderr, with time and level. */
#ifndef KVLBD_LOG_H
#define KVLBD_LOG_H

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_max_level;

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send libbpf's messages through log_msg (warnings, or all with debug). */
void log_hook_libbpf(void);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
