/*
 * hex.h: lower-case hex text of bytes, both ways (nonces and signatures
 * of the cluster network's handshake, raft messages on the wire). Owns no
 * state.
 */
#ifndef ORCHD_HEX_H
#define ORCHD_HEX_H

#include <stddef.h>

/* Writes 2 * len hex digits and a NUL into out. */
void hex_encode(const unsigned char *in, size_t len, char *out);

/* Decodes the lower-case hex text in into out (at most cap bytes) and sets
 * *len; -1, out undefined, if in has an odd length, a character outside
 * 0-9a-f, or more than cap bytes. */
int hex_decode(const char *in, unsigned char *out, size_t cap, size_t *len);

#endif
