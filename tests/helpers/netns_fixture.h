/* netns_fixture.h: a throwaway network namespace for real unit tests, made
 * by the product's own netprep helper (loopback up; optionally the default
 * route through loopback that cells with a proxy get). The namespace lives
 * as long as the returned descriptor: closing it is the whole cleanup. */
#pragma once
#include <stdbool.h>

/* A descriptor of a fresh netns, or -errno. */
int test_netns_new(bool default_route);
