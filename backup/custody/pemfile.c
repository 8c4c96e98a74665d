/* Certificates and CSRs that keygen and the ceremonies hand out as PEM files
 * under the system root (cert:///NAME-sscert.pem, temporary:///NAME.csr,
 * cert:///NAME-cert.pem): written once, O_EXCL and 0600, never replaced. */
#include "backup/custody/custody_internal.h"

#include "backup/system/pathname.h"
#include "common/beneath.h"
#include "common/buf.h"
#include "common/fail.h"
#include "common/fileio.h"
#include "hsmbak/url.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

hb_status hb_pem_check_free(const char *root, const char *url, hb_err *err)
{
    char path[PATH_MAX];
    hb_status st = hb_url_resolve(root, url, path, sizeof path, err);
    if (st != HB_OK)
        return st;
    struct stat sb;
    if (lstat(path, &sb) == 0)
        return hb_fail(err, HB_E_REFUSED, "'%s' already exists; choose another --file-name or "
                       "delete it", url);
    return HB_OK;
}

hb_status hb_pem_write(const char *root, const char *url, X509 *cert, X509_REQ *req,
                       hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX], dir[PATH_MAX];
    char *data = NULL;
    int fd = -1, rootfd = -1;
    BIO *bio = BIO_new(BIO_s_mem());
    HB_TRY(hb_url_resolve(root, url, path, sizeof path, err));
    if (bio == NULL || !(cert ? PEM_write_bio_X509(bio, cert) : PEM_write_bio_X509_REQ(bio, req)))
        HB_FAIL_OSSL(HB_E_INTERNAL, "cannot encode '%s'", url);
    long len = BIO_get_mem_data(bio, &data);
    size_t n = root != NULL ? strlen(root) : 0;
    if (n > 0 && strncmp(path, root, n) == 0 && path[n] == '/') {
        /* Beneath the root (cert:///, temporary:///): made and created from
         * the root's fd, never through a link a restored tree holds
         * (common/beneath.h, issue 11 class 1). */
        const char *rel = path + n + 1, *base = NULL;
        HB_TRY(hb_path_parent(rel, dir, sizeof dir, &base, err));
        rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        HB_ENSURE(rootfd >= 0, HB_E_IO, "cannot open the system root '%s': %s", root,
                  strerror(errno));
        HB_TRY(hb_beneath_mkdirs(rootfd, root, dir, 0700, NULL, err));
        st = hb_beneath_open(rootfd, root, rel, O_WRONLY | O_CREAT | O_EXCL, 0600, &fd, err);
        if (st != HB_OK) {
            hb_err_prefix(err, "cannot create '%s'", url);
            goto cleanup;
        }
    } else {
        HB_TRY(hb_format(dir, sizeof dir, "the folder of a PEM file", err, "%s", path));
        char *slash = strrchr(dir, '/');
        if (slash != NULL) {
            *slash = '\0';
            HB_TRY(hb_mkdirs(dir, 0700, err));
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        HB_ENSURE(fd >= 0, HB_E_IO, "cannot create '%s': %s", url, strerror(errno));
    }
    HB_TRY(hb_write_all(fd, data, (size_t)len, url, err));
    HB_ENSURE(fsync(fd) == 0, HB_E_IO, "cannot sync '%s': %s", url, strerror(errno));
cleanup:
    if (fd >= 0)
        close(fd);
    if (rootfd >= 0)
        close(rootfd);
    BIO_free(bio);
    return st;
}
