/*
 * ids.c: ids and random numbers from getrandom (see ids.h). Owns no state.
 */
#include "ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

/* getrandom without GRND_NONBLOCK only blocks before the kernel's pool is
 * initialized and never fails for small sizes; a failure here means a
 * broken system, which we refuse to paper over. */
static void ids_fill(void *buf, size_t len)
{
	if (getrandom(buf, len, 0) != (ssize_t)len) {
		perror("orchd: getrandom");
		abort();
	}
}

void ids_new_id(void *ctx, char *buf)
{
	(void)ctx;
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	uint8_t raw[25];
	ids_fill(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++)
		buf[i] = digits[raw[i] % 36];
	buf[25] = '\0';
}

uint64_t ids_random(void *ctx)
{
	(void)ctx;
	uint64_t x;
	ids_fill(&x, sizeof(x));
	return x;
}
