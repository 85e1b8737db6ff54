/*
 * pki_file.c: the PKI library's files: keys (mode 0600) and certificates
 * (mode 0644) as PEM, the CA directory (swarm-root-ca.crt/.key), written
 * atomically (temporary file, fsync, rename, fsync of the directory) so a
 * crash leaves either the old file or the new one. It owns no state beyond
 * the file descriptors it opens and closes within a call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "pki_internal.h"

void pki_free_secret(void *buf, size_t len)
{
	if (buf == NULL)
		return;
	mbedtls_platform_zeroize(buf, len);
	free(buf);
}

static int pki_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int pki_fsync_parent(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pki_fail(err, errlen, "pki: cannot open directory %s: %s",
				dir, strerror(errno));
	if (fsync(fd) != 0) {
		int e = errno;

		close(fd);
		return pki_fail(err, errlen, "pki: cannot fsync directory %s: %s",
				dir, strerror(e));
	}
	close(fd);
	return 0;
}

/* Creates tmp exclusively with exactly mode (whatever the umask) and
 * writes data into it durably. */
static int pki_write_tmp(const char *tmp, const void *data, size_t len,
			 mode_t mode, char *err, size_t errlen)
{
	int fd;
	int e;

	if (unlink(tmp) != 0 && errno != ENOENT)
		return pki_fail(err, errlen, "pki: cannot remove %s: %s", tmp,
				strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  mode);
	if (fd < 0)
		return pki_fail(err, errlen, "pki: cannot create %s: %s", tmp,
				strerror(errno));
	if (fchmod(fd, mode) != 0 || pki_write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		return pki_fail(err, errlen, "pki: cannot write %s: %s", tmp,
				strerror(e));
	}
	if (close(fd) != 0) {
		e = errno;
		unlink(tmp);
		return pki_fail(err, errlen, "pki: cannot close %s: %s", tmp,
				strerror(e));
	}
	return 0;
}

int pki_write_file(const char *path, const void *data, size_t len,
		   mode_t mode, char *err, size_t errlen)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return pki_fail(err, errlen, "pki: path too long: %s", path);
	if (pki_write_tmp(tmp, data, len, mode, err, errlen) != 0)
		return -1;
	if (rename(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		return pki_fail(err, errlen, "pki: cannot rename %s to %s: %s",
				tmp, path, strerror(e));
	}
	return pki_fsync_parent(path, err, errlen);
}

static int pki_read_fd(int fd, const char *path, char *buf, size_t cap,
		       size_t *len, char *err, size_t errlen)
{
	size_t have = 0;

	for (;;) {
		ssize_t n = read(fd, buf + have, cap - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pki_fail(err, errlen, "pki: cannot read %s: %s",
					path, strerror(errno));
		if (n == 0)
			break;
		have += (size_t)n;
		if (have == cap)
			return pki_fail(err, errlen,
					"pki: %s is larger than %d bytes", path,
					PKI_FILE_MAX);
	}
	*len = have;
	return 0;
}

int pki_read_file(const char *path, char **data, size_t *len, char *err,
		  size_t errlen)
{
	/* One spare byte detects oversize files, one more for the NUL. */
	size_t cap = PKI_FILE_MAX + 1;
	char *buf;
	int fd;
	int rc;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pki_fail(err, errlen, "pki: cannot open %s: %s", path,
				strerror(errno));
	buf = malloc(cap + 1);
	if (buf == NULL) {
		close(fd);
		return pki_fail(err, errlen, "pki: out of memory reading %s",
				path);
	}
	rc = pki_read_fd(fd, path, buf, cap, len, err, errlen);
	close(fd);
	if (rc != 0) {
		pki_free_secret(buf, cap + 1);
		return -1;
	}
	buf[*len] = '\0';
	*data = buf;
	return 0;
}

int pki_key_save(const struct pki_key *key, const char *path, char *err,
		 size_t errlen)
{
	unsigned char pem[2048];
	int ret = mbedtls_pk_write_key_pem(pki_key_pk(key), pem, sizeof(pem));
	int rc;

	if (ret != 0)
		return pki_fail_mbed(err, errlen, ret,
				     "pki: cannot encode the key for %s", path);
	rc = pki_write_file(path, pem, strlen((char *)pem), 0600, err, errlen);
	mbedtls_platform_zeroize(pem, sizeof(pem));
	return rc;
}

int pki_key_load(const char *path, struct pki_key **out, char *err,
		 size_t errlen)
{
	struct pki_key *key;
	char *pem;
	size_t len;
	int ret;

	*out = NULL;
	if (pki_read_file(path, &pem, &len, err, errlen) != 0)
		return -1;
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		pki_free_secret(pem, len);
		return pki_fail(err, errlen, "pki: out of memory");
	}
	mbedtls_pk_init(&key->pk);
	ret = mbedtls_pk_parse_key(&key->pk, (const unsigned char *)pem,
				   len + 1, NULL, 0);
	pki_free_secret(pem, len);
	if (ret != 0) {
		pki_key_free(key);
		return pki_fail_mbed(err, errlen, ret,
				     "pki: %s is not a valid private key", path);
	}
	if (!mbedtls_pk_can_do(&key->pk, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(key->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		pki_key_free(key);
		return pki_fail(err, errlen,
				"pki: %s is not an ECDSA P-256 key", path);
	}
	*out = key;
	return 0;
}

int pki_cert_load(const char *path, struct pki_cert **out, char *err,
		  size_t errlen)
{
	char *pem;
	size_t len;
	char why[256];
	int rc;

	*out = NULL;
	if (pki_read_file(path, &pem, &len, err, errlen) != 0)
		return -1;
	rc = pki_cert_parse(pem, len, out, why, sizeof(why));
	free(pem);
	if (rc != 0)
		return pki_fail(err, errlen, "%s (in %s)", why, path);
	return 0;
}

int pki_cert_save(const struct pki_cert *cert, const char *path, char *err,
		  size_t errlen)
{
	return pki_write_file(path, cert->pem, strlen(cert->pem), 0644, err,
			      errlen);
}

static int pki_ca_path(char *buf, size_t size, const char *dir,
		       const char *name, char *err, size_t errlen)
{
	if (snprintf(buf, size, "%s/%s", dir, name) >= (int)size)
		return pki_fail(err, errlen, "pki: path too long: %s/%s", dir,
				name);
	return 0;
}

int pki_ca_save(const struct pki_ca *ca, const char *dir, char *err,
		size_t errlen)
{
	char key_path[PATH_MAX];
	char cert_path[PATH_MAX];

	if (pki_ca_path(key_path, sizeof(key_path), dir, PKI_CA_KEY_FILE, err,
			errlen) != 0 ||
	    pki_ca_path(cert_path, sizeof(cert_path), dir, PKI_CA_CERT_FILE,
			err, errlen) != 0)
		return -1;
	if (pki_key_save(ca->key, key_path, err, errlen) != 0)
		return -1;
	return pki_cert_save(ca->cert, cert_path, err, errlen);
}

static int pki_ca_check_pair(const struct pki_ca *ca, const char *dir,
			     char *err, size_t errlen)
{
	if (!pki_cert_crt(ca->cert)->ca_istrue)
		return pki_fail(err, errlen,
				"pki: %s/%s is not a CA certificate", dir,
				PKI_CA_CERT_FILE);
	if (!pki_cert_matches_key(ca->cert, ca->key))
		return pki_fail(err, errlen,
				"pki: %s/%s does not match the certificate %s/%s",
				dir, PKI_CA_KEY_FILE, dir, PKI_CA_CERT_FILE);
	return 0;
}

int pki_ca_load(const char *dir, struct pki_ca **out, char *err,
		size_t errlen)
{
	char key_path[PATH_MAX];
	char cert_path[PATH_MAX];
	struct pki_ca *ca;

	*out = NULL;
	if (pki_ca_path(key_path, sizeof(key_path), dir, PKI_CA_KEY_FILE, err,
			errlen) != 0 ||
	    pki_ca_path(cert_path, sizeof(cert_path), dir, PKI_CA_CERT_FILE,
			err, errlen) != 0)
		return -1;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return pki_fail(err, errlen, "pki: out of memory");
	if (pki_cert_load(cert_path, &ca->cert, err, errlen) != 0 ||
	    pki_key_load(key_path, &ca->key, err, errlen) != 0 ||
	    pki_ca_check_pair(ca, dir, err, errlen) != 0) {
		pki_ca_free(ca);
		return -1;
	}
	*out = ca;
	return 0;
}
