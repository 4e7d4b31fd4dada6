/*
 * check.h -- a tiny harness for the table-driven unit tests of hlsfs.
 *
 *     check_begin("ext/%s", name);      start a named case
 *     CHECK(cond, "fmt", ...);          record a failure unless cond
 *     CHECK_INT(actual, expected);      integers, both values reported
 *     CHECK_STR(actual, expected);      strings (NULL-safe), first difference
 *     check_end();                      print "PASS name" or "FAIL name: why"
 *     check_skip("why");                instead of check_end: "SKIP name: why"
 *                                       (a case this run cannot make, e.g.
 *                                       one that needs root), not counted
 *     return check_summary("test_x");   "test_x: N passed, N failed", 0 or 1
 *
 * The reason on a FAIL line is the first failed check of the case, with
 * file:line; later failures in the same case are counted. One state per
 * test program (this header is included by exactly one file of each).
 *
 * "test_x PREFIX" runs the program as usual but reports only the cases
 * whose names start with PREFIX (the others' checks are not counted);
 * check_begin returns 0 for a case left out, so that a test can skip its
 * work: "if (!check_begin(...)) continue;". When no case matches, the
 * program fails. (glibc passes argc and argv to constructors, which is
 * how PREFIX is read without each test's main passing it on.)
 */
#ifndef HLSFS_TESTS_CHECK_H
#define HLSFS_TESTS_CHECK_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct check_state {
    char name[256];   /* the current case                         */
    int  in_case;
    int  case_failures;
    char reason[1024];
    int  passed, failed;
    const char *only; /* report only cases starting with this (argv[1]) */
    int  selected;    /* the current case is reported               */
};

static struct check_state check_st;

__attribute__((constructor, unused))
static void check_args_(int argc, char **argv)
{
    if (argc > 1 && argv && argv[1] && argv[1][0])
        check_st.only = argv[1];
}

__attribute__((format(printf, 1, 2), unused))
static int check_begin(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(check_st.name, sizeof(check_st.name), fmt, ap);
    va_end(ap);
    check_st.in_case = 1;
    check_st.case_failures = 0;
    check_st.reason[0] = '\0';
    check_st.selected = !check_st.only ||
        !strncmp(check_st.name, check_st.only, strlen(check_st.only)) ||
        !strcmp(check_st.name, "(outside any case)");
    return check_st.selected;
}

__attribute__((unused))
static void check_end(void)
{
    if (!check_st.selected) {
        check_st.in_case = 0;
        return;
    }
    if (check_st.case_failures == 0) {
        printf("PASS %s\n", check_st.name);
        check_st.passed++;
    } else if (check_st.case_failures == 1) {
        printf("FAIL %s: %s\n", check_st.name, check_st.reason);
        check_st.failed++;
    } else {
        printf("FAIL %s: %s (+%d more)\n", check_st.name, check_st.reason,
               check_st.case_failures - 1);
        check_st.failed++;
    }
    check_st.in_case = 0;
}

__attribute__((unused))
static void check_skip(const char *why)
{
    if (check_st.selected)
        printf("SKIP %s: %s\n", check_st.name, why);
    check_st.in_case = 0;
}

__attribute__((format(printf, 3, 4), unused))
static void check_fail_(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!check_st.in_case)
        check_begin("(outside any case)");
    if (!check_st.selected)
        return;
    if (check_st.case_failures++ > 0)
        return;
    n = snprintf(check_st.reason, sizeof(check_st.reason), "%s:%d: ",
                 file, line);
    if (n < 0 || (size_t)n >= sizeof(check_st.reason))
        return;
    va_start(ap, fmt);
    vsnprintf(check_st.reason + n, sizeof(check_st.reason) - (size_t)n,
              fmt, ap);
    va_end(ap);
}

/* Up to 'max' bytes of s from 'at', with \n, \t, '"' and other control
 * bytes escaped so that a FAIL line stays one line. */
__attribute__((unused))
static void check_escape_(char *out, size_t size, const char *s, size_t at,
                          size_t max)
{
    size_t o = 0, i, len = strlen(s);

    for (i = at; i < len && i < at + max && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20 || c == '\\') {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

__attribute__((unused))
static void check_str_(const char *file, int line, const char *expr,
                       const char *got, const char *want)
{
    char g[160], w[160];
    size_t i = 0, from;

    if (!got || !want) {
        if (got != want)
            check_fail_(file, line, "%s: got %s, want %s", expr,
                        got ? "a string" : "NULL",
                        want ? "a string" : "NULL");
        return;
    }
    if (strcmp(got, want) == 0)
        return;
    while (got[i] && got[i] == want[i])
        i++;
    from = i > 20 ? i - 20 : 0;
    check_escape_(g, sizeof(g), got, from, 40);
    check_escape_(w, sizeof(w), want, from, 40);
    check_fail_(file, line, "%s: differs at byte %zu: got \"%s\", want \"%s\"",
                expr, i, g, w);
}

__attribute__((unused))
static int check_summary(const char *program)
{
    if (check_st.only && check_st.passed + check_st.failed == 0) {
        printf("FAIL %s: no case starts with \"%s\"\n", program,
               check_st.only);
        check_st.failed++;
    }
    printf("%s: %d passed, %d failed\n", program, check_st.passed,
           check_st.failed);
    return check_st.failed ? 1 : 0;
}

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond))                                                       \
            check_fail_(__FILE__, __LINE__, __VA_ARGS__);                  \
    } while (0)

#define CHECK_INT(actual, expected)                                        \
    do {                                                                   \
        intmax_t check_a_ = (intmax_t)(actual);                            \
        intmax_t check_e_ = (intmax_t)(expected);                          \
        if (check_a_ != check_e_)                                          \
            check_fail_(__FILE__, __LINE__, "%s: got %jd, want %jd",       \
                        #actual, check_a_, check_e_);                      \
    } while (0)

#define CHECK_STR(actual, expected)                                        \
    check_str_(__FILE__, __LINE__, #actual, (actual), (expected))

#endif
