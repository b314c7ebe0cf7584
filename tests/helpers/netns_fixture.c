#include "netns_fixture.h"

#include <errno.h>

#include "net/netprep.h"

int test_netns_new(bool default_route)
{
    struct netprep_request req = { .default_route = default_route };
    struct netprep np;
    struct cell_err err = { 0 };
    int r = netprep_start(&req, &np, &err);
    if (r == 0)
        r = netprep_finish(&np, NULL, &err);
    int fd = r < 0 ? r : np.netns_fd;
    np.netns_fd = -1;   /* now the caller's */
    netprep_clear(&np);
    return fd;
}
