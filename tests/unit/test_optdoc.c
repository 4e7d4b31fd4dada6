/*
 * test_optdoc: the README's options table and the man page document
 * exactly the -o options of opts.c's table, with the same defaults.
 *
 * README.md: the rows "| `-o NAME=...` | DEFAULT | ... |" (backquotes
 * dropped from DEFAULT). man/hlsfs.1: the entries '.BI "\-o NAME=" ...'
 * up to the next .TP, .PP, .SS or .SH, as plain text; their default is
 * what follows "Default:" up to the end of that sentence. A literal
 * default must be the table's text; a computed one its def_doc. The
 * --help text (opts_write_help) names each option and its default.
 * HLSFS_TOP is the source tree (set by the Makefile).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hlsfs/opts.h"

#ifndef HLSFS_TOP
#define HLSFS_TOP "."
#endif

#define MAX_DOC 64

struct doc_entry {
    char name[64];
    char def[512];
    int  has_def;
    int  seen;     /* matched to a table row */
};

struct doc {
    struct doc_entry e[MAX_DOC];
    int              n;
    int              dup;   /* a name documented twice */
    char             dup_name[64];
};

static struct doc_entry *doc_add(struct doc *d, const char *name, size_t len)
{
    if (len >= sizeof(d->e[0].name) || d->n == MAX_DOC)
        return NULL;
    for (int i = 0; i < d->n; i++)
        if (strlen(d->e[i].name) == len && !strncmp(d->e[i].name, name, len)) {
            d->dup = 1;
            snprintf(d->dup_name, sizeof(d->dup_name), "%.*s", (int)len, name);
        }
    struct doc_entry *e = &d->e[d->n++];
    memset(e, 0, sizeof(*e));
    memcpy(e->name, name, len);
    return e;
}

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
}

/* README.md's options table. Returns 0, or -1 when it cannot be read. */
static int read_readme(const char *path, struct doc *d)
{
    FILE *f = fopen(path, "r");
    char line[4096];

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "| `-o ", 6))
            continue;
        const char *name = line + 6, *eq = strchr(name, '=');
        const char *tick = strchr(name, '`');
        if (!eq || !tick || eq > tick)
            continue;                   /* a FUSE flag: "-o allow_other" */
        const char *cell = strchr(tick, '|');
        if (!cell)
            continue;
        cell++;
        const char *cell_end = strchr(cell, '|');
        if (!cell_end)
            continue;
        struct doc_entry *e = doc_add(d, name, (size_t)(eq - name));
        if (!e)
            continue;
        size_t o = 0;
        for (const char *p = cell; p < cell_end && o + 1 < sizeof(e->def); p++)
            if (*p != '`')
                e->def[o++] = *p;
        e->def[o] = '\0';
        trim(e->def);
        e->has_def = e->def[0] != '\0';
    }
    fclose(f);
    return 0;
}

/* One roff line as plain text appended to out: the font macros' words
 * (.B, .I joined by spaces; .BR, .IR, ... alternating, so joined without),
 * "\-" as '-', "\:" and "\&" dropped; other requests give nothing. */
static void roff_text(const char *line, char *out, size_t size)
{
    char buf[1024];
    size_t o = 0;
    const char *p = line;
    int join_space = 1;

    if (*p == '.') {
        char mac[8];
        size_t m = 0;
        p++;
        while (*p && !isspace((unsigned char)*p) && m + 1 < sizeof(mac))
            mac[m++] = *p++;
        mac[m] = '\0';
        if (!strcmp(mac, "B") || !strcmp(mac, "I") || !strcmp(mac, "SM"))
            join_space = 1;
        else if (m == 2 && strchr("BIR", mac[0]) && strchr("BIR", mac[1]))
            join_space = 0;
        else
            return;
        /* the arguments, quoted ones as one */
        int first = 1;
        while (*p) {
            while (isspace((unsigned char)*p))
                p++;
            if (!*p)
                break;
            if (!first && join_space && o + 1 < sizeof(buf))
                buf[o++] = ' ';
            first = 0;
            if (*p == '"') {
                p++;
                while (*p && *p != '"' && o + 1 < sizeof(buf))
                    buf[o++] = *p++;
                if (*p == '"')
                    p++;
            } else {
                while (*p && !isspace((unsigned char)*p) && o + 1 < sizeof(buf))
                    buf[o++] = *p++;
            }
        }
    } else {
        while (*p && *p != '\n' && o + 1 < sizeof(buf))
            buf[o++] = *p++;
    }
    buf[o] = '\0';

    size_t n = strlen(out);
    if (n && n + 1 < size)
        out[n++] = ' ';
    for (const char *q = buf; *q && n + 1 < size; q++) {
        if (q[0] == '\\' && q[1] == '-') {
            out[n++] = '-';
            q++;
        } else if (q[0] == '\\' && (q[1] == ':' || q[1] == '&')) {
            q++;
        } else {
            out[n++] = *q;
        }
    }
    out[n] = '\0';
}

/* The sentence after "Default:" in text, into def. */
static int default_sentence(const char *text, char *def, size_t size)
{
    const char *p = strstr(text, "Default:");
    if (!p)
        return 0;
    p += strlen("Default:");
    while (*p == ' ')
        p++;
    const char *end = p;
    while (*end && !(end[0] == '.' && (end[1] == ' ' || end[1] == '\0')))
        end++;
    snprintf(def, size, "%.*s", (int)(end - p), p);
    trim(def);
    return 1;
}

static void man_finish(struct doc_entry *e, const char *text)
{
    if (e)
        e->has_def = default_sentence(text, e->def, sizeof(e->def));
}

/* man/hlsfs.1's hlsfs options. */
static int read_man(const char *path, struct doc *d)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    static char text[16384];
    struct doc_entry *e = NULL;

    if (!f)
        return -1;
    text[0] = '\0';
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, ".BI \"\\-o ", 9)) {
            man_finish(e, text);
            text[0] = '\0';
            const char *name = line + 9, *eq = strchr(name, '=');
            e = eq ? doc_add(d, name, (size_t)(eq - name)) : NULL;
            continue;
        }
        if (!strncmp(line, ".TP", 3) || !strncmp(line, ".PP", 3) ||
            !strncmp(line, ".SH", 3) || !strncmp(line, ".SS", 3)) {
            man_finish(e, text);
            e = NULL;
            text[0] = '\0';
            continue;
        }
        if (e)
            roff_text(line, text, sizeof(text));
    }
    man_finish(e, text);
    fclose(f);
    return 0;
}

/* Each row of the table documented once in doc, with its default; no
 * option documented that the table does not have. */
static void compare(const char *what, struct doc *d)
{
    size_t n;
    const struct opt_desc *t = opts_table(&n);

    check_begin("%s/read", what);
    CHECK(d->n > 0, "no options found");
    CHECK(!d->dup, "%s documented twice", d->dup_name);
    check_end();
    for (size_t i = 0; i < n; i++) {
        const char *want = t[i].def ? t[i].def : t[i].def_doc;
        struct doc_entry *e = NULL;
        for (int j = 0; j < d->n; j++)
            if (!strcmp(d->e[j].name, t[i].name))
                e = &d->e[j];
        check_begin("%s/%s", what, t[i].name);
        CHECK(e != NULL, "%s is in the option table but not documented",
              t[i].name);
        if (e) {
            e->seen = 1;
            CHECK(e->has_def, "no default given");
            if (e->has_def)
                CHECK_STR(e->def, want);
        }
        check_end();
    }
    for (int j = 0; j < d->n; j++) {
        if (d->e[j].seen)
            continue;
        check_begin("%s/%s", what, d->e[j].name);
        CHECK(0, "%s is documented but not in the option table",
              d->e[j].name);
        check_end();
    }
}

static void test_help(void)
{
    size_t n, len = 0;
    const struct opt_desc *t = opts_table(&n);
    char *text = NULL;
    FILE *f = open_memstream(&text, &len);

    check_begin("help/every-option");
    CHECK(f != NULL, "open_memstream");
    if (f) {
        opts_write_help(f, "hlsfs");
        fclose(f);
        /* the wrapped lines joined: "\n" and the indent as one space */
        char *flat = strdup(text), *o = flat;
        for (const char *p = text; flat && *p; p++) {
            if (*p == '\n' && p[1] == ' ') {
                *o++ = ' ';
                while (p[1] == ' ')
                    p++;
            } else {
                *o++ = *p;
            }
        }
        if (o)
            *o = '\0';
        for (size_t i = 0; i < n; i++) {
            char head[128];
            snprintf(head, sizeof(head), "    -o %s=%s", t[i].name, t[i].arg);
            CHECK(strstr(text, head), "no line \"%s\"", head);
            char def[600];
            snprintf(def, sizeof(def), t[i].def ? "default %s)" :
                     "default: %s)", t[i].def ? t[i].def : t[i].def_doc);
            CHECK(flat && strstr(flat, def), "%s: no \"%s\"", t[i].name, def);
        }
        free(flat);
    }
    free(text);
    check_end();
}

int main(void)
{
    static struct doc readme, man;

    check_begin("files");
    CHECK(read_readme(HLSFS_TOP "/README.md", &readme) == 0,
          "cannot read %s", HLSFS_TOP "/README.md");
    CHECK(read_man(HLSFS_TOP "/man/hlsfs.1", &man) == 0,
          "cannot read %s", HLSFS_TOP "/man/hlsfs.1");
    check_end();
    compare("readme", &readme);
    compare("man", &man);
    test_help();
    return check_summary("test_optdoc");
}
