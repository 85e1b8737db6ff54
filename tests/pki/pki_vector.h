/*
 * pki_vector.h: a fixed test vector for the CA digest: a CA certificate
 * made by this library (seed "v4", time 1700000000) and the digest that
 * Swarm's encoding gives for it, computed with Python, not with the code
 * under test: int.from_bytes(sha256(DER).digest(), "big") written in base36
 * (0-9a-z), left-padded with '0' to 50 characters. Its digest starts with
 * '0', so the padding is exercised. No state.
 */
#ifndef ORCHD_PKI_VECTOR_H
#define ORCHD_PKI_VECTOR_H

static const char pki_vector_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBizCCAS+gAwIBAgIQdBeiqhI9uInLUFPJCVsvmzAMBggqhkjOPQQDAgUAMBMx\n"
	"ETAPBgNVBAMMCHN3YXJtLWNhMB4XDTIzMTExNDIxMTMyMFoXDTQzMTEwOTIyMTMy\n"
	"MFowEzERMA8GA1UEAwwIc3dhcm0tY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
	"AAQzUoZzEWLPzPiTfmDpzLPFhc5SQX9vwATlYVjFXJwS4m8YK5FE77l5LFXj3kzr\n"
	"tOkTVCiW5w349GE1NRnIg3Goo2MwYTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB\n"
	"/wQEAwIBBjAdBgNVHQ4EFgQUXQJIzZSALXzbTxM3gieJoJRrh5swHwYDVR0jBBgw\n"
	"FoAUXQJIzZSALXzbTxM3gieJoJRrh5swDAYIKoZIzj0EAwIFAANIADBFAiB53Gql\n"
	"XcJqNfy9TrL5APgmKESSZCgmGlHUsAbLaR+U7wIhAKMADeXn3lRuQy36Gq7NJggh\n"
	"azffReFAipqEHCF7fjb9\n"
	"-----END CERTIFICATE-----\n";

static const char pki_vector_digest[] =
	"0hiylqt8mdd6qeu7oiqgjqv6lbh0p93inlwtrxlgro9qd4woj0";

#endif
