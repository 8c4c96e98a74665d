/* The SFTP backend of storage.h (libssh; docs/remote.md): a backup is a
 * directory on the server, with the same files and the same promises as the
 * local one (local.c). It is built under a hidden partial name beside its
 * destination (.BASE.hsmbak-partial-MACHINE-PID); each file is streamed to
 * NAME.part in it and renamed to NAME once written and synced; the directory
 * is renamed to its final name only after the manifest, the commit point.
 * An interrupted backup leaves at most the hidden partial directory, which
 * holds no manifest under its final name and is never taken for a backup;
 * the next backup from this machine removes those whose process is gone.
 *
 * Strict host-key checking: only a key the known_hosts file lists for this
 * host and port is accepted (never the global file); unknown and changed keys
 * are refused, naming the host and the key's SHA-256 fingerprint. Login is by
 * public key only, from an identity file nobody else may read.
 *
 * One SSH session per store; the archive workers write concurrently, so
 * every libssh call on it is made under the store's lock. */
#include "backup/storage/backend.h"

#include "common/buf.h"
#include "common/encode.h"
#include "common/fileio.h"
#include "common/fail.h"
#include "common/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

/* OpenSSH drops the connection on an sftp_write of 256 KiB or more. */
#define SFTP_CHUNK (128 * 1024)
#define IDENTITY_CAP (64 * 1024)

struct hb_sftp {
    char url[PATH_MAX];      /* as shown: sftp://[USER@]HOST[:PORT]/PATH */
    char host[256];
    char user[128];          /* "" : the local user name */
    unsigned port;
    char path[PATH_MAX];     /* the backup directory on the server, absolute */
    char parent[PATH_MAX];
    char base[NAME_MAX + 1];
    char partial[PATH_MAX];  /* "" until made, and once renamed */
    unsigned stale_removed;
    ssh_session ssh;
    sftp_session sftp;
    pthread_mutex_t lock;
    bool lock_made;
};

struct hb_sftp_writer {
    hb_sftp *s;
    sftp_file f;
    char part[PATH_MAX];     /* PARTIAL/NAME.part, renamed to final on commit */
    char final[PATH_MAX];
    size_t used;
    uint8_t buf[SFTP_CHUNK];
};

/* Reads are pipelined: up to READ_AHEAD requests of READ_REQ bytes in
 * flight (one synchronous request per round trip made restoring 100 MB take
 * about 3 s). libssh sets each request's offset when it is sent, so a short
 * reply must be the end of the file: any data after one is refused. */
#define READ_AHEAD 16
#define READ_REQ (64 * 1024)

struct hb_sftp_reader {
    hb_sftp *s;
    sftp_file f;
    char path[PATH_MAX];
    uint32_t ids[READ_AHEAD];  /* in flight, oldest at head */
    size_t head, pending;
    bool ended;                /* a short or empty reply came: send no more */
    size_t off, len;           /* unread bytes of buf */
    uint8_t buf[READ_REQ];
};

/* ---- the URL ------------------------------------------------------------- */

/* sftp://[USER@]HOST[:PORT]/PATH, HOST a name, an IPv4 address or [IPv6].
 * PATH is absolute on the server and names the backup directory. */
static hb_status parse_url(hb_sftp *s, const char *url, hb_err *err)
{
    hb_status st = HB_OK;
    const char *p = url + strlen("sftp://");
    const char *slash = strchr(p, '/');
    const char *at, *host, *host_end, *colon = NULL;
    HB_TRY(hb_format(s->url, sizeof s->url, "URL", err, "%s", url));
    HB_ENSURE(slash != NULL, HB_E_USAGE, "'%s' has no path: write sftp://[USER@]HOST[:PORT]"
              "/PATH", url);
    at = memchr(p, '@', (size_t)(slash - p));
    host = p;
    if (at != NULL) {
        HB_ENSURE(memchr(p, ':', (size_t)(at - p)) == NULL, HB_E_USAGE, "'%s': a password in "
                  "the URL is not accepted (it would show in the process list and in logs); "
                  "log in with a key (--ssh-identity)", "sftp://...");
        HB_ENSURE(at > p && (size_t)(at - p) < sizeof s->user, HB_E_USAGE, "'%s' has an empty "
                  "or too long user name", url);
        memcpy(s->user, p, (size_t)(at - p));
        host = at + 1;
    }
    if (*host == '[') {
        host_end = memchr(host, ']', (size_t)(slash - host));
        HB_ENSURE(host_end != NULL, HB_E_USAGE, "'%s': '[' without ']' in the host", url);
        host++;
        if (host_end + 1 < slash) {
            HB_ENSURE(host_end[1] == ':', HB_E_USAGE, "'%s': unexpected text after ']'", url);
            colon = host_end + 1;
        }
    } else {
        colon = memchr(host, ':', (size_t)(slash - host));
        host_end = colon != NULL ? colon : slash;
    }
    HB_ENSURE(host_end > host && (size_t)(host_end - host) < sizeof s->host, HB_E_USAGE,
              "'%s' has an empty or too long host name", url);
    memcpy(s->host, host, (size_t)(host_end - host));
    s->port = 22;
    if (colon != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long port = strtoul(colon + 1, &end, 10);
        HB_ENSURE(errno == 0 && end == slash && end > colon + 1 && port >= 1 && port <= 65535,
                  HB_E_USAGE, "'%s': the port must be a number from 1 to 65535", url);
        s->port = (unsigned)port;
    }
    HB_TRY(hb_format(s->path, sizeof s->path, "path", err, "%s", slash));
    size_t n = strlen(s->path);
    while (n > 1 && s->path[n - 1] == '/')
        s->path[--n] = '\0';
    const char *last = strrchr(s->path, '/');
    HB_ENSURE(last[1] != '\0' && strcmp(last + 1, ".") != 0 && strcmp(last + 1, "..") != 0,
              HB_E_USAGE, "'%s' names no directory on the server: write sftp://[USER@]HOST"
              "[:PORT]/PATH/NAME", url);
    HB_ENSURE(strstr(s->path, "/../") == NULL, HB_E_USAGE, "'%s': '..' is not allowed in the "
              "path", url);
    HB_TRY(hb_format(s->base, sizeof s->base, "name", err, "%s", last + 1));
    if (last == s->path)
        HB_TRY(hb_format(s->parent, sizeof s->parent, "path", err, "/"));
    else
        HB_TRY(hb_format(s->parent, sizeof s->parent, "path", err, "%.*s",
                         (int)(last - s->path), s->path));
cleanup:
    return st;
}

/* ---- connecting ---------------------------------------------------------- */

/* The host as known_hosts names it: HOST, or [HOST]:PORT off port 22
 * (out is large enough for any host parse_url takes). */
static void known_name(const hb_sftp *s, char *out, size_t cap)
{
    hb_err ignored;
    hb_status st = s->port == 22 ? hb_format(out, cap, "host", &ignored, "%s", s->host)
                                 : hb_format(out, cap, "host", &ignored, "[%s]:%u", s->host,
                                             s->port);
    if (st != HB_OK)
        out[0] = '\0';
}

static hb_status home_file(const char *rel, char *out, size_t cap, hb_err *err)
{
    const char *home = getenv("HOME");
    if (home == NULL || *home == '\0')
        return hb_fail(err, HB_E_USAGE, "HOME is not set: give the file with an option "
                       "(--ssh-identity, --ssh-known-hosts)");
    return hb_format(out, cap, "path", err, "%s/%s", home, rel);
}

/* The server's key against the known_hosts file: only SSH_KNOWN_HOSTS_OK. */
static hb_status check_host_key(hb_sftp *s, const char *known_hosts, hb_err *err)
{
    hb_status st = HB_OK;
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL, name[300];
    known_name(s, name, sizeof name);
    HB_ENSURE(ssh_get_server_publickey(s->ssh, &key) == SSH_OK &&
              ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0 &&
              (fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen)) != NULL,
              HB_E_INTERNAL, "'%s': cannot read the server's host key: %s", s->url,
              ssh_get_error(s->ssh));
    const char *type = ssh_key_type_to_char(ssh_key_type(key));
    enum ssh_known_hosts_e known = ssh_session_is_known_server(s->ssh);
    switch (known) {
    case SSH_KNOWN_HOSTS_OK:
        break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
        HB_FAIL(HB_E_AUTH, "the host key of %s has CHANGED: the server offers %s %s, which is "
                "not the key '%s' lists for it (someone may be intercepting the connection); "
                "nothing was sent. If the server's key was replaced on purpose, remove the old "
                "line with 'ssh-keygen -R \"%s\" -f %s' and add the new one after checking its "
                "fingerprint", name, type, fp, known_hosts, name, known_hosts);
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
        HB_FAIL(HB_E_AUTH, "the host key of %s (%s %s) is not in the known hosts file '%s'%s; "
                "nothing was sent. Check the fingerprint with the server's administrator, then "
                "add it, e.g. 'ssh-keyscan -p %u %s >> %s'", name, type, fp, known_hosts,
                access(known_hosts, F_OK) != 0 ? " (no such file)" : "", s->port, s->host,
                known_hosts);
    case SSH_KNOWN_HOSTS_ERROR:
    default:
        HB_FAIL(HB_E_IO, "cannot check the host key of %s against '%s': %s", name, known_hosts,
                ssh_get_error(s->ssh));
    }
cleanup:
    ssh_string_free_char(fp);
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(key);
    return st;
}

/* The identity file: the option's, else ~/.ssh/id_ed25519, else id_rsa. */
static hb_status identity_path(const hb_store_remote *opts, char *out, size_t cap, hb_err *err)
{
    if (opts != NULL && opts->ssh_identity != NULL)
        return hb_format(out, cap, "path", err, "%s", opts->ssh_identity);
    hb_status st = home_file(".ssh/id_ed25519", out, cap, err);
    if (st != HB_OK || access(out, F_OK) == 0)
        return st;
    st = home_file(".ssh/id_rsa", out, cap, err);
    if (st != HB_OK || access(out, F_OK) == 0)
        return st;
    return hb_fail(err, HB_E_NOT_FOUND, "no SSH identity: neither ~/.ssh/id_ed25519 nor "
                   "~/.ssh/id_rsa exists; give the private key file with --ssh-identity PATH");
}

/* Read the private key from path, refused (as PIN files are) when it is not
 * a regular file or group or others may access it. Wiped after use. */
static hb_status load_identity(const char *path, ssh_key *key, hb_err *err)
{
    hb_status st = HB_OK;
    struct stat sb;
    char *text = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    HB_ENSURE(fd >= 0, errno == ENOENT ? HB_E_NOT_FOUND : HB_E_IO, "cannot open SSH identity "
              "file '%s': %s", path, strerror(errno));
    HB_ENSURE(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), HB_E_AUTH, "SSH identity file '%s' "
              "is not a regular file", path);
    HB_ENSURE((sb.st_mode & 077) == 0, HB_E_AUTH, "SSH identity file '%s' is accessible by "
              "group or others (mode %04o); make it private with 'chmod 600 %s'", path,
              (unsigned)(sb.st_mode & 07777), path);
    text = calloc(1, IDENTITY_CAP + 1);
    HB_ALLOC(text);
    for (;;) {
        ssize_t n = read(fd, text + len, IDENTITY_CAP - len);
        if (n < 0 && errno == EINTR)
            continue;
        HB_ENSURE(n >= 0, HB_E_IO, "cannot read SSH identity file '%s': %s", path,
                  strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
        HB_ENSURE(len < IDENTITY_CAP, HB_E_REFUSED, "SSH identity file '%s' is larger than "
                  "%d bytes: not a private key", path, IDENTITY_CAP);
    }
    HB_ENSURE(ssh_pki_import_privkey_base64(text, NULL, NULL, NULL, key) == SSH_OK, HB_E_AUTH,
              "SSH identity file '%s' is not a private key this program can use (a "
              "passphrase-protected key is not supported yet)", path);
cleanup:
    if (text != NULL)
        OPENSSL_cleanse(text, IDENTITY_CAP);
    free(text);
    if (fd >= 0)
        close(fd);
    return st;
}

static hb_status connect_and_login(hb_sftp *s, const hb_store_remote *opts, hb_err *err)
{
    hb_status st = HB_OK;
    char identity[PATH_MAX], known[PATH_MAX];
    ssh_key key = NULL;
    int nodelay = 1;
    long timeout = 30;
    bool no_config = false;
    /* The identity first: a file others may read is refused before any
     * connection is made. */
    HB_TRY(identity_path(opts, identity, sizeof identity, err));
    HB_TRY(load_identity(identity, &key, err));
    if (opts != NULL && opts->ssh_known_hosts != NULL)
        HB_TRY(hb_format(known, sizeof known, "path", err, "%s", opts->ssh_known_hosts));
    else
        HB_TRY(home_file(".ssh/known_hosts", known, sizeof known, err));
    s->ssh = ssh_new();
    HB_ENSURE(s->ssh != NULL, HB_E_INTERNAL, "out of memory (libssh session)");
    HB_ENSURE(ssh_options_set(s->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no_config) == 0 &&
              ssh_options_set(s->ssh, SSH_OPTIONS_HOST, s->host) == 0 &&
              ssh_options_set(s->ssh, SSH_OPTIONS_PORT, &s->port) == 0 &&
              (s->user[0] == '\0' || ssh_options_set(s->ssh, SSH_OPTIONS_USER, s->user) == 0) &&
              ssh_options_set(s->ssh, SSH_OPTIONS_NODELAY, &nodelay) == 0 &&
              ssh_options_set(s->ssh, SSH_OPTIONS_TIMEOUT, &timeout) == 0 &&
              ssh_options_set(s->ssh, SSH_OPTIONS_KNOWNHOSTS, known) == 0 &&
              ssh_options_set(s->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") == 0,
              HB_E_USAGE, "'%s': %s", s->url, ssh_get_error(s->ssh));
    HB_ENSURE(ssh_connect(s->ssh) == SSH_OK, HB_E_IO, "cannot connect to %s port %u for '%s': "
              "%s", s->host, s->port, s->url, ssh_get_error(s->ssh));
    HB_TRY(check_host_key(s, known, err));
    int rc = ssh_userauth_publickey(s->ssh, NULL, key);
    HB_ENSURE(rc == SSH_AUTH_SUCCESS, rc == SSH_AUTH_ERROR ? HB_E_IO : HB_E_AUTH,
              "%s refused to log in%s%s with the key in '%s'%s%s; add its public key to the "
              "user's ~/.ssh/authorized_keys on the server, or give another with "
              "--ssh-identity", s->host, s->user[0] ? " as " : "", s->user, identity,
              rc == SSH_AUTH_ERROR ? ": " : "", rc == SSH_AUTH_ERROR ? ssh_get_error(s->ssh)
                                                                      : "");
    s->sftp = sftp_new(s->ssh);
    HB_ENSURE(s->sftp != NULL && sftp_init(s->sftp) == SSH_OK, HB_E_IO, "%s offers no SFTP "
              "service for '%s': %s", s->host, s->url, ssh_get_error(s->ssh));
cleanup:
    ssh_key_free(key);
    return st;
}

hb_status hb_sftp_open(const char *url, const hb_store_remote *opts, hb_sftp **out,
                       hb_err *err)
{
    hb_status st = HB_OK;
    hb_sftp *s = calloc(1, sizeof *s);
    HB_ALLOC(s);
    HB_ENSURE(pthread_mutex_init(&s->lock, NULL) == 0, HB_E_INTERNAL, "cannot make a lock");
    s->lock_made = true;
    HB_TRY(parse_url(s, url, err));
    HB_TRY(connect_and_login(s, opts, err));
    *out = s;
    s = NULL;
cleanup:
    hb_sftp_free(s);
    return st;
}

/* ---- messages ------------------------------------------------------------ */

static const char *sftp_why(hb_sftp *s)
{
    switch (sftp_get_error(s->sftp)) {
    case SSH_FX_NO_SUCH_FILE:
        return "no such file or directory";
    case SSH_FX_PERMISSION_DENIED:
        return "permission denied";
    case SSH_FX_FILE_ALREADY_EXISTS:
        return "it exists";
    case SSH_FX_FAILURE:
        return "the server refused (it may exist already)";
    default:
        break;
    }
    if (ssh_is_connected(s->ssh) == 0)
        return "the connection to the server was lost";
    const char *e = ssh_get_error(s->ssh);
    return e != NULL && *e != '\0' ? e : "the server refused";
}

/* A message naming the path on the server as a URL. */
#define SFTP_FAIL(code, s, what, path)                                                        \
    HB_FAIL((code), "cannot %s 'sftp://%s%s%s:%u%s': %s", (what), (s)->user,                  \
            (s)->user[0] ? "@" : "", (s)->host, (s)->port, (path), sftp_why(s))

static hb_status sftp_status(hb_sftp *s)
{
    int e = sftp_get_error(s->sftp);
    return e == SSH_FX_NO_SUCH_FILE ? HB_E_NOT_FOUND
           : e == SSH_FX_PERMISSION_DENIED ? HB_E_AUTH
           : e == SSH_FX_FILE_ALREADY_EXISTS || e == SSH_FX_FAILURE ? HB_E_REFUSED : HB_E_IO;
}

/* ---- writing ------------------------------------------------------------- */

/* Remove a flat directory (a partial backup) on the server; best effort. */
static void remove_remote_dir(hb_sftp *s, const char *dir)
{
    sftp_dir d = sftp_opendir(s->sftp, dir);
    if (d != NULL) {
        sftp_attributes a;
        char path[PATH_MAX];
        while ((a = sftp_readdir(s->sftp, d)) != NULL) {
            hb_err ignored;
            if (strcmp(a->name, ".") != 0 && strcmp(a->name, "..") != 0 &&
                hb_path_join(path, sizeof path, dir, a->name, &ignored) == HB_OK)
                (void)sftp_unlink(s->sftp, path);
            sftp_attributes_free(a);
        }
        sftp_closedir(d);
    }
    (void)sftp_rmdir(s->sftp, dir);
}

/* True when dir on the server has no entries. */
static bool remote_dir_is_empty(hb_sftp *s, const char *dir)
{
    sftp_dir d = sftp_opendir(s->sftp, dir);
    if (d == NULL)
        return false;
    bool empty = true;
    sftp_attributes a;
    while (empty && (a = sftp_readdir(s->sftp, d)) != NULL) {
        empty = strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0;
        sftp_attributes_free(a);
    }
    sftp_closedir(d);
    return empty;
}

/* mkdir -p of dir on the server, 0700 for what is made. */
static hb_status remote_mkdirs(hb_sftp *s, const char *dir, hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    HB_TRY(hb_format(path, sizeof path, "path", err, "%s", dir));
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        sftp_attributes a = sftp_stat(s->sftp, path);
        if (a == NULL) {
            if (sftp_mkdir(s->sftp, path, 0700) != 0)
                SFTP_FAIL(sftp_status(s), s, "create", path);
        } else {
            bool is_dir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
            sftp_attributes_free(a);
            HB_ENSURE(is_dir, HB_E_REFUSED, "'sftp://%s%s%s:%u%s' is not a directory", s->user,
                      s->user[0] ? "@" : "", s->host, s->port, path);
        }
        *p = c;
        if (c == '\0')
            break;
    }
cleanup:
    return st;
}

/* A killed or cut-off backup of this machine leaves PREFIX-PID beside its
 * destination; remove those whose process is gone (a live one is another
 * backup; other machines' partials are theirs). The caller holds the lock. */
static unsigned remove_stale_partials(hb_sftp *s, const char *prefix)
{
    unsigned removed = 0;
    size_t n = strlen(prefix);
    char path[PATH_MAX];
    hb_err ignored;
    sftp_dir d = sftp_opendir(s->sftp, s->parent);
    if (d == NULL)
        return 0;
    sftp_attributes a;
    while ((a = sftp_readdir(s->sftp, d)) != NULL) {
        char *end = NULL;
        errno = 0;
        long pid = strncmp(a->name, prefix, n) == 0 ? strtol(a->name + n, &end, 10) : 0;
        if (pid > 0 && errno == 0 && *end == '\0' && pid != (long)getpid() &&
            kill((pid_t)pid, 0) != 0 && errno == ESRCH &&
            a->type == SSH_FILEXFER_TYPE_DIRECTORY &&
            hb_path_join(path, sizeof path, s->parent, a->name, &ignored) == HB_OK) {
            remove_remote_dir(s, path);
            removed++;
        }
        sftp_attributes_free(a);
    }
    sftp_closedir(d);
    return removed;
}

hb_status hb_sftp_begin(hb_sftp *s, hb_err *err)
{
    hb_status st = HB_OK;
    char prefix[NAME_MAX + 64];
    pthread_mutex_lock(&s->lock);
    sftp_attributes a = sftp_lstat(s->sftp, s->path);
    if (a != NULL) {
        bool is_dir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
        sftp_attributes_free(a);
        HB_ENSURE(is_dir, HB_E_REFUSED, "destination '%s' exists and is not a directory",
                  s->url);
        HB_ENSURE(remote_dir_is_empty(s, s->path), HB_E_REFUSED, "destination '%s' is not "
                  "empty; a backup never overwrites files: choose a new directory", s->url);
    } else if (sftp_get_error(s->sftp) != SSH_FX_NO_SUCH_FILE) {
        SFTP_FAIL(sftp_status(s), s, "read", s->path);
    }
    HB_TRY(remote_mkdirs(s, s->parent, err));
    HB_TRY(hb_format(prefix, sizeof prefix, "name", err, ".%s.hsmbak-partial-%s-", s->base,
                     hb_storage_machine_tag()));
    s->stale_removed = remove_stale_partials(s, prefix);
    HB_TRY(hb_format(s->partial, sizeof s->partial, "destination path", err,
                     "%s%s%s%ld", s->parent, strcmp(s->parent, "/") ? "/" : "", prefix,
                     (long)getpid()));
    remove_remote_dir(s, s->partial); /* a dead writer's, with our pid */
    if (sftp_mkdir(s->sftp, s->partial, 0700) != 0) {
        char made[PATH_MAX];
        memcpy(made, s->partial, sizeof made);
        s->partial[0] = '\0';
        SFTP_FAIL(sftp_status(s), s, "create", made);
    }
cleanup:
    pthread_mutex_unlock(&s->lock);
    return st;
}

hb_status hb_sftp_put(hb_sftp *s, const char *name, hb_sftp_writer **out, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sftp_writer *w = calloc(1, sizeof *w);
    HB_ALLOC(w);
    w->s = s;
    pthread_mutex_lock(&s->lock);
    HB_ENSURE(s->partial[0] != '\0', HB_E_USAGE, "hb_store_put: hb_store_begin not called");
    HB_ENSURE(strchr(name, '/') == NULL && name[0] != '.', HB_E_USAGE,
              "'%s' is not a file name of a backup", name);
    HB_TRY(hb_format(w->final, sizeof w->final, "path", err, "%s/%s", s->partial, name));
    HB_TRY(hb_format(w->part, sizeof w->part, "path", err, "%s/%s.part", s->partial, name));
    w->f = sftp_open(s->sftp, w->part, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (w->f == NULL)
        SFTP_FAIL(sftp_status(s), s, "create", w->part);
    *out = w;
    w = NULL;
cleanup:
    pthread_mutex_unlock(&s->lock);
    free(w);
    return st;
}

/* Send n bytes of buf (at most SFTP_CHUNK); the caller holds the lock. */
static hb_status send_chunk(hb_sftp_writer *w, const uint8_t *buf, size_t n, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sftp *s = w->s;
    while (n > 0) {
        ssize_t put = sftp_write(w->f, buf, n);
        if (put <= 0)
            SFTP_FAIL(HB_E_IO, s, "write", w->part);
        buf += put;
        n -= (size_t)put;
    }
    /* Test hook (tests/e2e/remote_sftp.sh): stop here, once bytes are on
     * the server, so that the test can cut the connection at this point. */
    static bool stopped; /* once; the caller holds the store's lock */
    const char *fault = getenv("HSMBAK_FAULT");
    if (!stopped && fault != NULL && strcmp(fault, "sftp-stop-upload") == 0) {
        stopped = true;
        raise(SIGSTOP);
    }
    hb_fault_point("sftp-kill-upload");
cleanup:
    return st;
}

hb_status hb_sftp_write(void *writer, const uint8_t *buf, size_t len, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sftp_writer *w = writer;
    pthread_mutex_lock(&w->s->lock);
    while (len > 0) {
        if (w->used == 0 && len >= SFTP_CHUNK) {
            HB_TRY(send_chunk(w, buf, SFTP_CHUNK, err));
            buf += SFTP_CHUNK;
            len -= SFTP_CHUNK;
            continue;
        }
        size_t n = SFTP_CHUNK - w->used < len ? SFTP_CHUNK - w->used : len;
        memcpy(w->buf + w->used, buf, n);
        w->used += n;
        buf += n;
        len -= n;
        if (w->used == SFTP_CHUNK) {
            HB_TRY(send_chunk(w, w->buf, w->used, err));
            w->used = 0;
        }
    }
cleanup:
    pthread_mutex_unlock(&w->s->lock);
    return st;
}

hb_status hb_sftp_put_commit(hb_sftp_writer *w, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sftp *s = w->s;
    pthread_mutex_lock(&s->lock);
    if (w->used > 0)
        HB_TRY(send_chunk(w, w->buf, w->used, err));
    w->used = 0;
    if (sftp_extension_supported(s->sftp, "fsync@openssh.com", "1") &&
        sftp_fsync(w->f) != 0)
        SFTP_FAIL(HB_E_IO, s, "sync", w->part);
    int rc = sftp_close(w->f);
    w->f = NULL;
    if (rc != 0)
        SFTP_FAIL(HB_E_IO, s, "write", w->part);
    /* OpenSSH renames a file by link and unlink: an existing name is never
     * replaced. */
    if (sftp_rename(s->sftp, w->part, w->final) != 0)
        SFTP_FAIL(sftp_status(s), s, "publish", w->final);
cleanup:
    pthread_mutex_unlock(&s->lock);
    if (st != HB_OK)
        hb_sftp_put_abort(w);
    else
        free(w);
    return st;
}

void hb_sftp_put_abort(hb_sftp_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->s->lock);
    if (w->f != NULL)
        sftp_close(w->f);
    (void)sftp_unlink(w->s->sftp, w->part);
    pthread_mutex_unlock(&w->s->lock);
    OPENSSL_cleanse(w->buf, sizeof w->buf);
    free(w);
}

hb_status hb_sftp_finish(hb_sftp *s, hb_err *err)
{
    hb_status st = HB_OK;
    pthread_mutex_lock(&s->lock);
    /* OpenSSH renames a directory only onto a name that does not exist:
     * an empty destination directory is removed first (rmdir refuses one
     * that gained entries meanwhile, and nothing is overwritten). */
    sftp_attributes a = sftp_lstat(s->sftp, s->path);
    if (a != NULL) {
        sftp_attributes_free(a);
        if (sftp_rmdir(s->sftp, s->path) != 0)
            HB_FAIL(HB_E_REFUSED, "cannot move the finished backup to '%s': it is not empty "
                    "any more (%s)", s->url, sftp_why(s));
    }
    if (sftp_rename(s->sftp, s->partial, s->path) != 0)
        HB_FAIL(sftp_status(s) == HB_E_IO ? HB_E_IO : HB_E_REFUSED, "cannot move the finished "
                "backup to '%s': %s", s->url, sftp_why(s));
    s->partial[0] = '\0';
cleanup:
    pthread_mutex_unlock(&s->lock);
    return st;
}

const char *hb_sftp_location(const hb_sftp *s)
{
    return s->url;
}

unsigned hb_sftp_stale_removed(const hb_sftp *s)
{
    return s->stale_removed;
}

/* ---- reading ------------------------------------------------------------- */

hb_status hb_sftp_get(hb_sftp *s, const char *name, hb_sftp_reader **out, hb_err *err)
{
    hb_status st = HB_OK;
    sftp_attributes a = NULL;
    hb_sftp_reader *r = calloc(1, sizeof *r);
    HB_ALLOC(r);
    r->s = s;
    pthread_mutex_lock(&s->lock);
    HB_ENSURE(strchr(name, '/') == NULL, HB_E_USAGE, "'%s' is not a file name of a backup",
              name);
    HB_TRY(hb_format(r->path, sizeof r->path, "path", err, "%s/%s", s->path, name));
    /* Not through a link: the file itself must be a regular file. */
    a = sftp_lstat(s->sftp, r->path);
    if (a == NULL)
        SFTP_FAIL(sftp_status(s), s, "open", r->path);
    HB_ENSURE(a->type == SSH_FILEXFER_TYPE_REGULAR, HB_E_IO, "cannot open '%s/%s': not a "
              "regular file", s->url, name);
    r->f = sftp_open(s->sftp, r->path, O_RDONLY, 0);
    if (r->f == NULL)
        SFTP_FAIL(sftp_status(s), s, "open", r->path);
    *out = r;
    r = NULL;
cleanup:
    sftp_attributes_free(a);
    pthread_mutex_unlock(&s->lock);
    hb_sftp_reader_free(r);
    return st;
}

/* The next reply into r->buf (r->len = 0 at the end); the lock is held. */
static hb_status next_reply(hb_sftp_reader *r, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sftp *s = r->s;
    while (!r->ended && r->pending < READ_AHEAD) {
        int id = sftp_async_read_begin(r->f, READ_REQ);
        if (id < 0)
            SFTP_FAIL(HB_E_IO, s, "read", r->path);
        r->ids[(r->head + r->pending++) % READ_AHEAD] = (uint32_t)id;
    }
    r->off = r->len = 0;
    if (r->pending == 0)
        goto cleanup;
    uint32_t id = r->ids[r->head];
    r->head = (r->head + 1) % READ_AHEAD;
    r->pending--;
    int n = sftp_async_read(r->f, r->buf, READ_REQ, id);
    if (n < 0)
        SFTP_FAIL(HB_E_IO, s, "read", r->path);
    HB_ENSURE(n == 0 || !r->ended, HB_E_IO, "cannot read '%s/%s': the server sent a short "
              "read before the end of the file", s->url, strrchr(r->path, '/') + 1);
    if (n < READ_REQ)
        r->ended = true;
    r->len = (size_t)n;
    /* After the end, the replies still in flight must be read (and empty). */
    if (n == 0 && r->pending > 0)
        HB_TRY(next_reply(r, err));
cleanup:
    return st;
}

hb_status hb_sftp_read(void *reader, uint8_t *buf, size_t cap, size_t *got, hb_err *err)
{
    hb_status st = HB_OK;
    hb_sftp_reader *r = reader;
    pthread_mutex_lock(&r->s->lock);
    if (r->off == r->len)
        HB_TRY(next_reply(r, err));
    size_t n = r->len - r->off < cap ? r->len - r->off : cap;
    memcpy(buf, r->buf + r->off, n);
    r->off += n;
    *got = n;
cleanup:
    pthread_mutex_unlock(&r->s->lock);
    return st;
}

void hb_sftp_reader_free(hb_sftp_reader *r)
{
    if (r == NULL)
        return;
    if (r->f != NULL) {
        pthread_mutex_lock(&r->s->lock);
        /* libssh keeps unread replies until they are read. */
        while (r->pending > 0 && ssh_is_connected(r->s->ssh)) {
            if (sftp_async_read(r->f, r->buf, READ_REQ, r->ids[r->head]) < 0)
                break;
            r->head = (r->head + 1) % READ_AHEAD;
            r->pending--;
        }
        sftp_close(r->f);
        pthread_mutex_unlock(&r->s->lock);
    }
    free(r);
}

hb_status hb_sftp_stat(hb_sftp *s, const char *name, uint64_t *size, bool *regular,
                       hb_err *err)
{
    hb_status st = HB_OK;
    char path[PATH_MAX];
    pthread_mutex_lock(&s->lock);
    HB_TRY(hb_format(path, sizeof path, "path", err, "%s/%s", s->path, name));
    sftp_attributes a = sftp_lstat(s->sftp, path);
    if (a == NULL)
        SFTP_FAIL(sftp_status(s), s, "read", path);
    *size = a->size;
    *regular = a->type == SSH_FILEXFER_TYPE_REGULAR;
    sftp_attributes_free(a);
cleanup:
    pthread_mutex_unlock(&s->lock);
    return st;
}

hb_status hb_sftp_list(hb_sftp *s, hb_store_name_fn fn, void *ctx, hb_err *err)
{
    hb_status st = HB_OK;
    sftp_attributes a = NULL;
    pthread_mutex_lock(&s->lock);
    sftp_dir d = sftp_opendir(s->sftp, s->path);
    if (d == NULL)
        SFTP_FAIL(sftp_status(s), s, "list", s->path);
    while ((a = sftp_readdir(s->sftp, d)) != NULL) {
        if (strcmp(a->name, ".") != 0 && strcmp(a->name, "..") != 0)
            HB_TRY(fn(ctx, a->name, err));
        sftp_attributes_free(a);
        a = NULL;
    }
    if (!sftp_dir_eof(d))
        SFTP_FAIL(HB_E_IO, s, "list", s->path);
cleanup:
    sftp_attributes_free(a);
    if (d != NULL)
        sftp_closedir(d);
    pthread_mutex_unlock(&s->lock);
    return st;
}

void hb_sftp_free(hb_sftp *s)
{
    if (s == NULL)
        return;
    if (s->sftp != NULL && s->partial[0] != '\0' && ssh_is_connected(s->ssh))
        remove_remote_dir(s, s->partial);
    if (s->sftp != NULL)
        sftp_free(s->sftp);
    if (s->ssh != NULL) {
        ssh_disconnect(s->ssh);
        ssh_free(s->ssh);
    }
    if (s->lock_made)
        pthread_mutex_destroy(&s->lock);
    free(s);
}
