# Issue 13: `system init --adopt` takes an existing host directory as it is
# (nothing in it changes but .hsmbak/, hsmbak's folders and the version
# file), a host root's version defaults from os-release (VERSION_ID padded
# to V.R.M.F), and the adopted root backs up and restores like any other.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
H=$T/host
mkdir -p "$H/etc/app" "$H/var"
printf 'listen 443\n' > "$H/etc/app/app.conf"
printf 'NAME="Test OS"\nVERSION_ID="22.04"\n' > "$H/etc/os-release"
echo data > "$H/var/keep"
digest() { (cd "$H" && find etc var -printf '%P %y %m %l\n' | LC_ALL=C sort && find etc var -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum; }
before=$(digest)

expect_fail 6 "exists and is not empty; system init only lays a system down in a new or empty directory (take an existing directory as it is with --adopt)" \
  hb --root "$H" system init --profile host
hb --root "$H" system init --profile host --adopt > "$T/adopt.out"
grep -qF "System adopted at '$H' (profile host, version 22.04.0.0)" "$T/adopt.out" || fail "adopt: $(cat "$T/adopt.out")"
[ "$(digest)" = "$before" ] || fail "adopt changed the directory's content"
[ "$(cat "$H/VERSION")" = 22.04.0.0 ] || fail "VERSION: $(cat "$H/VERSION")"
for d in .hsmbak config cert temporary; do [ -d "$H/$d" ] || fail "no $d"; done
[ "$(stat -c %a "$H/.hsmbak")" = 700 ] && [ "$(stat -c %a "$H/config")" = 700 ] || fail "modes"
pass "--adopt: an existing directory adopted as it is, version 22.04.0.0 from its etc/os-release"

expect_fail 6 "is a system root already" hb --root "$H" system init --profile host --adopt
expect_fail 3 "is not an existing directory" hb --root "$T/nowhere" system init --profile host --adopt
mkdir -p "$T/empty-host/srv"
expect_fail 6 "holds none of profile 'host''s resources (etc)" hb --root "$T/empty-host" system init --profile host --adopt
expect_fail 6 "'/' cannot be adopted: a restore builds the new root beside the old one" hb --root / system init --profile host --adopt
mkdir -p "$T/appl/etc"
expect_fail 6 "profile 'appliance' lays its system down from a factory image" hb --root "$T/appl" system init --profile appliance --adopt
mkdir -p "$T/versioned/etc" && echo 1.2.3.4 > "$T/versioned/VERSION"
expect_fail 6 "already says version 1.2.3.4, not 1.2.3.5" hb --root "$T/versioned" system init --profile host --adopt --version 1.2.3.5
hb --root "$T/versioned" system init --profile host --adopt | grep -q "version 1.2.3.4" || fail "the root's own VERSION is kept"
[ "$(cat "$T/versioned/VERSION")" = 1.2.3.4 ] || fail "VERSION rewritten"
pass "adopt refuses a root twice, a missing directory, one without resources, a factory-image profile, a differing version"

# A new host root: the version of this machine's /etc/os-release.
vid=$(. /etc/os-release && echo "${VERSION_ID:-}")
if [ -n "$vid" ]; then
  want=$(echo "$vid" | awk -F. '{ n = 0; out = ""; for (i = 1; i <= NF && i <= 4; i++) { if ($i !~ /^[0-9]+$/) break; out = out (n ? "." : "") $i; n++ } while (n < 4) { out = out ".0"; n++ } print out }')
  hb --root "$T/fresh" system init --profile host | grep -qF "(profile host, version $want)" || fail "host version from /etc/os-release"
  [ "$(cat "$T/fresh/VERSION")" = "$want" ] || fail "fresh VERSION"
  pass "a new host root's version is this machine's VERSION_ID $vid as $want"
fi
hb --root "$T/appl2" system init --profile appliance | grep -qF "version 9.3.5.0" || fail "appliance default"
pass "the appliance profile keeps 9.3.5.0"

# The adopted root backs up and restores (no factory state needed).
export HSMBAK_ROOT=$H
fixture_signer s s "Host Signer"
fixture_backup_signer s s
add_recipient r
hb secure-backup r "$T/b" >/dev/null
ls "$T/b" | grep -qx etc.tzst || fail "no etc archive: $(ls "$T/b")"
printf 'listen 80\n' > "$H/etc/app/app.conf"
hb secure-restore rcred "$T/b" >/dev/null
[ "$(cat "$H/etc/app/app.conf")" = "listen 443" ] || fail "etc not restored"
[ "$(cat "$H/var/keep")" = data ] || fail "what is not a resource was touched"
pass "an adopted host root backs up and restores its etc"
finish
