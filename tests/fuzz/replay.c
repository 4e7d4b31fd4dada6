/*
 * replay: runs the fuzz target (fuzz_title.c) on each file named on the
 * command line, as libFuzzer would, without libFuzzer: make check runs
 * every input of tests/fuzz/regress through it under ASan and UBSan. A
 * sanitizer report or a failed check of the target ends the process with
 * a non-zero status.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t size = 0, cap = 0, n;

    if (!f) {
        perror(path);
        return -1;
    }
    do {
        if (size == cap) {
            uint8_t *more = realloc(data, cap = cap ? cap * 2 : 65536);
            if (!more) {
                fclose(f);
                free(data);
                return -1;
            }
            data = more;
        }
        size += n = fread(data + size, 1, cap - size, f);
    } while (n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        perror(path);
        free(data);
        return -1;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int status = 0;
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++)
        if (run_file(argv[i]) < 0)
            status = 1;
    return status;
}
