# Issue 4: the host profile over a real tree (a copy of /usr/share/doc):
# identical content, modes, links and mtimes after a round trip, no factory
# gating.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

cat > "$T/host.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<profile xmlns="urn:hsmbak:profile:1" format="1" name="host">
  <version-file match="exact">VERSION</version-file>
  <resources>
    <resource path="config"/>
    <resource name="doc" path="srv/doc"/>
  </resources>
  <never-backed-up><path>.hsmbak</path><path carry-over="true">temporary</path></never-backed-up>
</profile>
XML
hb system init --profile "$T/host.xml" --version 1.0.0.0 >/dev/null
mkdir -p "$HSMBAK_ROOT/config" "$HSMBAK_ROOT/srv" "$HSMBAK_ROOT/temporary"
# Packages may come and go under /usr/share/doc while this runs (another
# test installs a .deb): whatever was copied is the tree under test.
cp -a /usr/share/doc "$HSMBAK_ROOT/srv/doc" 2>/dev/null || true
[ "$(find "$HSMBAK_ROOT/srv/doc" | wc -l)" -gt 1000 ] || fail "copy of /usr/share/doc too small"
# A few things /usr/share/doc may lack: an odd mode, a hard link, an old mtime.
echo secret > "$HSMBAK_ROOT/srv/doc/private" && chmod 640 "$HSMBAK_ROOT/srv/doc/private"
ln "$HSMBAK_ROOT/srv/doc/private" "$HSMBAK_ROOT/srv/doc/private.link"
touch -d 2001-02-03T04:05:06 "$HSMBAK_ROOT/srv/doc/private"
fixture_signer signer signercred Signer
fixture_backup_signer signercred signer
add_recipient rcpt

snapshot() {  # names, types, modes, link targets, mtimes, contents
  (cd "$1" && find srv config -printf '%P %y %m %l %T@ %n\n' | LC_ALL=C sort &&
     find srv config -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum
}
want=$(snapshot "$HSMBAK_ROOT")
files=$(find "$HSMBAK_ROOT/srv/doc" | wc -l)
hb secure-backup rcpt temporary:///hostbackup >/dev/null
ls "$HSMBAK_ROOT/temporary/hostbackup" | grep -qx doc.tzst || fail "zstd archive name"
pass "host backup of $files entries"

# Damage the system, then restore over it: the host profile needs no factory reset.
KEEP_SNAP=1; rm -rf "$HSMBAK_ROOT/srv/doc/"* && echo changed > "$HSMBAK_ROOT/config/crypto.xml.bak"
hb secure-restore rcptcred temporary:///hostbackup >/dev/null || fail "host restore"
[ "$(snapshot "$HSMBAK_ROOT")" = "$want" ] || fail "host round trip differs"
[ -d "$HSMBAK_ROOT/temporary/hostbackup" ] || fail "temporary was not carried over"
pass "host round trip: identical content, modes, links, hard links, mtimes; temporary kept"
finish
