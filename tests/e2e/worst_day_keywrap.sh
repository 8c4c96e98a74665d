# Issue 11, class 2: never a "complete" backup that cannot be restored.
# SoftHSM 2.6.1 refuses RSA-OAEP SHA-256 (CKR_ARGUMENTS_BAD): a certificate
# defined with `crypto certificate` used to default to it, and every backup
# to it said complete and could never be opened. Now its key-wrap is asked of
# the token at definition; a recipient known to refuse is refused before
# anything is written; one never asked is a warning; where this system holds
# the recipient's key, the backup opens one wrapped key as a self-check.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

make_system
mkdir -p "$T/decoy" && echo decoy > "$T/decoy/file" && echo beside > "$T/beside"
digests() { echo "$(tree_digest "$HSMBAK_ROOT") $(tree_digest "$T/decoy") $(sha256sum < "$T/beside")"; }
# unchanged CASE DEST: nothing changed, DEST and no partial backup exist.
unchanged() {
  [ "$(digests)" = "$before" ] || fail "$1: the root, the decoy or the file beside changed"
  [ ! -e "$2" ] || fail "$1: '$2' was written"
  if compgen -G "$T/.*hsmbak-partial*" >/dev/null; then fail "$1: a partial backup is left"; fi
}

# The seed's way: a key pair and its certificate file, then `crypto certificate`.
fixture_keygen plain "Plain Recipient"
out=$(hb crypto certificate plain cert:///plain-sscert.pem 2>&1)
[ "$out" = "Creating certificate 'plain'" ] || fail "definition said: $out"
hb --json crypto show > "$T/show.json"
json_ok "$T/show.json" '.result.objects[] | select(.type == "certificate" and .name == "plain") |
  .key_wrap == "rsa-oaep-sha1" and .key_wrap_state == "probed"' "probed key-wrap in crypto show"
pass "crypto certificate asked the token: rsa-oaep-sha1 recorded as probed (SoftHSM refuses SHA-256)"

# Control: the backup to it opens.
hb crypto key plain "pkcs11:token=$TOKEN;object=plain;type=private" >/dev/null
hb crypto idcred plaincred plain plain >/dev/null
out=$(hb secure-backup plain "$T/ok" 2>&1)
case "$out" in *"Self-check: 1 recipient key(s) on this system's tokens opened the backup."*"Secure backup is complete."*) ;;
  *) fail "control backup said: $out";; esac
hb secure-restore plaincred "$T/ok" --validate >/dev/null || fail "the control backup does not validate"
pass "control: backup to the probed certificate self-checks and validates"

before=$(digests)
store=$(sha256sum < "$HSMBAK_ROOT/config/crypto.xml")
# A key-wrap the token refuses, stated at definition: refused, store unchanged.
must_refuse 6 "certificate 'plain': its token refuses rsa-oaep-sha256 (asked just now: it takes rsa-oaep-sha1); define it with --key-wrap rsa-oaep-sha1, or leave --key-wrap out" \
  hb crypto certificate plain cert:///plain-sscert.pem --key-wrap rsa-oaep-sha256
[ "$(sha256sum < "$HSMBAK_ROOT/config/crypto.xml")" = "$store" ] || fail "the refused definition changed the store"
unchanged "refused definition" "$T/none"
pass "a --key-wrap the token refuses is refused at definition; nothing changed"

# Redefining without the token in sight keeps the probe of the same certificate.
hb --module /nonexistent/module.so crypto certificate plain cert:///plain-sscert.pem --ignore-expiration >/dev/null 2>&1
hb --json crypto show > "$T/show.json"
json_ok "$T/show.json" '.result.objects[] | select(.type == "certificate" and .name == "plain") |
  .key_wrap == "rsa-oaep-sha1" and .key_wrap_state == "probed" and .ignore_expiration' "redefinition kept the probe"
pass "redefining the certificate keeps its probed key-wrap"
before=$(digests)

# A store saying the refused hash (hand-edited, restored from elsewhere): refused before anything is written.
cp "$HSMBAK_ROOT/config/crypto.xml" "$T/crypto.keep"
sed -i '/name="plain"/s/key-wrap="rsa-oaep-sha1"/key-wrap="rsa-oaep-sha256"/' "$HSMBAK_ROOT/config/crypto.xml"
before=$(digests)
must_refuse 6 "recipient certificate 'plain': its token refuses key-wrap rsa-oaep-sha256 (asked when the certificate was defined, it takes rsa-oaep-sha1): no backup was written; define it again with --key-wrap rsa-oaep-sha1" \
  hb secure-backup plain "$T/refused"
unchanged "known refuser" "$T/refused"
cp "$T/crypto.keep" "$HSMBAK_ROOT/config/crypto.xml"
pass "a recipient known to refuse its key-wrap is refused before anything is written"

# Never asked (no token in sight at definition), and the key is held here: the self-check refuses.
out=$(hb --module /nonexistent/module.so crypto certificate blind cert:///plain-sscert.pem 2>&1 >/dev/null)
[ "$out" = "hsmbak: warning: certificate 'blind': key-wrap rsa-oaep-sha256 is unprobed: no token this system sees holds its private key, so nobody has checked that its token unwraps with it; define it where that token is attached, or with the --key-wrap the token takes" ] \
  || fail "unprobed definition said: $out"
hb --json crypto show > "$T/show.json"
json_ok "$T/show.json" '.result.objects[] | select(.type == "certificate" and .name == "blind") | .key_wrap_state == "unprobed"' "unprobed in crypto show"
hb crypto show | grep -A8 "^certificate: blind" | grep -qx " key-wrap-state unprobed" || fail "crypto show text lacks the unprobed state"
hb crypto idcred blindcred plain blind >/dev/null
before=$(digests)
must_refuse 6 "self-check failed: recipient certificate 'blind' cannot open this backup on its token (key-wrap rsa-oaep-sha256: " \
  hb secure-backup blind "$T/blind"
unchanged "self-check" "$T/blind"
pass "unprobed key-wrap, key held here: the self-check refuses the backup (CKR_ARGUMENTS_BAD on SoftHSM); nothing written"

# Never asked, key not held here (a certificate from elsewhere): complete, with a warning.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/far.key" -subj "/CN=Far Away" -days 30 \
  -out "$HSMBAK_ROOT/cert/far.pem" 2>/dev/null
hb crypto certificate far cert:///far.pem >/dev/null 2>&1
out=$(hb secure-backup far "$T/far" 2>&1)
case "$out" in *"warning: recipient certificate 'far': key-wrap rsa-oaep-sha256 is unprobed (no token holding its key was asked whether it unwraps with it); if that token refuses it, this backup cannot be opened"*"Secure backup is complete."*) ;;
  *) fail "unprobed backup said: $out";; esac
pass "an unprobed recipient held elsewhere: the backup warns"
finish
