/* Every command, in the order `hsmbak --help` and hsmbak(1) list them. */
#include "args.h"

const cli_spec *const cli_specs[] = {
    &cli_spec_token_list,
    &cli_spec_crypto_keygen,
    &cli_spec_crypto_certificate,
    &cli_spec_crypto_key,
    &cli_spec_crypto_idcred,
    &cli_spec_crypto_backup_signer,
    &cli_spec_crypto_trusted_signer,
    &cli_spec_crypto_show,
    &cli_spec_crypto_delete,
    &cli_spec_secure_backup,
    &cli_spec_secure_restore,
    &cli_spec_inspect,
    &cli_spec_dir,
    &cli_spec_factory_reset,
    &cli_spec_system_init,
    &cli_spec_ceremony_enroll,
    &cli_spec_ceremony_import_cert,
    &cli_spec_ceremony_retire,
    &cli_spec_ceremony_quorum,
    &cli_spec_ceremony_attest,
    &cli_spec_ceremony_verify_transcript,
    &cli_spec_ceremony_list,
};

const size_t cli_n_specs = sizeof cli_specs / sizeof cli_specs[0];
