#include "fake_tree.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *ft_new(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL;
    if (asprintf(&dir, "%s/cellos-cgtest-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 ||
        !mkdtemp(dir))
        abort();
    return dir;
}

void ft_mkdir(const char *root, const char *rel)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", root, rel) < 0)
        abort();
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    mkdir(path, 0755);
    free(path);
}

void ft_write(const char *root, const char *rel, const char *content)
{
    char *path = NULL, *dir = strdup(rel);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        ft_mkdir(root, dir);
    }
    free(dir);
    if (asprintf(&path, "%s/%s", root, rel) < 0)
        abort();
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
    free(path);
}

char *ft_mountinfo(const char *root, const char *text)
{
    ft_write(root, "mountinfo", text);
    char *path = NULL;
    if (asprintf(&path, "%s/mountinfo", root) < 0)
        abort();
    return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void ft_rm(const char *root)
{
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *ft_unroot(const char *s, const char *root)
{
    size_t rl = strlen(root), cap = strlen(s) * 2 + 16, n = 0;
    char *out = malloc(cap);
    for (const char *p = s; *p;) {
        if (strncmp(p, root, rl) == 0) {
            memcpy(out + n, "<R>", 3);
            n += 3;
            p += rl;
        } else {
            out[n++] = *p++;
        }
        if (n + 4 >= cap)
            out = realloc(out, cap *= 2);
    }
    out[n] = '\0';
    return out;
}
