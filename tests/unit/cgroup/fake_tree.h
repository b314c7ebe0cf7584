/* fake_tree.h: throwaway directory trees that look like cgroupfs, and the
 * mountinfo text that describes them, for tests that need no root. */
#pragma once
#include <stdbool.h>

/* A fresh directory under $TMPDIR (or /tmp); free() the result after ft_rm. */
char *ft_new(void);
/* mkdir -p root/rel */
void ft_mkdir(const char *root, const char *rel);
/* root/rel (parents made) with content */
void ft_write(const char *root, const char *rel, const char *content);
/* Writes root/mountinfo and returns its path (malloc'd). */
char *ft_mountinfo(const char *root, const char *text);
/* rm -rf root */
void ft_rm(const char *root);
/* s with every occurrence of root replaced by "<R>" (malloc'd). */
char *ft_unroot(const char *s, const char *root);
