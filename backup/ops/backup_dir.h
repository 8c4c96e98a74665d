/* A backup directory as restore and rotation read it (DESIGN §4): the
 * signed manifest, and the files it lists. */
#ifndef HSMBAK_OPS_BACKUP_DIR_H
#define HSMBAK_OPS_BACKUP_DIR_H

#include "backup/format/manifest.h"
#include "backup/storage/storage.h"
#include "backup/system/profile.h"

#include <openssl/x509.h>

/* Read DIR/backupmanifest.xml and verify its signature (hb_manifest_read);
 * *signer gets the certificate it was signed with. shown names the backup
 * in messages (the URL as the operator gave it). HB_E_NOT_FOUND: none. */
hb_status hb_backup_dir_manifest(const char *dir, const char *shown, hb_manifest **m,
                                 X509 **signer, hb_err *err) HB_MUST_CHECK;

/* File f is in dir as a regular file of its listed size (HB_E_VERIFY). */
hb_status hb_backup_dir_file_present(const char *dir, const hb_manifest_file *f,
                                     hb_err *err) HB_MUST_CHECK;

/* The "files" check: every file m lists is a resource of prof, named as its
 * compression says, present with its listed size and SHA-256; and dir holds
 * nothing but them and the manifest (HB_E_VERIFY naming the first that is
 * not so). */
hb_status hb_backup_dir_check_files(const char *dir, const hb_manifest *m,
                                    const hb_profile *prof, hb_err *err) HB_MUST_CHECK;

/* The same three, for a backup read through a store (a remote one:
 * sftp://), with the messages above; the "files" check reads every file
 * through to check its SHA-256. */
hb_status hb_backup_store_manifest(hb_store *s, const char *shown, hb_manifest **m,
                                   X509 **signer, hb_err *err) HB_MUST_CHECK;
hb_status hb_backup_store_file_present(hb_store *s, const hb_manifest_file *f,
                                       hb_err *err) HB_MUST_CHECK;
hb_status hb_backup_store_check_files(hb_store *s, const hb_manifest *m,
                                      const hb_profile *prof, hb_err *err) HB_MUST_CHECK;

#endif
