/* signer.h: the signing pipeline of a signed event stream (bus.c uses it).
 *
 * The emitting thread numbers, chains and canonicalizes each event and lays
 * out its JSONL line with room for the signature (sign_pipeline_push); a
 * signing thread signs the queued events and writes every line to the sinks,
 * strictly in seq order, as soon as it and all before it are signed. When
 * the signing thread falls behind, the emitting thread signs queued events
 * too (two cores, two signers). One writer at a time: normally the signing
 * thread; the emitting thread only when it would otherwise have to wait for
 * it (a full ring, a drain) and nobody is writing.
 *
 * Handoff: a mutex guards the queue counters and each slot's `ready` flag.
 * A slot is written by the emitting thread only while it is free (before it
 * is published by pushed++), its signature text only by the one thread that
 * claimed it (claimed++ under the lock), and it is read by the writer only
 * once ready; every one of those steps goes through the lock, which orders
 * the memory accesses. Sinks are used by whoever holds the `writing` flag
 * (taken and dropped under the lock), so never by two threads at once;
 * outside the pipeline (flush, close) only after a drain, when nothing is
 * queued or being written. docs/architecture.md has why there is a thread
 * at all. */
#pragma once
#include "event.h"

struct sign_pipeline;

/* A pipeline for one run. signer, ctx and sinks are borrowed (the bus owns
 * them) and must outlive it; ctx is the run's, for the events and the outer
 * CloudEvents.
 * The thread starts here, with every signal blocked (the supervisor takes
 * its signals through a signalfd); when it cannot be started, the pipeline
 * signs and writes on the caller's thread, before each push returns. */
struct sign_pipeline *sign_pipeline_new(struct signer *signer, const struct event_ctx *ctx,
                                        struct event_sink *const *sinks, size_t n_sinks);

/* Build the next event (as event_build(ctx, type, data) would, but straight
 * into canonical JSON: event_canon) and queue it; waits while the queue is
 * full, signing meanwhile. Steals data. -EINVAL (not canonicalizable: the
 * chain does not move) or -EMSGSIZE (the line would exceed EVENT_MAX_BYTES:
 * the seq is used up, so a verifier sees the gap) with err filled. */
int sign_pipeline_push(struct sign_pipeline *p, enum event_type type, json_t *data,
                       struct cell_err *err);

/* Return once every pushed event is written to every sink. */
void sign_pipeline_drain(struct sign_pipeline *p);

/* The first sink failure, once: true and *out filled the first time after
 * it happened, false otherwise. */
bool sign_pipeline_take_failure(struct sign_pipeline *p, struct cell_err *out);

/* Drain, then replace the sink list (a sink added during the run). */
void sign_pipeline_set_sinks(struct sign_pipeline *p, struct event_sink *const *sinks,
                             size_t n_sinks);

/* Drain, stop the thread, free. */
void sign_pipeline_free(struct sign_pipeline *p);
