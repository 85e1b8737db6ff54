/*
 * crc32c.h: CRC-32C (Castagnoli polynomial, reflected 0x82F63B78), the
 * checksum that frames every record the raft storage writes to disk. A
 * portable table-driven implementation (no hardware instructions); its only
 * state is the lookup tables in crc32c.c, built once and then constant.
 * Safe to call from any thread.
 *
 * crc32c(0, "123456789", 9) == 0xE3069283.
 */
#ifndef ORCHD_CRC32C_H
#define ORCHD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Returns the CRC-32C of len bytes at buf, continuing from crc (pass 0 to
 * start; pass a previous result to checksum data given in pieces). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
