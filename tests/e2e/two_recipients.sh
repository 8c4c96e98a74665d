# Issue 4: a backup made to two recipients (keys on two tokens) restores with
# either one's idcred alone.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

set -- $HSMBAK_TEST_TOKENS
tok1=$1 tok2=$2
make_system "$tok1"
add_recipient second "$tok2"
hb secure-backup rcpt,second "$T/b2" >/dev/null
grep -c "<recipient " "$T/b2/backupmanifest.xml" | grep -qx 2 || fail "manifest should list 2 recipients"
[ "$(grep -c "<wrapped-key " "$T/b2/backupmanifest.xml")" -eq $((2 * $(ls "$T/b2" | grep -vc manifest))) ] \
  || fail "every file needs a wrapped key per recipient"
pass "manifest lists both recipients, a wrapped key for each per file"
download
cp -a "$HSMBAK_ROOT" "$T/original"

for who in rcpt second; do
  tok=$tok1; [ "$who" = second ] && tok=$tok2
  hb factory-reset --yes >/dev/null
  prepare_restore "$who" "$tok"
  hb secure-restore "${who}cred" "$T/b2" >/dev/null || fail "restore with $who"
  diff -rq --no-dereference -x temporary -x .hsmbak -x admin -x ipmi.cfg "$T/original" "$HSMBAK_ROOT" \
    || fail "restore with $who differs"
  pass "restored with recipient '$who' (token $tok) alone"
done
finish
