/* The audit line of a backup, validate or restore (backup/ops/audit.h). */
#include "backup/ops/audit.h"

#include "common/buf.h"
#include "common/x509.h"
#include "common/fail.h"

#include <stdio.h>

void hb_audit_backup_op(const char *op, hb_status st, const hb_err *err, const char *where,
                        const hb_manifest *m, X509 *signer, const char *idcred)
{
    hb_audit_line *l = hb_audit_begin(op, st);
    hb_err ignored;
    hb_audit_pair(l, "path", where);
    hb_audit_pair(l, "idcred", idcred);
    if (m != NULL) {
        char num[32];
        hb_audit_pair(l, "backup_id", m->id);
        hb_audit_pair(l, "created", m->created);
        hb_audit_pair(l, "system_version", m->version);
        if (hb_format(num, sizeof num, "count", &ignored, "%zu", m->n_files) == HB_OK)
            hb_audit_pair(l, "files", num);
        /* The list stops before a fingerprint that would not fit whole. */
        hb_buf list = HB_BUF_INIT(1024);
        for (size_t i = 0; i < m->n_recipients; i++)
            if (hb_buf_addf(&list, &ignored, "%ssha256:%s", i ? "," : "",
                            m->recipients[i].fingerprint) != HB_OK)
                break;
        hb_audit_pair(l, "recipients", hb_buf_str(&list));
        hb_buf_free(&list);
    }
    char fp[65], field[72];
    if (signer != NULL && hb_x509_fingerprint(signer, fp, &ignored) == HB_OK &&
        hb_format(field, sizeof field, "fingerprint", &ignored, "sha256:%s", fp) == HB_OK)
        hb_audit_pair(l, "signer", field);
    hb_audit_end(l, st, err);
}
