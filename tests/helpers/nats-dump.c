/* nats-dump URL STREAM: print every message of a JetStream stream, one per
 * line, in stream order (a consumer for the NATS sink's tests). */
#include <nats/nats.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: nats-dump URL STREAM\n");
        return 2;
    }
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsStatus st = natsConnection_ConnectTo(&nc, argv[1]);
    if (st == NATS_OK)
        st = natsConnection_JetStream(&js, nc, NULL);
    if (st != NATS_OK) {
        fprintf(stderr, "nats-dump: %s\n", natsStatus_GetText(st));
        return 1;
    }
    for (uint64_t seq = 1;; seq++) {
        natsMsg *msg = NULL;
        jsErrCode jerr = 0;
        if (js_GetMsg(&msg, js, argv[2], seq, NULL, &jerr) != NATS_OK)
            break;
        fwrite(natsMsg_GetData(msg), 1, (size_t)natsMsg_GetDataLength(msg), stdout);
        fputc('\n', stdout);
        natsMsg_Destroy(msg);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}
