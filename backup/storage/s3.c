/* The S3 backend of storage.h (libcurl; docs/remote.md): a backup is the
 * objects PREFIX/NAME of a bucket, with the same names and bytes as the files
 * of a local backup. S3 has no rename, so the commit point is the manifest:
 * every archive is uploaded first (an object appears only once its upload
 * completes), the manifest last, and a prefix without its manifest is no
 * backup to restore, validate or inspect.
 *
 * While a backup is written, a marker object PARENT/.BASE.hsmbak-partial-
 * MACHINE-PID says so beside the prefix (as the SFTP backend's partial
 * directory does): a second writer to the same prefix is refused, and the
 * next backup from this machine removes what a killed one left (its objects
 * and unfinished multipart uploads) when that process is gone.
 *
 * Requests are signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4), which signs
 * the query string as given and never sends x-amz-content-sha256: queries are
 * built pre-sorted and pre-encoded, keys RFC 3986-encoded, and every request
 * carries the SHA-256 of its body. RGW refuses chunked uploads, so archives
 * stream as multipart uploads of S3_PART bytes (the last may be shorter);
 * reads are ranged GETs of S3_RANGE bytes pinned to the object's ETag.
 *
 * Each writer and reader has its own libcurl handle (and connection); the
 * store's handle, for everything else, is used under the store's lock. */
#include "backup/storage/backend.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/fail.h"
#include "common/fault.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S3_PART (8u << 20)        /* multipart part size (S3's minimum is 5 MiB) */
#define S3_RANGE (4u << 20)       /* bytes per ranged GET */
#define S3_XML_CAP (8u << 20)     /* a response document (listing, error) */
#define S3_ATTEMPTS 4             /* per request, for 5xx and broken connections */
#define S3_CRED_CAP (64 * 1024)
#define S3_KEY_MAX 1024

struct hb_s3 {
    char url[PATH_MAX];           /* s3://BUCKET/PREFIX, as shown */
    char bucket[64];
    char prefix[S3_KEY_MAX];      /* the backup's "directory", no trailing '/' */
    char parent[S3_KEY_MAX];      /* "" or the prefix's parent, no trailing '/' */
    char base[256];
    char endpoint[512];           /* scheme://HOST[:PORT], no trailing '/' */
    char sigv4[128];              /* aws:amz:REGION:s3 */
    char cred_file[PATH_MAX];
    char profile[128];
    char ca[PATH_MAX];            /* "" : the system's trust store */
    bool plain_http;
    char lock_mode[16];           /* "" or COMPLIANCE / GOVERNANCE */
    char lock_until[32];          /* RFC 3339 UTC */
    char *userpwd;                /* ACCESS:SECRET (secret; wiped) */
    char *token_header;           /* x-amz-security-token: ... or NULL (secret) */
    CURL *h;
    pthread_mutex_t lock;
    bool lock_made;
    char marker[S3_KEY_MAX];      /* "" until written, and once removed */
    bool finished;
    hb_strlist written;           /* keys published by this run (removed on failure) */
    unsigned stale_removed;
};

struct hb_s3_writer {
    hb_s3 *s;
    CURL *h;
    char name[256];
    char key[S3_KEY_MAX];
    char upload_id[512];          /* "" : no multipart upload started */
    unsigned parts;
    hb_buf complete;              /* the CompleteMultipartUpload document so far */
    size_t used;
    uint8_t *buf;                 /* S3_PART bytes */
};

struct hb_s3_reader {
    hb_s3 *s;
    CURL *h;
    char key[S3_KEY_MAX];
    char etag[256];
    uint64_t size, off;           /* object size; bytes fetched so far */
    size_t pos, len;              /* unread bytes of buf */
    uint8_t *buf;                 /* S3_RANGE bytes */
};

/* One request and what came back. */
typedef struct s3_req {
    const char *method;
    const char *key;              /* NULL: the bucket */
    const char *query;            /* sorted and encoded, without '?'; NULL: none */
    const uint8_t *body;
    size_t body_len;
    const char *range;            /* "FIRST-LAST" or NULL */
    const char *if_match;         /* an ETag or NULL */
    const char *what;             /* the operation, in messages */
    bool lock;                    /* a new object: with the store's Object Lock */
    bool md5;                     /* with Content-MD5 (S3 wants it for Object Lock) */
    uint8_t *into;                /* the body into this buffer (into_cap bytes) ... */
    size_t into_cap, into_len;
    hb_buf resp;                  /* ... else into this one (S3_XML_CAP) */
    size_t body_off;              /* upload position (rewound per attempt) */
    long status;
    char etag[256];
    uint64_t length;              /* Content-Length of the response */
    bool overflow;
} s3_req;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- names --------------------------------------------------------------- */

/* RFC 3986: unreserved characters stay, everything else is %XX; '/' stays
 * when keep_slash (a key's path). */
static hb_status encode(const char *in, bool keep_slash, char *out, size_t cap, hb_err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
                     *p == '~' || (keep_slash && *p == '/');
        if (n + 4 > cap)
            return hb_fail(err, HB_E_USAGE, "object name too long: '%s'", in);
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return HB_OK;
}

/* A character allowed in a PREFIX: what needs no escaping in XML and reads
 * the same everywhere (plus '/', '+', '=', ',', '@', ':'). */
static bool prefix_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           strchr("-._~/+=,@:", c) != NULL;
}

/* s3://BUCKET/PREFIX: BUCKET as S3 names them, PREFIX one or more
 * components (the last names the backup, as a directory's name does). */
static hb_status parse_url(hb_s3 *s, const char *url, hb_err *err)
{
    hb_status st = HB_OK;
    const char *b = url + strlen("s3://");
    const char *slash = strchr(b, '/');
    HB_TRY(hb_format(s->url, sizeof s->url, "URL", err, "%s", url));
    HB_ENSURE(slash != NULL && slash > b, HB_E_USAGE, "'%s' names no bucket and prefix: write "
              "s3://BUCKET/PREFIX", url);
    size_t blen = (size_t)(slash - b);
    HB_ENSURE(blen >= 3 && blen <= 63, HB_E_USAGE, "'%s': a bucket name has 3 to 63 "
              "characters", url);
    for (size_t i = 0; i < blen; i++)
        HB_ENSURE((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') ||
                  b[i] == '-' || b[i] == '.', HB_E_USAGE, "'%s': a bucket name has only "
                  "lowercase letters, digits, '-' and '.'", url);
    memcpy(s->bucket, b, blen);
    HB_TRY(hb_format(s->prefix, sizeof s->prefix, "prefix", err, "%s", slash + 1));
    size_t n = strlen(s->prefix);
    while (n > 0 && s->prefix[n - 1] == '/')
        s->prefix[--n] = '\0';
    HB_ENSURE(n > 0, HB_E_USAGE, "'%s' names no backup in the bucket: write "
              "s3://BUCKET/PREFIX/NAME", url);
    for (size_t i = 0; i < n; i++)
        HB_ENSURE(prefix_char(s->prefix[i]), HB_E_USAGE, "'%s': the prefix may hold only "
                  "letters, digits and -._~/+=,@:", url);
    for (const char *c = s->prefix; c != NULL; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
        size_t len = strcspn(c, "/");
        HB_ENSURE(len > 0 && !(len == 1 && c[0] == '.') && !(len == 2 && c[0] == '.' &&
                                                               c[1] == '.'),
                  HB_E_USAGE, "'%s': empty, '.' and '..' components are not allowed in the "
                  "prefix", url);
    }
    const char *last = strrchr(s->prefix, '/');
    HB_TRY(hb_format(s->base, sizeof s->base, "name", err, "%s", last ? last + 1 : s->prefix));
    if (last != NULL)
        HB_TRY(hb_format(s->parent, sizeof s->parent, "prefix", err, "%.*s",
                         (int)(last - s->prefix), s->prefix));
cleanup:
    return st;
}

/* ---- configuration --------------------------------------------------------- */

static const char *setting(const char *given, const char *env1, const char *env2)
{
    if (given != NULL && *given != '\0')
        return given;
    const char *v = env1 ? getenv(env1) : NULL;
    if ((v == NULL || *v == '\0') && env2 != NULL)
        v = getenv(env2);
    return v != NULL && *v != '\0' ? v : NULL;
}

static hb_status configure(hb_s3 *s, const hb_s3_options *o, hb_err *err)
{
    hb_status st = HB_OK;
    static const hb_s3_options none = {0};
    if (o == NULL)
        o = &none;
    const char *region = setting(o->region, "AWS_REGION", "AWS_DEFAULT_REGION");
    if (region == NULL)
        region = "us-east-1";
    for (const char *c = region; *c; c++)
        HB_ENSURE((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-',
                  HB_E_USAGE, "'%s' is not a region name (AWS_REGION, --aws-region)", region);
    HB_TRY(hb_format(s->sigv4, sizeof s->sigv4, "region", err, "aws:amz:%s:s3", region));
    const char *ep = setting(o->endpoint_url, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    if (ep == NULL)
        HB_TRY(hb_format(s->endpoint, sizeof s->endpoint, "endpoint", err,
                         "https://s3.%s.amazonaws.com", region));
    else
        HB_TRY(hb_format(s->endpoint, sizeof s->endpoint, "endpoint URL", err, "%s", ep));
    size_t n = strlen(s->endpoint);
    while (n > 0 && s->endpoint[n - 1] == '/')
        s->endpoint[--n] = '\0';
    bool https = strncmp(s->endpoint, "https://", 8) == 0;
    bool http = strncmp(s->endpoint, "http://", 7) == 0;
    const char *host = s->endpoint + (https ? 8 : 7);
    HB_ENSURE((https || http) && *host != '\0' && strchr(host, '/') == NULL &&
              strchr(host, '@') == NULL && strchr(host, '?') == NULL, HB_E_USAGE,
              "'%s' is not an S3 endpoint URL: write https://HOST[:PORT] (AWS_ENDPOINT_URL, "
              "--aws-endpoint-url; no user, path or query)", https || http ? s->endpoint
                                                                           : "the endpoint");
    HB_ENSURE(https || o->allow_plain_http, HB_E_USAGE, "'%s' is a plain-http endpoint: the "
              "backup's objects, its names and every signed request would cross the network "
              "unencrypted and the server unauthenticated (anyone on the way can read, replay, "
              "hold back or answer them); use https://, or accept that with "
              "--allow-plain-http", s->endpoint);
    s->plain_http = http;
    const char *ca = setting(o->ca_bundle, "AWS_CA_BUNDLE", NULL);
    if (ca != NULL) {
        HB_ENSURE(access(ca, R_OK) == 0, HB_E_NOT_FOUND, "cannot read the CA bundle '%s' "
                  "(AWS_CA_BUNDLE, --aws-ca-bundle): %s", ca, strerror(errno));
        HB_TRY(hb_format(s->ca, sizeof s->ca, "CA bundle", err, "%s", ca));
    }
    HB_ENSURE((o->lock_mode == NULL) == (o->retain_days == 0), HB_E_USAGE, "--lock and "
              "--retain DAYS go together (S3 Object Lock)");
    if (o->lock_mode != NULL) {
        bool compliance = strcmp(o->lock_mode, "compliance") == 0;
        HB_ENSURE(compliance || strcmp(o->lock_mode, "governance") == 0, HB_E_USAGE,
                  "--lock '%s': write compliance or governance", o->lock_mode);
        HB_TRY(hb_format(s->lock_mode, sizeof s->lock_mode, "lock", err, "%s",
                         compliance ? "COMPLIANCE" : "GOVERNANCE"));
        time_t until = time(NULL) + (time_t)o->retain_days * 86400;
        struct tm tm;
        HB_ENSURE(gmtime_r(&until, &tm) != NULL &&
                  strftime(s->lock_until, sizeof s->lock_until, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0,
                  HB_E_INTERNAL, "cannot format the retention date");
    }
    const char *cf = setting(o->credentials_file, "AWS_SHARED_CREDENTIALS_FILE", NULL);
    if (cf != NULL) {
        HB_TRY(hb_format(s->cred_file, sizeof s->cred_file, "path", err, "%s", cf));
    } else {
        const char *home = getenv("HOME");
        HB_ENSURE(home != NULL && *home != '\0', HB_E_USAGE, "HOME is not set: give the AWS "
                  "credentials file with AWS_SHARED_CREDENTIALS_FILE or "
                  "--aws-shared-credentials-file");
        HB_TRY(hb_format(s->cred_file, sizeof s->cred_file, "path", err, "%s/.aws/credentials",
                         home));
    }
    const char *profile = setting(o->profile, "AWS_PROFILE", NULL);
    HB_TRY(hb_format(s->profile, sizeof s->profile, "profile", err, "%s",
                     profile ? profile : "default"));
cleanup:
    return st;
}

/* Trim spaces at both ends of [*b, *e). */
static void trim(char **b, char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

/* The profile's keys from the shared credentials file, refused (as PIN
 * files are) when it is not a regular file or group or others may access it.
 * Everything read is wiped. */
static hb_status load_credentials(hb_s3 *s, hb_err *err)
{
    hb_status st = HB_OK;
    struct stat sb;
    char *text = NULL, *id = NULL, *secret = NULL, *token = NULL;
    size_t len = 0;
    hb_buf up = HB_BUF_INIT(4096);
    up.secret = true;
    const char *path = s->cred_file;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    HB_ENSURE(fd >= 0, errno == ENOENT ? HB_E_NOT_FOUND : HB_E_IO, "cannot open the AWS "
              "credentials file '%s': %s (give it with AWS_SHARED_CREDENTIALS_FILE or "
              "--aws-shared-credentials-file)", path, strerror(errno));
    HB_ENSURE(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), HB_E_AUTH, "AWS credentials file "
              "'%s' is not a regular file", path);
    HB_ENSURE((sb.st_mode & 077) == 0, HB_E_AUTH, "AWS credentials file '%s' is accessible "
              "by group or others (mode %04o); make it private with 'chmod 600 %s'", path,
              (unsigned)(sb.st_mode & 07777), path);
    text = calloc(1, S3_CRED_CAP + 1);
    HB_ALLOC(text);
    for (;;) {
        ssize_t n = read(fd, text + len, S3_CRED_CAP - len);
        if (n < 0 && errno == EINTR)
            continue;
        HB_ENSURE(n >= 0, HB_E_IO, "cannot read '%s': %s", path, strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
        HB_ENSURE(len < S3_CRED_CAP, HB_E_REFUSED, "AWS credentials file '%s' is larger than "
                  "%d bytes", path, S3_CRED_CAP);
    }
    bool in_profile = false, seen = false;
    for (char *line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n'), *end = nl ? nl : line + strlen(line);
        char *b = line;
        trim(&b, &end);
        if (b < end && *b == '[' && end[-1] == ']') {
            char *nb = b + 1, *ne = end - 1;
            trim(&nb, &ne);
            in_profile = (size_t)(ne - nb) == strlen(s->profile) &&
                         memcmp(nb, s->profile, (size_t)(ne - nb)) == 0;
            seen = seen || in_profile;
        } else if (in_profile && b < end && *b != '#' && *b != ';') {
            char *eq = memchr(b, '=', (size_t)(end - b));
            if (eq != NULL) {
                char *kb = b, *ke = eq, *vb = eq + 1, *ve = end;
                trim(&kb, &ke);
                trim(&vb, &ve);
                char **slot = NULL;
                size_t klen = (size_t)(ke - kb);
                if (klen == 17 && memcmp(kb, "aws_access_key_id", 17) == 0)
                    slot = &id;
                else if (klen == 21 && memcmp(kb, "aws_secret_access_key", 21) == 0)
                    slot = &secret;
                else if (klen == 17 && memcmp(kb, "aws_session_token", 17) == 0)
                    slot = &token;
                if (slot != NULL && *slot == NULL) {
                    *slot = hb_memdup(vb, (size_t)(ve - vb));
                    HB_ALLOC(*slot);
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    HB_ENSURE(seen, HB_E_AUTH, "the AWS credentials file '%s' has no profile [%s] (AWS_PROFILE, "
              "--aws-profile)", path, s->profile);
    HB_ENSURE(id != NULL && *id != '\0' && secret != NULL && *secret != '\0', HB_E_AUTH,
              "profile [%s] of '%s' lacks aws_access_key_id or aws_secret_access_key",
              s->profile, path);
    HB_ENSURE(strchr(id, ':') == NULL, HB_E_AUTH, "profile [%s] of '%s': the access key id "
              "holds ':'", s->profile, path);
    HB_TRY(hb_buf_addf(&up, err, "%s:%s", id, secret));
    s->userpwd = hb_buf_take(&up);
    HB_ALLOC(s->userpwd);
    if (token != NULL) {
        hb_buf th = HB_BUF_INIT(S3_CRED_CAP);
        th.secret = true;
        st = hb_buf_addf(&th, err, "x-amz-security-token: %s", token);
        s->token_header = st == HB_OK ? hb_buf_take(&th) : NULL;
        hb_buf_free(&th);
        HB_TRY(st);
        HB_ALLOC(s->token_header);
    }
cleanup:
    if (text != NULL)
        OPENSSL_cleanse(text, S3_CRED_CAP);
    free(text);
    if (id != NULL)
        OPENSSL_cleanse(id, strlen(id));
    if (secret != NULL)
        OPENSSL_cleanse(secret, strlen(secret));
    if (token != NULL)
        OPENSSL_cleanse(token, strlen(token));
    free(id);
    free(secret);
    free(token);
    hb_buf_free(&up);
    if (fd >= 0)
        close(fd);
    return st;
}

/* ---- requests -------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    s3_req *q = ctx;
    size_t len = size * n;
    if (q->into != NULL) {
        if (len > q->into_cap - q->into_len) {
            q->overflow = true;
            return 0;
        }
        memcpy(q->into + q->into_len, data, len);
        q->into_len += len;
        return len;
    }
    hb_err ignored;
    if (hb_buf_add(&q->resp, data, len, &ignored) != HB_OK) {
        q->overflow = true;
        return 0;
    }
    return len;
}

static size_t on_upload(char *out, size_t size, size_t n, void *ctx)
{
    s3_req *q = ctx;
    size_t left = q->body_len - q->body_off, len = size * n < left ? size * n : left;
    if (len > 0)
        memcpy(out, q->body + q->body_off, len);
    q->body_off += len;
    return len;
}

/* The text of the first <tag>...</tag> at or after *from (advanced past
 * it), entities decoded; false when there is none. */
static bool xml_text(const char *doc, const char **from, const char *tag, char *out,
                     size_t cap)
{
    char open[64], close[64];
    hb_err ignored;
    if (hb_format(open, sizeof open, "tag", &ignored, "<%s>", tag) != HB_OK ||
        hb_format(close, sizeof close, "tag", &ignored, "</%s>", tag) != HB_OK)
        return false;
    const char *b = strstr(from ? *from : doc, open);
    if (b == NULL)
        return false;
    b += strlen(open);
    const char *e = strstr(b, close);
    if (e == NULL)
        return false;
    size_t n = 0;
    static const struct { const char *ent; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
        {"&#34;", '"'}, {"&#39;", '\''}};
    for (const char *p = b; p < e && n + 1 < cap;) {
        size_t i = 0;
        for (; *p == '&' && i < sizeof ents / sizeof ents[0]; i++)
            if (strncmp(p, ents[i].ent, strlen(ents[i].ent)) == 0)
                break;
        if (*p == '&' && i < sizeof ents / sizeof ents[0]) {
            out[n++] = ents[i].c;
            p += strlen(ents[i].ent);
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    if (from)
        *from = e + strlen(close);
    return true;
}

/* What s3://BUCKET/KEY (or the bucket) is called in messages. */
static void shown_name(const hb_s3 *s, const char *key, char *out, size_t cap)
{
    hb_err ignored;
    if (hb_format(out, cap, "name", &ignored, "s3://%s/%s", s->bucket, key ? key : "") !=
        HB_OK)
        out[0] = '\0';
}

static bool transient_curl(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_HTTP2_STREAM;
}

static bool tls_refused(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
           rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_ISSUER_ERROR ||
           rc == CURLE_SSL_CRL_BADFILE || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

/* The server's refusal as a status and message: the HTTP status, S3's
 * error code, what to do. */
static hb_status http_failure(hb_s3 *s, s3_req *q, hb_err *err)
{
    char code[128] = "", message[512] = "", name[PATH_MAX + 80];
    shown_name(s, q->key, name, sizeof name);
    if (q->into == NULL && q->resp.len > 0) {
        (void)xml_text(hb_buf_str(&q->resp), NULL, "Code", code, sizeof code);
        (void)xml_text(hb_buf_str(&q->resp), NULL, "Message", message, sizeof message);
    }
    hb_status st = q->status >= 500 ? HB_E_IO : HB_E_REFUSED;
    const char *advice = "";
    if (strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "SignatureDoesNotMatch") == 0) {
        st = HB_E_AUTH;
        advice = "; the server does not accept the keys: check them";
    } else if (q->status == 403 || strcmp(code, "AccessDenied") == 0) {
        st = HB_E_AUTH;
        advice = "; the keys are not allowed to do this";
    } else if (strcmp(code, "NoSuchBucket") == 0) {
        /* Not HB_E_NOT_FOUND, which callers take for "no such file": the
         * store itself is missing, a precondition. */
        st = HB_E_REFUSED;
        advice = "; the bucket does not exist (create it first, or check the name)";
    } else if (q->status == 404) {
        st = HB_E_NOT_FOUND;
        advice = "; no such object";
    }
    if (st == HB_E_AUTH)
        return hb_fail(err, st, "cannot %s '%s' at %s: HTTP %ld%s%s%s%s%s (profile [%s] of "
                       "'%s')", q->what, name, s->endpoint, q->status, code[0] ? " " : "", code,
                       message[0] ? ": " : "", message, advice, s->profile, s->cred_file);
    return hb_fail(err, st, "cannot %s '%s' at %s: HTTP %ld%s%s%s%s%s", q->what, name,
                   s->endpoint, q->status, code[0] ? " " : "", code, message[0] ? ": " : "",
                   message, advice);
}

/* h set up for q afresh (its connection is kept). */
static void setup_handle(const hb_s3 *s, CURL *h, s3_req *q, const char *url,
                         struct curl_slist *headers, char *errbuf)
{
    bool upload = strcmp(q->method, "PUT") == 0 || strcmp(q->method, "POST") == 0;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, s->plain_http ? "http" : "https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, q);
    if (strcmp(q->method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (upload) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(h, CURLOPT_READDATA, q);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
    }
}

/* Perform q on h: signed, retried with backoff for 5xx and broken
 * connections (never for 4xx). HB_OK only for a 2xx answer. */
static hb_status s3_request(hb_s3 *s, CURL *h, s3_req *q, hb_err *err)
{
    hb_status st = HB_OK;
    char path[3 * S3_KEY_MAX + 80], url[4 * S3_KEY_MAX + 1200], hdr[512], digest[65];
    char errbuf[CURL_ERROR_SIZE], name[PATH_MAX + 80];
    struct curl_slist *headers = NULL, *more;
    CURLcode rc = CURLE_OK;
    shown_name(s, q->key, name, sizeof name);
    if (q->key != NULL)
        HB_TRY(encode(q->key, true, path, sizeof path, err));
    HB_TRY(hb_format(url, sizeof url, "URL", err, "%s/%s/%s%s%s", s->endpoint, s->bucket,
                     q->key ? path : "", q->query ? "?" : "", q->query ? q->query : ""));
    HB_TRY(hb_sha256_hex(q->body ? (const void *)q->body : "", q->body_len, digest, err));
    HB_TRY(hb_format(hdr, sizeof hdr, "header", err, "x-amz-content-sha256: %s", digest));
#define ADD_HEADER(text)                                  \
    do {                                                  \
        more = curl_slist_append(headers, (text));        \
        HB_ALLOC(more);                                   \
        headers = more;                                   \
    } while (0)
    /* Not "Expect:" to suppress 100-continue: libcurl 7.88 signs that empty
     * header without sending it, and every upload is refused. */
    ADD_HEADER(hdr);
    if (s->token_header != NULL)
        ADD_HEADER(s->token_header);
    if (q->range != NULL) {
        HB_TRY(hb_format(hdr, sizeof hdr, "header", err, "Range: bytes=%s", q->range));
        ADD_HEADER(hdr);
    }
    if (q->if_match != NULL) {
        HB_TRY(hb_format(hdr, sizeof hdr, "header", err, "If-Match: %s", q->if_match));
        ADD_HEADER(hdr);
    }
    if (q->md5 || (q->lock && s->lock_mode[0] != '\0')) {
        /* S3 wants the body's MD5 with an Object Lock. */
        unsigned char md5[16];
        char b64[32];
        HB_ENSURE(EVP_Digest(q->body ? (const void *)q->body : "", q->body_len, md5, NULL,
                             EVP_md5(), NULL) == 1, HB_E_INTERNAL, "MD5 failed");
        EVP_EncodeBlock((unsigned char *)b64, md5, sizeof md5);
        HB_TRY(hb_format(hdr, sizeof hdr, "header", err, "Content-MD5: %s", b64));
        ADD_HEADER(hdr);
    }
    if (q->lock && s->lock_mode[0] != '\0') {
        HB_TRY(hb_format(hdr, sizeof hdr, "header", err, "x-amz-object-lock-mode: %s",
                         s->lock_mode));
        ADD_HEADER(hdr);
        HB_TRY(hb_format(hdr, sizeof hdr, "header", err, "x-amz-object-lock-retain-until-date: "
                         "%s", s->lock_until));
        ADD_HEADER(hdr);
    }
#undef ADD_HEADER
    for (unsigned attempt = 0;; attempt++) {
        errbuf[0] = '\0';
        hb_buf_reset(&q->resp);
        q->into_len = 0;
        q->body_off = 0;
        q->overflow = false;
        q->etag[0] = '\0';
        q->status = 0;
        setup_handle(s, h, q, url, headers, errbuf);
        rc = curl_easy_perform(h);
        if (rc == CURLE_OK) {
            struct curl_header *eh = NULL;
            curl_off_t cl = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &q->status);
            if (curl_easy_header(h, "ETag", 0, CURLH_HEADER, -1, &eh) == CURLHE_OK)
                HB_TRY(hb_format(q->etag, sizeof q->etag, "ETag", err, "%s", eh->value));
            if (curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
                cl > 0)
                q->length = (uint64_t)cl;
            if (q->status < 500)
                break;
        } else if (!transient_curl(rc) || q->overflow) {
            break;
        }
        if (attempt + 1 >= S3_ATTEMPTS)
            break;
        /* 0.25 s, 0.5 s, 1 s between the attempts. */
        struct timespec wait = {0, 250000000L << attempt};
        if (wait.tv_nsec >= 1000000000L) {
            wait.tv_sec = wait.tv_nsec / 1000000000L;
            wait.tv_nsec %= 1000000000L;
        }
        while (nanosleep(&wait, &wait) != 0 && errno == EINTR) {
        }
    }
    if (rc != CURLE_OK) {
        const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
        HB_ENSURE(!q->overflow, HB_E_IO, "cannot %s '%s' at %s: the answer is larger than "
                  "expected", q->what, name, s->endpoint);
        HB_ENSURE(!tls_refused(rc), HB_E_AUTH, "the TLS certificate of %s is not accepted: %s; "
                  "nothing was sent. Give the CA that signed it with AWS_CA_BUNDLE or "
                  "--aws-ca-bundle (never turn verification off)", s->endpoint, why);
        HB_FAIL(HB_E_IO, "cannot %s '%s': %s is unreachable (%s%s)", q->what, name,
                s->endpoint, why, transient_curl(rc) ? ", after 4 attempts" : "");
    }
    if (q->status >= 400 && q->status < 500 && strcmp(q->method, "HEAD") == 0) {
        /* A HEAD answer has no body, so no S3 error code: ask again with a
         * one-byte GET to name the refusal. */
        s3_req again;
        memset(&again, 0, sizeof again);
        again.method = "GET";
        again.key = q->key;
        again.range = "0-0";
        again.what = q->what;
        hb_buf_init(&again.resp, S3_XML_CAP);
        st = s3_request(s, h, &again, err);
        hb_buf_free(&again.resp);
        HB_TRY(st);
    }
    if (q->status < 200 || q->status >= 300)
        HB_TRY(http_failure(s, q, err));
cleanup:
    curl_slist_free_all(headers);
    return st;
}

static void req_init(s3_req *q, const char *method, const char *key, const char *what)
{
    memset(q, 0, sizeof *q);
    q->method = method;
    q->key = key;
    q->what = what;
    hb_buf_init(&q->resp, S3_XML_CAP);
}

/* A request on the store's own handle (the caller holds the lock). */
static hb_status simple(hb_s3 *s, const char *method, const char *key, const char *query,
                        const char *what, hb_err *err)
{
    s3_req q;
    req_init(&q, method, key, what);
    q.query = query;
    hb_status st = s3_request(s, s->h, &q, err);
    hb_buf_free(&q.resp);
    return st;
}

/* ---- listing ---------------------------------------------------------------- */

typedef hb_status (*key_fn)(hb_s3 *s, void *ctx, const char *key, hb_err *err);

/* Every key beginning with prefix, page by page (ListObjectsV2). */
static hb_status list_keys(hb_s3 *s, const char *prefix, key_fn fn, void *ctx, hb_err *err)
{
    hb_status st = HB_OK;
    char token[1024] = "", etoken[3200], eprefix[3 * S3_KEY_MAX + 4], query[8192];
    char key[S3_KEY_MAX + 1], truncated[16];
    s3_req q;
    req_init(&q, "GET", NULL, "list");
    HB_TRY(encode(prefix, false, eprefix, sizeof eprefix, err));
    for (;;) {
        HB_TRY(encode(token, false, etoken, sizeof etoken, err));
        /* Sorted by name, as SigV4 signs them (libcurl signs the query as given). */
        if (token[0] != '\0')
            HB_TRY(hb_format(query, sizeof query, "query", err, "continuation-token=%s&"
                             "list-type=2&prefix=%s", etoken, eprefix));
        else
            HB_TRY(hb_format(query, sizeof query, "query", err, "list-type=2&prefix=%s",
                             eprefix));
        q.query = query;
        HB_TRY(s3_request(s, s->h, &q, err));
        const char *doc = hb_buf_str(&q.resp), *at = doc;
        while (xml_text(doc, &at, "Key", key, sizeof key))
            HB_TRY(fn(s, ctx, key, err));
        if (!xml_text(doc, NULL, "IsTruncated", truncated, sizeof truncated) ||
            strcmp(truncated, "true") != 0)
            break;
        HB_ENSURE(xml_text(doc, NULL, "NextContinuationToken", token, sizeof token) &&
                  token[0] != '\0', HB_E_IO, "listing '%s' at %s: a truncated answer without "
                  "a continuation token", s->url, s->endpoint);
    }
cleanup:
    hb_buf_free(&q.resp);
    return st;
}

static hb_status count_key(hb_s3 *s, void *ctx, const char *key, hb_err *err)
{
    (void)s, (void)key, (void)err;
    (*(size_t *)ctx)++;
    return HB_OK;
}

static hb_status delete_key(hb_s3 *s, void *ctx, const char *key, hb_err *err)
{
    (void)ctx;
    return simple(s, "DELETE", key, NULL, "remove", err);
}

/* Abort every unfinished multipart upload of a key beginning with prefix. */
static hb_status abort_uploads(hb_s3 *s, const char *prefix, unsigned *aborted, hb_err *err)
{
    hb_status st = HB_OK;
    char eprefix[3 * S3_KEY_MAX + 4], query[4 * S3_KEY_MAX], key[S3_KEY_MAX + 1];
    char id[512], eid[1600];
    s3_req q;
    req_init(&q, "GET", NULL, "list the multipart uploads of");
    HB_TRY(encode(prefix, false, eprefix, sizeof eprefix, err));
    HB_TRY(hb_format(query, sizeof query, "query", err, "prefix=%s&uploads=", eprefix));
    q.query = query;
    HB_TRY(s3_request(s, s->h, &q, err));
    const char *doc = hb_buf_str(&q.resp), *at = doc;
    while ((at = strstr(at, "<Upload>")) != NULL) {
        const char *end = strstr(at, "</Upload>");
        if (end == NULL)
            break;
        const char *k = at, *u = at;
        if (xml_text(doc, &k, "Key", key, sizeof key) && k <= end + 9 &&
            xml_text(doc, &u, "UploadId", id, sizeof id) && u <= end + 9) {
            HB_TRY(encode(id, false, eid, sizeof eid, err));
            HB_TRY(hb_format(query, sizeof query, "query", err, "uploadId=%s", eid));
            HB_TRY(simple(s, "DELETE", key, query, "abort the upload of", err));
            (*aborted)++;
        }
        at = end;
    }
cleanup:
    hb_buf_free(&q.resp);
    return st;
}

/* ---- opening ---------------------------------------------------------------- */

hb_status hb_s3_open(const char *url, const hb_store_remote *opts, hb_s3 **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_s3 *s = calloc(1, sizeof *s);
    HB_ALLOC(s);
    HB_ENSURE(pthread_mutex_init(&s->lock, NULL) == 0, HB_E_INTERNAL, "cannot make a lock");
    s->lock_made = true;
    HB_TRY(parse_url(s, url, err));
    HB_TRY(configure(s, opts ? &opts->s3 : NULL, err));
    HB_TRY(load_credentials(s, err));
    pthread_once(&curl_once, curl_init);
    HB_ENSURE(curl_init_rc == CURLE_OK, HB_E_INTERNAL, "cannot start libcurl: %s",
              curl_easy_strerror(curl_init_rc));
    s->h = curl_easy_init();
    HB_ENSURE(s->h != NULL, HB_E_INTERNAL, "out of memory (libcurl handle)");
    *out = s;
    s = NULL;
cleanup:
    hb_s3_free(s);
    return st;
}

/* ---- writing ---------------------------------------------------------------- */

/* The markers of backups being written to this prefix: PARENT/.BASE.hsmbak-
 * partial-MACHINE-PID. A marker of this machine whose process is gone is a
 * killed run: its objects and uploads are removed. Any other marker (a live
 * writer, another machine) is counted in *others. */
typedef struct markers {
    char mine[S3_KEY_MAX];        /* the prefix of this machine's markers */
    size_t n_others;
    char other[S3_KEY_MAX];
    hb_strlist stale;
} markers;

static hb_status see_marker(hb_s3 *s, void *ctx, const char *key, hb_err *err)
{
    markers *m = ctx;
    size_t n = strlen(m->mine);
    if (strcmp(key, s->marker) == 0)
        return HB_OK;
    if (strncmp(key, m->mine, n) == 0) {
        char *end = NULL;
        errno = 0;
        long pid = strtol(key + n, &end, 10);
        if (pid > 0 && errno == 0 && *end == '\0' && pid != (long)getpid() &&
            kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            return hb_strlist_add(&m->stale, key, err);
    }
    m->n_others++;
    return hb_format(m->other, sizeof m->other, "key", err, "%s", key);
}

static hb_status find_markers(hb_s3 *s, markers *m, hb_err *err)
{
    hb_status st = HB_OK;
    char all[S3_KEY_MAX];
    HB_TRY(hb_format(all, sizeof all, "prefix", err, "%s%s.%s.hsmbak-partial-", s->parent,
                     s->parent[0] ? "/" : "", s->base));
    HB_TRY(hb_format(m->mine, sizeof m->mine, "prefix", err, "%s%s-", all,
                     hb_storage_machine_tag()));
    m->n_others = 0;
    hb_strlist_free(&m->stale);
    HB_TRY(list_keys(s, all, see_marker, m, err));
cleanup:
    return st;
}

hb_status hb_s3_begin(hb_s3 *s, hb_err *err)
{
    hb_status st = HB_OK;
    char inside[S3_KEY_MAX + 2], manifest[S3_KEY_MAX + 32], marker[S3_KEY_MAX];
    markers m = {0};
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    HB_TRY(hb_format(inside, sizeof inside, "prefix", err, "%s/", s->prefix));
    HB_TRY(hb_format(manifest, sizeof manifest, "key", err, "%s/backupmanifest.xml",
                     s->prefix));
    HB_TRY(find_markers(s, &m, err));
    HB_ENSURE(m.n_others == 0, HB_E_REFUSED, "another backup is being written to '%s' (marker "
              "'s3://%s/%s', of another machine or a running process); choose another prefix, "
              "or remove the marker once no backup is running there", s->url, s->bucket,
              m.other);
    for (size_t i = 0; i < m.stale.n; i++) {
        /* A killed run of this machine: never a complete backup (its
         * manifest would have been the last object), unless the kill came
         * after it; then the prefix is a backup and is left alone. */
        s3_req probe;
        req_init(&probe, "HEAD", manifest, "read");
        hb_err ignored;
        st = s3_request(s, s->h, &probe, &ignored);
        hb_buf_free(&probe.resp);
        if (st == HB_E_NOT_FOUND) {
            unsigned aborted = 0;
            HB_TRY(abort_uploads(s, inside, &aborted, err));
            HB_TRY(list_keys(s, inside, delete_key, NULL, err));
        }
        st = HB_OK;
        HB_TRY(simple(s, "DELETE", m.stale.items[i], NULL, "remove", err));
        s->stale_removed++;
    }
    HB_TRY(list_keys(s, inside, count_key, &n, err));
    HB_ENSURE(n == 0, HB_E_REFUSED, "destination '%s' is not empty (%zu object(s) under it); "
              "a backup never overwrites objects: choose a new prefix", s->url, n);
    HB_TRY(hb_format(marker, sizeof marker, "key", err, "%s%ld", m.mine, (long)getpid()));
    HB_TRY(simple(s, "PUT", marker, NULL, "write", err));
    memcpy(s->marker, marker, sizeof marker);
    /* Two writers that began at the same moment both see the other's
     * marker now: both give up, neither overwrites the other. */
    HB_TRY(find_markers(s, &m, err));
    HB_ENSURE(m.n_others == 0 && m.stale.n == 0, HB_E_REFUSED, "another backup began writing "
              "to '%s' at the same moment (marker 's3://%s/%s'); choose another prefix",
              s->url, s->bucket, m.other);
cleanup:
    hb_strlist_free(&m.stale);
    pthread_mutex_unlock(&s->lock);
    return st;
}

hb_status hb_s3_put(hb_s3 *s, const char *name, hb_s3_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_s3_writer *w = calloc(1, sizeof *w);
    HB_ALLOC(w);
    w->s = s;
    hb_buf_init(&w->complete, 1u << 20);
    HB_ENSURE(s->marker[0] != '\0', HB_E_USAGE, "hb_store_put: hb_store_begin not called");
    HB_ENSURE(strchr(name, '/') == NULL && name[0] != '.' && name[0] != '\0', HB_E_USAGE,
              "'%s' is not a file name of a backup", name);
    HB_TRY(hb_format(w->name, sizeof w->name, "name", err, "%s", name));
    HB_TRY(hb_format(w->key, sizeof w->key, "key", err, "%s/%s", s->prefix, name));
    w->buf = malloc(S3_PART);
    HB_ALLOC(w->buf);
    w->h = curl_easy_init();
    HB_ENSURE(w->h != NULL, HB_E_INTERNAL, "out of memory (libcurl handle)");
    *out = w;
    w = NULL;
cleanup:
    hb_s3_put_abort(w);
    return st;
}

/* Upload w->buf[0..used) as the next part, starting the upload first. */
static hb_status send_part(hb_s3_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    char query[1200], eid[1600], upload[S3_KEY_MAX];
    s3_req q;
    req_init(&q, "POST", w->key, "start the upload of");
    if (w->upload_id[0] == '\0') {
        q.query = "uploads=";
        q.lock = true;
        HB_TRY(s3_request(w->s, w->h, &q, err));
        HB_ENSURE(xml_text(hb_buf_str(&q.resp), NULL, "UploadId", upload, sizeof upload) &&
                  upload[0] != '\0' && strlen(upload) < sizeof w->upload_id, HB_E_IO,
                  "cannot start the upload of '%s': %s answered no upload id", w->key,
                  w->s->endpoint);
        memcpy(w->upload_id, upload, strlen(upload) + 1);
        HB_TRY(hb_buf_adds(&w->complete, "<CompleteMultipartUpload>", err));
    }
    HB_TRY(encode(w->upload_id, false, eid, sizeof eid, err));
    HB_TRY(hb_format(query, sizeof query, "query", err, "partNumber=%u&uploadId=%s",
                     w->parts + 1, eid));
    hb_buf_free(&q.resp);
    req_init(&q, "PUT", w->key, "upload");
    q.query = query;
    q.body = w->buf;
    q.body_len = w->used;
    HB_TRY(s3_request(w->s, w->h, &q, err));
    HB_ENSURE(q.etag[0] != '\0' && strchr(q.etag, '<') == NULL && strchr(q.etag, '&') == NULL,
              HB_E_IO, "cannot upload '%s': %s answered a part without a usable ETag", w->key,
              w->s->endpoint);
    w->parts++;
    HB_TRY(hb_buf_addf(&w->complete, err, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag>"
                       "</Part>", w->parts, q.etag));
    w->used = 0;
    /* Test hook (tests/e2e/remote_s3.sh): killed once a part is on the
     * server, with the multipart upload unfinished. */
    hb_fault_point("s3-kill-upload");
cleanup:
    hb_buf_free(&q.resp);
    return st;
}

hb_status hb_s3_write(void *writer, const uint8_t *buf, size_t len, hb_err *err)
{
    hb_status st = HB_OK;
    hb_s3_writer *w = writer;
    while (len > 0) {
        size_t n = S3_PART - w->used < len ? S3_PART - w->used : len;
        memcpy(w->buf + w->used, buf, n);
        w->used += n;
        buf += n;
        len -= n;
        if (w->used == S3_PART)
            HB_TRY(send_part(w, err));
    }
cleanup:
    return st;
}

/* RGW 16 ignores the lock headers of a multipart upload's start: the
 * retention is set on the completed object (the same date, which S3 allows
 * also in compliance mode). */
static hb_status set_retention(hb_s3_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    hb_buf doc = HB_BUF_INIT(1024);
    s3_req q;
    req_init(&q, "PUT", w->key, "lock");
    HB_TRY(hb_buf_addf(&doc, err, "<Retention><Mode>%s</Mode><RetainUntilDate>%s"
                       "</RetainUntilDate></Retention>", w->s->lock_mode, w->s->lock_until));
    q.query = "retention=";
    q.md5 = true;
    q.body = (const uint8_t *)doc.data;
    q.body_len = doc.len;
    HB_TRY(s3_request(w->s, w->h, &q, err));
cleanup:
    hb_buf_free(&q.resp);
    hb_buf_free(&doc);
    return st;
}

hb_status hb_s3_put_commit(hb_s3_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    hb_s3 *s = w->s;
    char query[1700], eid[1600];
    s3_req q;
    req_init(&q, "PUT", w->key, "upload");
    if (w->upload_id[0] == '\0') {
        /* Smaller than a part: one PUT. */
        q.lock = true;
        q.body = w->buf;
        q.body_len = w->used;
        HB_TRY(s3_request(s, w->h, &q, err));
    } else {
        if (w->used > 0)
            HB_TRY(send_part(w, err));
        HB_TRY(hb_buf_adds(&w->complete, "</CompleteMultipartUpload>", err));
        HB_TRY(encode(w->upload_id, false, eid, sizeof eid, err));
        HB_TRY(hb_format(query, sizeof query, "query", err, "uploadId=%s", eid));
        q.method = "POST";
        q.what = "complete the upload of";
        q.query = query;
        q.body = (const uint8_t *)w->complete.data;
        q.body_len = w->complete.len;
        HB_TRY(s3_request(s, w->h, &q, err));
        /* S3 may answer 200 with an error document to a completion. */
        char code[128];
        if (xml_text(hb_buf_str(&q.resp), NULL, "Code", code, sizeof code) &&
            strstr(hb_buf_str(&q.resp), "<Error>") != NULL)
            HB_FAIL(HB_E_IO, "cannot complete the upload of 's3://%s/%s' at %s: %s",
                    s->bucket, w->key, s->endpoint, code);
        w->upload_id[0] = '\0';
        if (s->lock_mode[0] != '\0')
            HB_TRY(set_retention(w, err));
    }
    pthread_mutex_lock(&s->lock);
    st = hb_strlist_add(&s->written, w->key, err);
    pthread_mutex_unlock(&s->lock);
cleanup:
    hb_buf_free(&q.resp);
    hb_s3_put_abort(w);
    return st;
}

void hb_s3_put_abort(hb_s3_writer *w)
{
    if (w == NULL)
        return;
    if (w->upload_id[0] != '\0' && w->h != NULL) {
        char query[1700], eid[1600];
        hb_err ignored;
        s3_req q;
        req_init(&q, "DELETE", w->key, "abort the upload of");
        q.query = query;
        if (encode(w->upload_id, false, eid, sizeof eid, &ignored) == HB_OK &&
            hb_format(query, sizeof query, "query", &ignored, "uploadId=%s", eid) == HB_OK &&
            s3_request(w->s, w->h, &q, &ignored) != HB_OK) {
            /* Left for the next backup's stale cleanup (docs/remote.md). */
        }
        hb_buf_free(&q.resp);
    }
    if (w->h != NULL)
        curl_easy_cleanup(w->h);
    if (w->buf != NULL) {
        OPENSSL_cleanse(w->buf, S3_PART);
        free(w->buf);
    }
    hb_buf_free(&w->complete);
    free(w);
}

hb_status hb_s3_finish(hb_s3 *s, hb_err *err)
{
    hb_status st = HB_OK;
    pthread_mutex_lock(&s->lock);
    /* The manifest, uploaded last, was the commit point; the marker only
     * said that a backup was being written. A marker left behind (this
     * fails) is removed by the next backup to this prefix. */
    s->finished = true;
    if (simple(s, "DELETE", s->marker, NULL, "remove", err) == HB_OK)
        s->marker[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    return st;
}

const char *hb_s3_location(const hb_s3 *s)
{
    return s->url;
}

unsigned hb_s3_stale_removed(const hb_s3 *s)
{
    return s->stale_removed;
}

/* ---- reading ---------------------------------------------------------------- */

hb_status hb_s3_stat(hb_s3 *s, const char *name, uint64_t *size, bool *regular, hb_err *err)
{
    hb_status st = HB_OK;
    char key[S3_KEY_MAX + 256] = "";
    s3_req q;
    req_init(&q, "HEAD", key, "read");
    HB_ENSURE(strchr(name, '/') == NULL, HB_E_USAGE, "'%s' is not a file name of a backup",
              name);
    HB_TRY(hb_format(key, sizeof key, "key", err, "%s/%s", s->prefix, name));
    pthread_mutex_lock(&s->lock);
    st = s3_request(s, s->h, &q, err);
    pthread_mutex_unlock(&s->lock);
    HB_TRY(st);
    *size = q.length;
    *regular = true;
cleanup:
    hb_buf_free(&q.resp);
    return st;
}

hb_status hb_s3_get(hb_s3 *s, const char *name, hb_s3_reader **out, hb_err *err)
{
    hb_status st = HB_OK;
    s3_req q;
    hb_s3_reader *r = calloc(1, sizeof *r);
    req_init(&q, "HEAD", NULL, "open");
    HB_ALLOC(r);
    r->s = s;
    HB_ENSURE(strchr(name, '/') == NULL, HB_E_USAGE, "'%s' is not a file name of a backup",
              name);
    HB_TRY(hb_format(r->key, sizeof r->key, "key", err, "%s/%s", s->prefix, name));
    r->h = curl_easy_init();
    HB_ENSURE(r->h != NULL, HB_E_INTERNAL, "out of memory (libcurl handle)");
    q.key = r->key;
    HB_TRY(s3_request(s, r->h, &q, err));
    HB_ENSURE(q.etag[0] != '\0', HB_E_IO, "cannot open 's3://%s/%s' at %s: no ETag in the "
              "answer", s->bucket, r->key, s->endpoint);
    memcpy(r->etag, q.etag, sizeof r->etag);
    r->size = q.length;
    r->buf = malloc(S3_RANGE);
    HB_ALLOC(r->buf);
    *out = r;
    r = NULL;
cleanup:
    hb_buf_free(&q.resp);
    hb_s3_reader_free(r);
    return st;
}

hb_status hb_s3_read(void *reader, uint8_t *buf, size_t cap, size_t *got, hb_err *err)
{
    hb_status st = HB_OK;
    hb_s3_reader *r = reader;
    char range[64];
    s3_req q;
    req_init(&q, "GET", r->key, "read");
    *got = 0;
    if (r->pos == r->len && r->off < r->size) {
        /* The next range of the object as it was opened: If-Match makes a
         * replaced object fail instead of mixing two versions. */
        uint64_t want = r->size - r->off < S3_RANGE ? r->size - r->off : S3_RANGE;
        HB_TRY(hb_format(range, sizeof range, "range", err, "%llu-%llu",
                         (unsigned long long)r->off, (unsigned long long)(r->off + want - 1)));
        q.range = range;
        q.if_match = r->etag;
        q.into = r->buf;
        q.into_cap = S3_RANGE;
        st = s3_request(r->s, r->h, &q, err);
        if (q.status == 412)
            HB_FAIL(HB_E_VERIFY, "'s3://%s/%s' changed on the server while it was read",
                    r->s->bucket, r->key);
        HB_TRY(st);
        HB_ENSURE(q.into_len == want, HB_E_IO, "cannot read 's3://%s/%s' at %s: %zu bytes "
                  "came for a range of %llu", r->s->bucket, r->key, r->s->endpoint, q.into_len,
                  (unsigned long long)want);
        r->off += want;
        r->pos = 0;
        r->len = q.into_len;
    }
    size_t n = r->len - r->pos < cap ? r->len - r->pos : cap;
    memcpy(buf, r->buf + r->pos, n);
    r->pos += n;
    *got = n;
cleanup:
    hb_buf_free(&q.resp);
    return st;
}

void hb_s3_reader_free(hb_s3_reader *r)
{
    if (r == NULL)
        return;
    if (r->h != NULL)
        curl_easy_cleanup(r->h);
    free(r->buf);
    free(r);
}

typedef struct names {
    hb_store_name_fn fn;
    void *ctx;
    size_t skip;
} names;

static hb_status give_name(hb_s3 *s, void *ctx, const char *key, hb_err *err)
{
    (void)s;
    names *n = ctx;
    return n->fn(n->ctx, key + n->skip, err);
}

hb_status hb_s3_list(hb_s3 *s, hb_store_name_fn fn, void *ctx, hb_err *err)
{
    hb_status st = HB_OK;
    char inside[S3_KEY_MAX + 2];
    names n = {fn, ctx, strlen(s->prefix) + 1};
    HB_TRY(hb_format(inside, sizeof inside, "prefix", err, "%s/", s->prefix));
    pthread_mutex_lock(&s->lock);
    st = list_keys(s, inside, give_name, &n, err);
    pthread_mutex_unlock(&s->lock);
cleanup:
    return st;
}

void hb_s3_free(hb_s3 *s)
{
    if (s == NULL)
        return;
    if (s->h != NULL && s->marker[0] != '\0') {
        hb_err ignored;
        /* An unfinished backup: what it published goes, then its marker. */
        for (size_t i = 0; !s->finished && i < s->written.n; i++)
            (void)simple(s, "DELETE", s->written.items[i], NULL, "remove", &ignored);
        (void)simple(s, "DELETE", s->marker, NULL, "remove", &ignored);
    }
    if (s->h != NULL)
        curl_easy_cleanup(s->h);
    if (s->userpwd != NULL) {
        OPENSSL_cleanse(s->userpwd, strlen(s->userpwd));
        free(s->userpwd);
    }
    if (s->token_header != NULL) {
        OPENSSL_cleanse(s->token_header, strlen(s->token_header));
        free(s->token_header);
    }
    hb_strlist_free(&s->written);
    if (s->lock_made)
        pthread_mutex_destroy(&s->lock);
    free(s);
}
