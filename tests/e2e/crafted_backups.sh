# Crafted backups (issue 6): validly encrypted to the recipients and signed by
# the trusted signer, but with one defect each (tests/tools/hbcraft.c). Each
# is refused by validate and by restore with its own message, nothing lands
# outside the staging tree, and the system root is unchanged. Two controls
# (no defect; a benign crafted tar) must validate, so the refusals are the
# defects' doing and not the tool's.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
: "${HSMBAK_CRAFT:?run through ctest (HSMBAK_CRAFT)}"

fixture_system
# b2 first: b1, the source of every case, is the newest backup this system
# made, so its cases are no rollback (worst_day_rollback.sh tests that).
fixture_backup "$T/b2"
fixture_backup "$T/b1"
fixture_factory
ROOT_DIGEST=$(tree_digest "$HSMBAK_ROOT")
SIGNER="pkcs11:token=$TOKEN;object=backupsigner;type=private"

craft() { # DEFECT -> $T/crafted-DEFECT
  rm -rf "$T/crafted-$1"
  "$HSMBAK_CRAFT" "$1" "$T/b1" "$T/crafted-$1" "$SIGNER" "$T/fixture/backupsigner-sscert.pem" \
    "file:$PIN_FILE" "$T/b2" || fail "hbcraft $1"
}

for control in none tar-ok; do
  craft $control
  hb secure-restore mybackupcred "$T/crafted-$control" --validate --max-size 64M >/dev/null ||
    fail "control '$control' does not validate: the crafting tool is broken"
  pass "control '$control' validates"
done

while IFS='|' read -r defect want fragment; do
  [ -n "$defect" ] || continue
  craft "$defect"
  refused_both "$defect" "$want" "$fragment" "$T/crafted-$defect" --max-size 64M
done <<'CASES'
dotdot|5|entry '../../pwned-dotdot' has a '..' component; entries must stay inside the restore root
absolute|5|pwned-absolute' is an absolute path; entries must stay inside the restore root
symlink-through|5|entry 'out/pwned-symlink' would be written through or over the symlink 'out'
hardlink-out|5|hard link target '../../victim' has a '..' component
device|5|entry 'null' is a device node; archives hold only files, directories and links
fifo|5|entry 'pipe' is a FIFO; archives hold only files, directories and links
bomb|6|entry 'bomb' would take the expanded size past the cap of 67108864 bytes (decompression bomb?)
seg-drop|5|archive 'config': segment 1 fails authentication
seg-reorder|5|archive 'config': segment 1 fails authentication
seg-dup|5|archive 'config': segment 2 fails authentication
seg-truncate|5|archive 'config': truncated: the file ends after segment 1, which is not the final segment
reserved|5|archive 'config': reserved header bytes are not zero
swap|5|archive 'cert': key commitment mismatch: wrong key, or the file belongs to another backup
replay|5|archive 'config': key commitment mismatch: wrong key, or the file belongs to another backup
no-recipient|6|the certificate of idcred 'mybackupcred' (SHA-256
sys-version|6|the backup was made on version 9.3.5.1 and this system runs 9.3.5.0
format-version|5|attribute 'format': [facet 'enumeration'] The value '2' is not an element of the set {'1'}
unknown-element|5|Element '{urn:hsmbak:manifest:1}extra': This element is not expected.
dtd|5|manifest contains a DTD; refusing to parse it
no-signature|5|manifest is not signed: it has no XML-DSig <Signature>
bad-signature|5|manifest signature does not verify: the SignatureValue does not match SignedInfo
entry-edit|5|manifest signature does not verify: digest mismatch (the manifest was changed after it was signed)
CASES

# Nothing escaped: no pwned-* or victim anywhere under the test directory.
if find "$T" -name 'pwned-*' -o -name victim | grep .; then fail "an entry was written outside staging"; fi
pass "nothing written outside the staging tree"

# The control restores for real: the crafting tool makes restorable backups.
hb secure-restore mybackupcred "$T/crafted-none" >/dev/null || fail "control restore failed"
pass "control restores"
matrix_print
finish
