# Disk full (issue 6): a backup to a filesystem too small for it, and a
# restore onto a system whose filesystem cannot hold the restored tree, each
# on a tmpfs this test mounts (needs root; skipped with a message otherwise).
# Each fails with a clear "no space" message, leaves nothing that looks like
# a backup or a restored system, and loses nothing of the original.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

mounts=()
cleanup_mounts() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done; }
trap cleanup_mounts EXIT
small_fs() { # DIR SIZE
  mkdir -p "$1"
  if ! mount -t tmpfs -o "size=$2,mode=0700" hsmbak-test "$1" 2>"$T/mount.err"; then
    echo "SKIP: cannot mount a tmpfs ($(cat "$T/mount.err")); disk-full cases need root"
    exit 0
  fi
  mounts+=("$1")
}

# 1. Backup to a 1 MiB filesystem: the 3 MB of incompressible settings do not fit.
small_fs "$T/small" 1m
fixture_system
head -c 3000000 /dev/urandom > "$HSMBAK_ROOT/config/big.bin"
before=$(tree_digest "$HSMBAK_ROOT")
expect_fail 7 "no space left to write" hb secure-backup mybackupcert "$T/small/backup"
[ ! -e "$T/small/backup" ] || fail "a backup directory was left on the full filesystem"
[ -z "$(ls -A "$T/small")" ] || fail "the full filesystem still holds: $(ls -A "$T/small")"
[ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "the system changed"
pass "backup to a full filesystem: 'no space', nothing left behind, system unchanged"

# The same on a filesystem that fits the archives but not the manifest: the
# archives go first, so fill all but a few KiB.
fixture_backup "$T/ok"
need=$(du -sb "$T/ok" | cut -f1)
manifest=$(stat -c %s "$T/ok/backupmanifest.xml")
rm -rf "$T/ok"
umount "$T/small"; mounts=()
small_fs "$T/small" $(( (need - manifest / 2) / 4096 * 4096 + 4096 ))
expect_fail 7 "no space left to write" hb secure-backup mybackupcert "$T/small/backup"
[ -z "$(ls -A "$T/small")" ] || fail "the full filesystem still holds: $(ls -A "$T/small")"
pass "backup that runs out of space at its last file: 'no space', nothing left behind"

# 2. Restore onto a system whose filesystem cannot hold the restored tree:
#    the factory-reset root moves to a 6 MiB tmpfs, and a filler leaves 2 MiB
#    free there for the 3 MB config.
fixture_backup "$T/b1"
fixture_factory
small_fs "$T/small2" 6m
cp -a "$HSMBAK_ROOT" "$T/small2/system"
export HSMBAK_ROOT=$T/small2/system
avail=$(df -B1 --output=avail "$T/small2" | tail -1)
head -c $((avail - 2 * 1024 * 1024)) /dev/zero > "$T/small2/filler"
before=$(tree_digest "$HSMBAK_ROOT")
free_before=$(df -B1 --output=avail "$T/small2" | tail -1)
must_refuse 6 "archive 'config': extracting 'big.bin' (3000000 bytes) would leave less than" \
  hb secure-restore mybackupcred "$T/b1"
echo "  $msg"
[ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "the system changed"
if compgen -G "$HSMBAK_ROOT.hsmbak-staging-*" >/dev/null; then fail "a staging tree was left"; fi
[ "$(df -B1 --output=avail "$T/small2" | tail -1)" -ge $((free_before - 65536)) ] || fail "space was not given back"
pass "restore onto a full filesystem: refused before filling it, system unchanged, space given back"

# 3. The same, with the free-space floor out of the way (a filesystem that
#    has the room on paper but runs out while writing): fill to 1 MiB free
#    and restore; whichever check trips, the message is about space.
rm "$T/small2/filler"
avail=$(df -B1 --output=avail "$T/small2" | tail -1)
head -c $((avail - 3100000)) /dev/zero > "$T/small2/filler"
before=$(tree_digest "$HSMBAK_ROOT")
rc=0; msg=$(hb secure-restore mybackupcred "$T/b1" 2>&1 >/dev/null) || rc=$?
case "$rc:$msg" in
  "6:"*"would leave less than"*|"7:"*"no space left to"*) ;;
  *) fail "restore near the limit: exit $rc: $msg (want a space refusal)";;
esac
echo "  $msg"
[ "$(tree_digest "$HSMBAK_ROOT")" = "$before" ] || fail "the system changed"
if compgen -G "$HSMBAK_ROOT.hsmbak-staging-*" >/dev/null; then fail "a staging tree was left"; fi
pass "restore at the edge of the filesystem: refused for space (exit $rc), system unchanged"
finish
