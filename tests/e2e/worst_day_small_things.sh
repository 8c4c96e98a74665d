# Issue 11, class 7 (the rest; PIN files and pin-value spellings are CUnit,
# tests/token/test_provider_pin.c): a user who cannot read the root's state
# or the token store is told it is a permission problem, naming the path
# (not "is not a system root", not "no tokens found" with exit 0); a URI's
# query attributes never appear in a message; factory-reset names every
# backup under temporary: that it erases before it asks, and --json lists
# them. Controls: root sees the same root and tokens; a reset answered "no"
# erases nothing.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
make_system
hb secure-backup rcpt temporary:///first >/dev/null
hb secure-backup rcpt temporary:///second >/dev/null
mkdir "$HSMBAK_ROOT/temporary/not-a-backup"

# as_nobody CMD...: CMD as uid/gid 65534 with no supplementary groups.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
P=$(mktemp -d /tmp/hsmbak-perm.XXXXXX)
trap 'rm -rf "$P"' EXIT
chmod 755 "$P"
# The build tree may sit where uid 65534 cannot reach it: run a copy of the
# binary and its library from the world-readable scratch directory.
mkdir "$P/bin"
cp "$HSMBAK_BIN" "$P/bin/" && cp -P "$(dirname "$HSMBAK_BIN")"/libhsmbak.so* "$P/bin/" 2>/dev/null || true
chmod -R a+rX "$P/bin"
export LD_LIBRARY_PATH="$P/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=$P/bin/hsmbak
as_nobody "$bin" --version >/dev/null || fail "the copied hsmbak does not run as uid 65534"

# Every refusal below leaves the system root, a file beside it and a decoy
# directory outside it byte-identical (unchanged CASE).
mkdir -p "$T/decoy" && echo decoy > "$T/decoy/file" && echo beside > "$T/beside"
digests() { echo "$(tree_digest "$HSMBAK_ROOT") $(tree_digest "$T/decoy") $(sha256sum < "$T/beside")"; }
before=$(digests)
unchanged() { [ "$(digests)" = "$before" ] || fail "$1: the root, the decoy or the file beside changed"; }

# 0. A PIN file group or others may read: refused naming the mode and the
#    fix (the CUnit suite has every mode; this is the whole command).
cp "$PIN_FILE" "$T/pin.open" && chmod 644 "$T/pin.open"
must_refuse 4 "is accessible by group or others (mode 0644); make it private with 'chmod 600 $T/pin.open'" \
  "$HSMBAK_BIN" --pin-source "file:$T/pin.open" secure-backup rcpt "$T/never"
[ ! -e "$T/never" ] || fail "a refused PIN file still let a backup be written"
unchanged "PIN file 0644"
chmod 600 "$T/pin.open"
"$HSMBAK_BIN" --pin-source "file:$T/pin.open" secure-backup rcpt "$T/with-600" >/dev/null ||
  fail "control: the same PIN file at 0600 was refused"
rm -rf "$T/with-600"
pass "a PIN file of mode 0644 is refused naming the mode and 'chmod 600'; at 0600 it works; nothing changed"
before=$(digests) # the control backup moved the root's backup sequence on

# 1. The root's state unreadable by this user: a permission message.
"$bin" --root "$P/sys" system init --profile appliance >/dev/null
chmod 700 "$P/sys/.hsmbak"
must_refuse 7 "cannot read '$P/sys/.hsmbak/profile': permission denied; hsmbak reads and locks the system root's state as its owner or root (this is uid 65534)" \
  as_nobody "$bin" --root "$P/sys" factory-reset --yes
"$bin" --root "$P/sys" factory-reset --yes >/dev/null || fail "root cannot reset its own root"
must_refuse 3 "is not a system root made by hsmbak" "$bin" --root "$P" factory-reset --yes
pass "unreadable .hsmbak/ is a permission message for uid 65534; root reads it; a plain directory is still 'not a system root'"

# 2. The token store unreadable: SoftHSM's configuration, then one token's directory.
if [ "${HSMBAK_TEST_TOKEN_KIND:-softhsm}" = softhsm ]; then
  tokendir=$(sed -n 's/^ *directories.tokendir *= *//p' "$SOFTHSM2_CONF")
  cp "$SOFTHSM2_CONF" "$P/softhsm2.conf"
  chmod 600 "$P/softhsm2.conf"
  must_refuse 8 "failed to initialise (CKR_GENERAL_ERROR): SoftHSM's configuration '$P/softhsm2.conf' is not readable by this user (uid 65534): permission denied" \
    as_nobody env SOFTHSM2_CONF="$P/softhsm2.conf" "$bin" --module "$HSMBAK_TEST_MODULE" token list
  # A readable configuration whose token directories nobody may not enter.
  mkdir "$P/tokens" && cp -a "$tokendir"/. "$P/tokens/"
  chmod 755 "$P/tokens" && chmod 700 "$P"/tokens/*/
  sed "s|^ *directories.tokendir *=.*|directories.tokendir = $P/tokens|" "$SOFTHSM2_CONF" > "$P/softhsm2.conf"
  chmod 644 "$P/softhsm2.conf"
  must_refuse 3 "no tokens found (module $HSMBAK_TEST_MODULE): the SoftHSM token directory '$P/tokens/" \
    as_nobody env SOFTHSM2_CONF="$P/softhsm2.conf" "$bin" --module "$HSMBAK_TEST_MODULE" token list
  case "$msg" in *"is not readable by this user (uid 65534): permission denied; run hsmbak as a user who may read it"*) ;;
    *) fail "token list as nobody said: $msg";; esac
  SOFTHSM2_CONF="$P/softhsm2.conf" "$bin" --module "$HSMBAK_TEST_MODULE" token list | grep -q "$TOKEN" ||
    fail "root does not see the tokens through the same configuration"
  unchanged "unreadable token store"
pass "an unreadable SoftHSM configuration or token directory is a permission message naming it; root lists the tokens; nothing changed"
fi

# 3. A URI's query attributes are never echoed.
secretish='module-name=query-attribute-marker'
for cmd in "token list --token pkcs11:token=nosuch?$secretish" \
           "crypto key k pkcs11:token=nosuch;object=o;type=private?$secretish" \
           "crypto key k pkcs11:token=$TOKEN;object=nosuch;type=private?$secretish" \
           "crypto key k pkcs11:token=$TOKEN;object=o;slot-id=1;type=private?$secretish" \
           "crypto key k pkcs11:token=$TOKEN;object=o;bogus;type=private?$secretish" \
           "crypto keygen --token pkcs11:token=nosuch?$secretish --cn x --file-name y"; do
  rc=0; out=$(hb $cmd 2>&1) || rc=$?
  [ "$rc" -ne 0 ] || fail "'$cmd' succeeded"
  case "$out" in *query-attribute-marker*) fail "'$cmd' echoed the query: $out";; esac
done
unchanged "URIs with a query"
pass "messages about a URI never echo its query attributes; nothing changed"

# 4. factory-reset names the backups under temporary: before it asks.
rc=0; out=$(script -qec "$(printf '%q ' "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" factory-reset)" /dev/null <<<"no" 2>&1) || rc=$?
case "$out" in
  *"These 2 backup(s) under temporary: are erased with it"*"temporary:///first"*"temporary:///second"*"Erase every setting and secret under"*"factory reset cancelled"*) ;;
  *) fail "the prompt did not name the backups first: $out";; esac
[ -f "$HSMBAK_ROOT/temporary/first/backupmanifest.xml" ] || fail "answering no erased a backup"
case "$out" in *not-a-backup*) fail "a directory without a manifest was named a backup";; esac
hb --json factory-reset --yes > "$T/reset.json"
json_ok "$T/reset.json" '.result.erased_backups == ["first", "second"]' "--json lists the erased backups"
[ ! -e "$HSMBAK_ROOT/temporary/first" ] || fail "the reset left temporary:///first"
rc=0; out=$(hb factory-reset --yes 2>&1) || rc=$?
[ "$rc" -eq 0 ] || fail "a second reset failed: $out"
case "$out" in *"backup(s) under temporary"*) fail "an empty temporary: was said to hold backups: $out";; esac
pass "factory-reset names each backup under temporary: before asking (answer no: nothing erased); --json lists them"
finish
