# Issue 11, class 1: nothing is ever written, removed or chmod-ed through a
# symlink beneath a root or a staging tree (common/beneath.h).
#
# Crafted backups, validly encrypted and signed by the trusted signer
# (tests/tools/hbcraft.c, the "symlinks beneath the root" block), whose
# resource root holds symlinks to a decoy directory outside the system root
# at every path the restore writes after extracting: the reset file
# root/users/admin, its directory, and, in a backup that restores, nested
# directories and the names carried over from the current root
# (temporary, .hsmbak, VERSION). Each is refused with a message naming the
# link, or restores with its links kept as links; either way the decoy and
# a file beside the root are byte-identical afterwards, and a refused one
# leaves the root byte-identical too. The current root's own links (in
# temporary/, carried over) come over as links, and the factory reset that
# removes the old tree removes them, not what they point at. A backup to a
# destination beneath the root behind a link is refused.
#
# Then stale-partial cleanup under a concurrent RENAME_EXCHANGE swapper
# (tests/tools/exchange_swapper.c), 1,000 rounds: nothing outside the
# destination's parent is ever removed.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
: "${HSMBAK_CRAFT:?run through ctest (HSMBAK_CRAFT)}"
SWAPPER=$HSMBAK_BUILD/tests/tools/exchange_swapper
[ -x "$SWAPPER" ] || fail "no $SWAPPER: build the exchange_swapper target"

fixture_system
fixture_backup "$T/b1"
fixture_factory
SIGNER="pkcs11:token=$TOKEN;object=backupsigner;type=private"

# The decoy (what every link points at) and a file beside the root.
mkdir -p "$T/decoy/users" && echo 'decoy admin' > "$T/decoy/admin" &&
  echo 'decoy users/admin' > "$T/decoy/users/admin" && echo beside > "$T/beside"
DECOY=$(tree_digest "$T/decoy")
BESIDE=$(sha256sum < "$T/beside")
outside_intact() { # CASE
  [ "$(tree_digest "$T/decoy")" = "$DECOY" ] || fail "$1: the decoy outside the root changed"
  [ "$(sha256sum < "$T/beside")" = "$BESIDE" ] || fail "$1: the file beside the root changed"
  if find "$T/decoy" -name '*.tmp-*' | grep .; then fail "$1: a temporary file landed in the decoy"; fi
}

craft() { # DEFECT -> $T/crafted-DEFECT
  rm -rf "$T/crafted-$1"
  "$HSMBAK_CRAFT" "$1" "$T/b1" "$T/crafted-$1" "$SIGNER" "$T/fixture/backupsigner-sscert.pem" \
    "file:$PIN_FILE" || fail "hbcraft $1"
}

# Control: the crafting tool's own untouched backup restores.
craft none
hb secure-restore mybackupcred "$T/crafted-none" >/dev/null || fail "control restore failed"
outside_intact control
pass "control: a crafted backup without links restores"
fixture_factory
ROOT_DIGEST=$(tree_digest "$HSMBAK_ROOT")

# A link on the way to the reset file: refused before the swap, naming it.
tail="hsmbak never writes, removes or follows anything through a link beneath a root (on the way to 'root/users/admin', which the profile resets to the factory default); the system is unchanged"
while IFS='|' read -r defect link; do
  [ -n "$defect" ] || continue
  craft "$defect"
  # validate refuses it as the restore does: a backup that validates restores.
  must_refuse 6 "hsmbak: the backup cannot be restored: in its tree, '$link' is a symbolic link; $tail" \
    hb secure-restore mybackupcred "$T/crafted-$defect" --validate
  must_refuse 6 "hsmbak: the backup cannot be restored: in its tree, '$link' is a symbolic link; $tail" \
    hb secure-restore mybackupcred "$T/crafted-$defect"
  [ "$(tree_digest "$HSMBAK_ROOT")" = "$ROOT_DIGEST" ] || fail "$defect: the system root changed"
  if compgen -G "$HSMBAK_ROOT.hsmbak-staging-*" >/dev/null; then fail "$defect: staging tree left"; fi
  outside_intact "$defect"
  pass "$defect: validate and restore refused naming '$link'; root, decoy and the file beside unchanged"
done <<'CASES'
link-users-abs|root/users
link-users-rel|root/users
link-admin|root/users/admin
CASES

# Links elsewhere in the backup, and in the current root's carried-over
# temporary/: nothing writes through them, so the restore goes ahead and
# keeps every link as a link.
ln -s "$T/decoy" "$HSMBAK_ROOT/temporary/decoy-link"
mkdir -p "$HSMBAK_ROOT/temporary/nested/dir" && ln -s ../../../../decoy "$HSMBAK_ROOT/temporary/nested/dir/up"
craft link-nested
hb secure-restore mybackupcred "$T/crafted-link-nested" >/dev/null || fail "link-nested: restore failed"
r=$HSMBAK_ROOT
[ "$(readlink "$r/root/deep/a/b/out")" = "$T/decoy" ] && [ "$(readlink "$r/root/temporary")" = "$T/decoy" ] &&
  [ "$(readlink "$r/root/.hsmbak")" = "$T/decoy" ] && [ "$(readlink "$r/root/VERSION")" = "$T/decoy/admin" ] ||
  fail "link-nested: the backup's links were not restored as links"
[ "$(readlink "$r/temporary/decoy-link")" = "$T/decoy" ] && [ "$(readlink "$r/temporary/nested/dir/up")" = ../../../../decoy ] ||
  fail "link-nested: the carried-over links did not come over as links"
[ -d "$r/.hsmbak" ] && [ ! -L "$r/.hsmbak" ] && [ -f "$r/VERSION" ] && [ ! -L "$r/VERSION" ] ||
  fail "link-nested: the root's own .hsmbak or VERSION was replaced"
cmp -s "$r/root/users/admin" "$HSMBAK_SRC/data/profiles/appliance.factory/root/users/admin" ||
  fail "link-nested: the reset file is not the factory one"
outside_intact link-nested
pass "link-nested: restores; links in the backup and in carried-over temporary/ kept as links; decoy unchanged"

# The factory reset removes the old tree (with all those links) and never what they point at.
fixture_factory
[ ! -e "$HSMBAK_ROOT/root/deep" ] || fail "factory reset left the restored tree"
outside_intact "factory reset"
pass "factory reset removed the tree holding links to the decoy, and nothing in the decoy"

# The same on a root that is its own mount (a tmpfs: staged inside the root,
# ROOT/.hsmbak/staging-*, swapped entry by entry; issue 11 class 6): the
# links are refused or kept just the same. Needs root to mount. (Before
# the sections below make backups: the crafted ones are copies of b1, which
# a newer backup would make a rollback.)
mroot=$T/mroot
mkdir -p "$mroot"
if mount -t tmpfs -o size=128m,mode=0755 hsmbak-test "$mroot" 2>"$T/mount.err"; then
  trap 'umount "$mroot" 2>/dev/null || umount -l "$mroot" || true' EXIT
  fixture_factory
  cp -a "$HSMBAK_ROOT/." "$mroot/"
  ORIG_ROOT=$HSMBAK_ROOT
  export HSMBAK_ROOT=$mroot
  # The root without hsmbak's own state, where this mode stages.
  mdigest() {
    (cd "$mroot" && find . -mindepth 1 -path ./.hsmbak -prune -o -printf '%P %y %m %l\n' | LC_ALL=C sort &&
       find . -path ./.hsmbak -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) |
      sha256sum | cut -d' ' -f1
  }
  MROOT_DIGEST=$(mdigest)
  for defect in link-users-abs link-users-rel; do
    rc=0
    hb secure-restore mybackupcred "$T/crafted-$defect" >/dev/null 2>"$T/m.err" || rc=$?
    [ "$rc" = 6 ] || fail "mounted $defect: exit $rc, want 6: $(cat "$T/m.err")"
    grep -qxF "hsmbak: the backup cannot be restored: in its tree, 'root/users' is a symbolic link; $tail" "$T/m.err" ||
      fail "mounted $defect: said $(cat "$T/m.err")"
    [ "$(mdigest)" = "$MROOT_DIGEST" ] || fail "mounted $defect: the root changed"
    if compgen -G "$mroot/.hsmbak/staging-*" >/dev/null; then fail "mounted $defect: staging tree left"; fi
    outside_intact "mounted $defect"
    pass "mounted root, $defect: restore refused naming 'root/users'; root, decoy and the file beside unchanged"
  done
  hb secure-restore mybackupcred "$T/crafted-link-nested" >/dev/null 2>"$T/m.err" ||
    fail "mounted link-nested: restore failed: $(cat "$T/m.err")"
  [ "$(readlink "$mroot/root/deep/a/b/out")" = "$T/decoy" ] || fail "mounted link-nested: links not kept"
  mountpoint -q "$mroot" || fail "mounted link-nested: the root is no longer the mount"
  hb factory-reset --yes >/dev/null 2>&1 || fail "mounted: factory reset"
  outside_intact "mounted link-nested"
  pass "mounted root, link-nested: restores with links kept, factory reset removes them; decoy unchanged"
  export HSMBAK_ROOT=$ORIG_ROOT
else
  echo "# SKIP mounted-root cases: cannot mount a tmpfs ($(cat "$T/mount.err"))"
fi
# Stale-partial cleanup against a RENAME_EXCHANGE swapper.
mkdir -p "$T/swap"
out=$("$SWAPPER" "$T/swap" 1000) || fail "exchange swapper: $out"
echo "# $out"
outside_intact "exchange swapper"
pass "stale-partial cleanup under a RENAME_EXCHANGE swapper: 1000 rounds, nothing outside the destination's parent removed"

# A stale partial of another user (as root: one given away) is left alone, and said.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$T/shared" && mkdir "$T/shared/.dest.hsmbak-partial-999999" &&
    echo theirs > "$T/shared/.dest.hsmbak-partial-999999/file" &&
    chown -R 65534:65534 "$T/shared/.dest.hsmbak-partial-999999"
  kill -0 999999 2>/dev/null && fail "pid 999999 exists: pick another for the stale partial"
  out=$(hb secure-backup othercert,mybackupcert "$T/shared/dest" 2>&1) || fail "backup beside another user's partial: $out"
  case "$out" in *"hsmbak: warning: secure-backup: a stale partial backup was not removed: '$T/shared/.dest.hsmbak-partial-999999' belongs to uid 65534, not to this user (uid 0); hsmbak removes only directories of its own: left alone, its owner may remove it"*) ;;
    *) fail "another user's partial: the backup said: $out";; esac
  [ "$(cat "$T/shared/.dest.hsmbak-partial-999999/file")" = theirs ] || fail "another user's partial was touched"
  pass "another user's stale partial is left alone, with a warning naming it and its owner"
fi
# A backup destination beneath the root (temporary:///) behind a link is
# refused before anything is written, naming the link.
ln -s "$T/decoy" "$HSMBAK_ROOT/temporary/out"
ROOT_NOW=$(tree_digest "$HSMBAK_ROOT")
must_refuse 6 "hsmbak: destination '$HSMBAK_ROOT/temporary/out/b' is refused: '$HSMBAK_ROOT/temporary/out' is a symbolic link; hsmbak never writes, removes or follows anything through a link beneath a root" \
  hb secure-backup othercert,mybackupcert temporary:///out/b
[ "$(tree_digest "$HSMBAK_ROOT")" = "$ROOT_NOW" ] || fail "refused destination: the root changed"
outside_intact "destination behind a link"
rm "$HSMBAK_ROOT/temporary/out"
hb secure-backup othercert,mybackupcert temporary:///out/b >/dev/null || fail "control: backup to temporary:///out/b"
[ -f "$HSMBAK_ROOT/temporary/out/b/backupmanifest.xml" ] || fail "control: no backup in temporary:///out/b"
rm -rf "$HSMBAK_ROOT/temporary/out"
pass "a backup to temporary:///out/b is refused while temporary/out is a link to the decoy, and written there once it is a directory"

finish
