/*
 * fuzz_raft_codec.c: libFuzzer target for the raft wire decoder.
 *
 * Decodes arbitrary bytes as a raft message (what a hostile or broken peer
 * could send). Every accepted input must be the canonical encoding of the
 * decoded message: re-encoding gives back exactly the input bytes, and every
 * zero-copy pointer lies inside the input. Any crash, overread, leak or
 * mismatch (abort) is a finding. The target keeps no state between inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft.h"

static int fuzz_points_inside(const uint8_t *p, size_t len, const uint8_t *buf,
			      size_t size)
{
	if (len == 0)
		return p == NULL;
	return p >= buf && len <= size && p <= buf + size - len;
}

static void fuzz_check_pointers(const struct raft_msg *m, const uint8_t *buf,
				size_t size)
{
	for (uint32_t i = 0; i < m->n_entries; i++) {
		if (!fuzz_points_inside(m->entries[i].data, m->entries[i].len,
					buf, size))
			abort();
	}
	if (!fuzz_points_inside(m->snap_chunk, m->snap_chunk_len, buf, size))
		abort();
}

static void fuzz_check_canonical(const struct raft_msg *m, const uint8_t *buf,
				 size_t size)
{
	size_t again_len = raft_msg_encoded_size(m);
	uint8_t *again;

	if (again_len != size)
		abort();
	again = malloc(again_len);
	if (again == NULL)
		return; /* out of memory is not a codec finding */
	raft_msg_encode(m, again);
	if (memcmp(again, buf, size) != 0)
		abort();
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_msg m;

	if (raft_msg_decode(data, size, &m) != RAFT_OK) {
		/* A failed decode leaves a message that is safe to free. */
		if (m.entries != NULL || m.n_entries != 0)
			abort();
		raft_msg_decoded_free(&m);
		return 0;
	}
	fuzz_check_pointers(&m, data, size);
	fuzz_check_canonical(&m, data, size);
	raft_msg_decoded_free(&m);
	return 0;
}
