# Issue 15 (2): the bytes restored are the bytes the signer signed. A
# co-recipient holds the same DEK, so it can write a config archive that
# decrypts and authenticates (tests/tools/hbcraft.c co-recipient); swapped in
# after the files were checked by path and before extraction (the test hook
# HSMBAK_FAULT=restore-swap-archive, common/fault.c), it is refused by
# validate and by restore, naming both hashes, and nothing is restored.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
: "${HSMBAK_CRAFT:?run through ctest (HSMBAK_CRAFT)}"

make_system
hb secure-backup rcpt "$T/b1" >/dev/null
download
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
ROOT_DIGEST=$(tree_digest "$HSMBAK_ROOT")
cfg=$(cd "$T/b1" && ls config.*)
orig=$(sha256sum "$T/b1/$cfg" | cut -d' ' -f1)

HBCRAFT_RECIPIENT_KEY="pkcs11:token=$TOKEN;object=rcpt;type=private" \
  "$HSMBAK_CRAFT" co-recipient "$T/b1" "$T/evil" "pkcs11:token=$TOKEN;object=signer;type=private" \
  "$T/download/signer-sscert.pem" "file:$PIN_FILE" || fail "hbcraft co-recipient"
evil=$(sha256sum "$T/evil/$cfg" | cut -d' ' -f1)
# Control: the crafted archive really opens with the backup's DEK (the
# manifest's size and hash are the only thing that stops it).
cp -a "$T/b1" "$T/control" && cp "$T/evil/$cfg" "$T/control/$cfg"
must_refuse 5 "bytes but the manifest says" \
  hb secure-restore rcptcred "$T/control" --validate
pass "control: a swapped file is refused by the check by path"

for mode in --validate ""; do
  rm -rf "$T/b"; cp -a "$T/b1" "$T/b"; mkdir -p "$T/swap" && cp "$T/evil/$cfg" "$T/swap/$cfg"
  must_refuse 5 "archive 'config': the file read from '$T/b/$cfg' ($(stat -c %s "$T/evil/$cfg") bytes, SHA-256 $evil) is not the one the signed manifest lists ($(stat -c %s "$T/b1/$cfg") bytes, SHA-256 $orig): it was replaced while the backup was being read; nothing was restored" \
    env HSMBAK_FAULT=restore-swap-archive HSMBAK_FAULT_FILE="$T/swap/$cfg" \
    "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b" $mode
  [ ! -e "$T/swap/$cfg" ] || fail "the hook did not swap the archive"
  [ "$(sha256sum "$T/b/$cfg" | cut -d' ' -f1)" = "$evil" ] || fail "the swapped file is not in place"
  [ "$(tree_digest "$HSMBAK_ROOT")" = "$ROOT_DIGEST" ] || fail "${mode:-restore}: the system root changed"
  if compgen -G "$HSMBAK_ROOT.hsmbak-staging-*" >/dev/null; then fail "${mode:-restore}: staging tree left"; fi
  [ ! -e "$HSMBAK_ROOT/config/sub/ok" ] || fail "the crafted file was restored"
  pass "archive swapped after the check: ${mode:-restore} refused (exit 5), root unchanged, no staging left"
done

hb secure-restore rcptcred "$T/b1" >/dev/null || fail "the untouched backup does not restore"
[ ! -e "$HSMBAK_ROOT/config/sub/ok" ] || fail "restored the crafted tar?"
pass "the untouched backup restores"
finish
