/* fixture.h: what the l7proxy tests share (fixture.c): the test's own
 * netns with echo servers, the cell prepared by netprep, the report
 * recorder, and clients run inside the cell against a proxy on a loop. */
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include "dns/answers.h"
#include "l7/proxy.h"
#include "loop/loop.h"
#include "policy/hostmatch.h"
#include "tap.h"

#define PROXY_PORT 15001
#define SERVER "198.18.0.10"        /* resolved for api.example.com */
#define SERVER_NOT_RESOLVED "198.18.0.11"
#define DB "198.18.0.20"            /* egress rule DB:5432 */
#define DB_OTHER "198.18.0.21"
#define DEAD "198.18.0.30"          /* resolved for dead.example.com; nothing listens */
#define SERVER6 "2001:db8::7"

extern const char *skip_reason;
extern int cell_netns;
extern int listen_fds[2];
extern size_t n_listen;
extern struct hostmatch *allow;
extern struct dns_resolved *resolved;
extern struct l7_egress egress[1];

/* Once per process: false (and skip_reason) when the host cannot. */
bool setup(void);
#define SETUP()                                                                \
    do {                                                                       \
        if (!setup())                                                          \
            skip_test(skip_reason);                                            \
    } while (0)

struct report {
    char host[256], protocol[16], decision[8], reason[48], destination[64], detail[96];
    char verdict[8], rule[64];
    bool flow;
};
extern struct report reports[64];
extern size_t n_reports;

struct client {
    void (*fn)(struct client *);
    int done_fd;
    /* results */
    char got[65536];
    ssize_t got_len;
    int err;              /* errno of the last failed call, 0 */
    bool eof;
    uint64_t ms;
    uint64_t bulk_bytes;
    bool bulk_ok;
};

/* Run c->fn in a thread inside the cell against a proxy made from cfg
 * (listeners, allowlist, table, egress and report callbacks filled in);
 * the loop serves linger_ms more after the client is done. */
struct l7_proxy_counters run_client(struct l7_proxy_config cfg, struct client *c,
                                    uint64_t linger_ms);
void on_test_timeout(struct loop *loop, void *userdata);

/* Inside the cell. */
struct sockaddr_storage sa(const char *ip, uint16_t port, socklen_t *len);
int dial(const char *ip, uint16_t port);
void read_to_eof(struct client *c, int fd);
size_t client_hello(const char *sni, uint8_t *out);
extern const char *c_ip;
extern uint16_t c_port;
extern const void *c_send;
extern size_t c_send_len;
void send_then_read(struct client *c);
/* Send data to ip:port from the cell, half-close, read everything back. */
struct l7_proxy_counters exchange(const char *ip, uint16_t port, const void *data, size_t len,
                                  struct client *c);
