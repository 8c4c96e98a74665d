# Issue 13: a key URI the shell cut at its first ';' -- `hsmbak crypto key
# k pkcs11:token=backup;object=mykey;type=private` unquoted runs
# `... pkcs11:token=backup` -- names every key on the token. It is refused at
# definition with a message that says so and suggests quoting, and the
# object store is not changed. A URI that names one key is taken.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
make_system   # two keys on the token: signer and rcpt
store=$HSMBAK_ROOT/config/crypto.xml
before=$(sha256sum < "$store")

expect_fail 2 "key URI 'pkcs11:token=$TOKEN' matches 2 keys on its token (" hb crypto key k "pkcs11:token=$TOKEN"
must_refuse 2 "quote the whole URI, since the shell ends a command at an unquoted ';'" hb crypto key k "pkcs11:token=$TOKEN"
[[ $msg == *signer* && $msg == *rcpt* ]] || fail "the keys are not named: $msg"
expect_fail 2 "matches 2 keys" hb crypto key k "pkcs11:token=$TOKEN;type=private"
[ "$(sha256sum < "$store")" = "$before" ] || fail "a refused key changed the object store"
pass "an ambiguous key URI is refused, naming the keys; the store is unchanged"

# The same command line through a shell, unquoted, as a user types it.
rc=0
out=$(bash -c "\"$HSMBAK_BIN\" --pin-source file:$PIN_FILE crypto key k pkcs11:token=$TOKEN;object=rcpt;type=private" 2>&1) || rc=$?
[[ $out == *"matches 2 keys"* && $out == *"quote"* ]] || fail "unquoted in a shell: $out"
pass "typed unquoted in a shell: refused with the advice to quote"

hb crypto key k "pkcs11:token=$TOKEN;object=rcpt;type=private" | grep -q "Creating key 'k'" || fail "a quoted URI"
hb crypto key k2 "pkcs11:token=$TOKEN;object=rcpt" | grep -q "Creating key 'k2'" || fail "object= alone names one key"
pass "a URI that names one key is taken"
finish
