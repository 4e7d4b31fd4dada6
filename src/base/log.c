/*
 * log: line-oriented logging to stderr or syslog, and the av_log bridge.
 * The sink and level are set once at start-up, before threads exist, and
 * only read afterwards.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <libavutil/log.h>

#include "hlsfs/log.h"

static struct {
    int            use_syslog;
    enum log_level max_level;
} log_sink = { 0, LOG_LVL_INFO };

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int syslog_levels[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

static void log_vline(enum log_level level, const char *prefix,
                      const char *fmt, va_list ap)
{
    char line[2048];
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0)
        return;
    /* one event, one line: drop a trailing newline, flatten inner ones */
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (!len)
        return;
    if (log_sink.use_syslog)
        syslog(syslog_levels[level], "%s%s", prefix, line);
    else
        fprintf(stderr, "hlsfs: %s: %s%s\n", level_names[level], prefix, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_sink.max_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vline(level, "", fmt, ap);
    va_end(ap);
}

static void log_from_av(void *avcl, int av_level, const char *fmt, va_list ap)
{
    enum log_level level;
    if (av_level > AV_LOG_WARNING)
        return;
    level = av_level <= AV_LOG_ERROR ? LOG_LVL_WARN : LOG_LVL_DEBUG;
    if (level > log_sink.max_level)
        return;
    AVClass *cls = avcl ? *(AVClass **)avcl : NULL;
    char prefix[64] = "";
    if (cls)
        snprintf(prefix, sizeof(prefix), "[%s] ", cls->item_name(avcl));
    log_vline(level, prefix, fmt, ap);
}

void log_setup(int use_syslog, enum log_level max_level)
{
    log_sink.use_syslog = use_syslog;
    log_sink.max_level = max_level;
    if (use_syslog)
        openlog("hlsfs", LOG_PID, LOG_DAEMON);
    av_log_set_callback(log_from_av);
}
