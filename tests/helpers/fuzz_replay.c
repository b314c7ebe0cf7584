/* fuzz_replay.c: runs a libFuzzer target over every file of a corpus
 * directory once, so that the corpus doubles as a regression test in
 * `make check` (under ASan+UBSan a crash fails the test). Prints TAP: one
 * test per corpus file. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    struct dirent **names;
    int n = scandir(argv[1], &names, NULL, by_name);
    if (n < 0) {
        printf("1..0 # SKIP no corpus at %s\n", argv[1]);
        return 0;
    }
    int files = 0;
    for (int i = 0; i < n; i++)
        files += names[i]->d_name[0] != '.';
    printf("1..%d\n", files);
    int num = 0;
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]->d_name);
            char *data = NULL;
            size_t len = 0;
            int r = read_file_path(path, 16u << 20, &data, &len);
            if (r < 0) {
                printf("not ok %d - %s # cannot read: %s\n", ++num, names[i]->d_name, strerror(-r));
            } else {
                LLVMFuzzerTestOneInput((const uint8_t *)data, len);
                printf("ok %d - %s\n", ++num, names[i]->d_name);
            }
            free(data);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}
