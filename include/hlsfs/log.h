/*
 * log: one line per event, to stderr in the foreground or syslog when
 * daemonized; also routes libav's messages at warning level and above.
 */
#ifndef HLSFS_LOG_H
#define HLSFS_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set where lines go and which are shown. Call before any thread starts. */
void log_setup(int use_syslog, enum log_level max_level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
