# Issue 11, class 4: hostile input ends fast and small, before anything is
# authenticated. The hostile-manifest family (tests/tools/hostile_xml.pl:
# namespace-heavy, foreign namespace, deep, wide, wide with text, comments,
# many attributes on one element or spread, a long text node, a long
# attribute value), each just under the 16 MiB cap and ending in a real
# <Signature>, is refused by `secure-restore --validate` in under 1 s and
# 64 MiB peak RSS with its own one-line message; a manifest or an archive
# that is a FIFO, a device, a socket or a symbolic link is refused at once
# (timeout 10: a hang fails). The root, a file beside it and a decoy
# directory are byte-identical afterwards; a real backup validates (control).
# The figures table is printed at the end (docs/reliability.md).
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

GEN=$HSMBAK_SRC/tests/tools/hostile_xml.pl
CAP=16777216
MAX_SECONDS=1.0
MAX_RSS_KB=65536
NOT_OURS="it is not a backup hsmbak made"
# The figures are the release tree's; ASan's shadow memory, quarantine and
# checks take about 3x the memory and 5x the time (same cases, same messages).
if grep -qs '^HSMBAK_SANITIZE:BOOL=ON' "${HSMBAK_BUILD:-/nonexistent}/CMakeCache.txt"; then
  MAX_SECONDS=5.0
  MAX_RSS_KB=$((3 * MAX_RSS_KB))
  echo "sanitizer build: limits $MAX_SECONDS s and $((MAX_RSS_KB / 1024)) MiB"
fi

make_system
mkdir -p "$T/decoy" && echo decoy > "$T/decoy/file" && echo beside > "$T/beside"
digests() { echo "$(tree_digest "$HSMBAK_ROOT") $(tree_digest "$T/decoy") $(sha256sum < "$T/beside")"; }

hb secure-backup rcpt "$T/real" >/dev/null
hb secure-restore rcptcred "$T/real" --validate >/dev/null || fail "the control backup does not validate"
pass "control: a real backup validates"
sed -n '/<Signature/,/<\/Signature>/p' "$T/real/backupmanifest.xml" > "$T/signature.xml"
[ -s "$T/signature.xml" ] || fail "no <Signature> in the real manifest"
archive=$(cd "$T/real" && ls | grep -v '^backupmanifest.xml$' | head -1)
[ -n "$archive" ] || fail "the real backup holds no archive"
before=$(digests)

# validate_refuses CASE DIR STATUS MESSAGE: validate of DIR exits STATUS
# with exactly "hsmbak: MESSAGE", within 10 s (a hang fails), nothing
# changed; sets $secs and $rss_kb.
validate_refuses() {
  local case=$1 dir=$2 status=$3 want=$4 rc=0
  timeout 10 /usr/bin/time -f '%e %M' -o "$T/time" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" \
    secure-restore rcptcred "$dir" --validate > "$T/out" 2> "$T/err" || rc=$?
  [ "$rc" -ne 124 ] || fail "$case: validate did not end within 10 s"
  [ "$rc" -eq "$status" ] || fail "$case: validate exited $rc, want $status: $(cat "$T/err")"
  [ "$(cat "$T/err")" = "hsmbak: $want" ] || fail "$case: validate said '$(cat "$T/err")', want 'hsmbak: $want'"
  [ "$(digests)" = "$before" ] || fail "$case: the root, the decoy or the file beside changed"
  read -r secs rss_kb < <(tail -1 "$T/time")
}

# The hostile-manifest family.
printf '%-13s | %9s | %6s | %8s | %s\n' case bytes time "peak RSS" message > "$T/figures"
while IFS='|' read -r case message; do
  [ -n "$case" ] || continue
  dir=$T/hostile-$case
  cp -a "$T/real" "$dir"
  perl "$GEN" "$case" "$T/signature.xml" > "$dir/backupmanifest.xml"
  size=$(stat -c %s "$dir/backupmanifest.xml")
  [ "$size" -lt "$CAP" ] && [ "$size" -gt $((CAP - 65536)) ] || fail "$case: $size bytes is not just under the cap"
  validate_refuses "$case" "$dir" 5 "manifest '$dir/backupmanifest.xml' $message; $NOT_OURS"
  awk -v s="$secs" -v m="$MAX_SECONDS" 'BEGIN { exit !(s < m) }' || fail "$case: took $secs s (at most $MAX_SECONDS)"
  [ "$rss_kb" -lt "$MAX_RSS_KB" ] || fail "$case: peak RSS $rss_kb KiB (at most $MAX_RSS_KB)"
  printf '%-13s | %9s | %5ss | %5s MiB | %s\n' "$case" "$size" "$secs" "$((rss_kb / 1024))" "$message" >> "$T/figures"
  rm -rf "$dir"
  pass "$case ($size bytes): refused in $secs s, peak RSS $((rss_kb / 1024)) MiB; nothing changed"
done <<'CASES'
ns-heavy|has more than 4 namespace declarations (at most 4)
foreign-ns|declares namespace 'urn:evil' (line 1), which is neither the manifest's nor XML-DSig's
deep|has more than 8 nested elements (at most 8)
wide|has more than 40000 elements (at most 40000)
wide-text|has more than 120000 nodes (at most 120000)
comments|has more than 120000 nodes (at most 120000)
attrs-one|has more than 8 attributes on one element (at most 8; line 1)
attrs-spread|has more than 40000 attributes (at most 40000)
long-text|has a text node of more than 2097152 bytes (at most 2097152; line 1)
long-attr|has an attribute value of more than 2097152 bytes (at most 2097152; line 1)
CASES

# Not a regular file, as the manifest and as an archive: refused at once.
# special KIND PATH: make PATH a KIND.
special() {
  rm -f "$2"
  case $1 in
    fifo) mkfifo "$2" ;;
    device) mknod "$2" c 1 5 || fail "mknod (a device node needs root)" ;;
    socket) perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "$!\n"' "$2" ;;
    symlink) ln -s /dev/zero "$2" ;;
  esac
}
kind_of() { case $1 in fifo) echo "a FIFO";; device) echo "a character device";;
  socket) echo "a socket";; symlink) echo "a symbolic link";; esac; }
for kind in fifo device socket symlink; do
  dir=$T/special-$kind
  cp -a "$T/real" "$dir"
  special "$kind" "$dir/backupmanifest.xml"
  if [ "$kind" = symlink ]; then
    want="cannot read '$dir/backupmanifest.xml': it is a symbolic link, and hsmbak never reads input through one; give the file it points to (readlink -f '$dir/backupmanifest.xml')"
  else
    want="cannot read '$dir/backupmanifest.xml': it is $(kind_of "$kind"), not a regular file; hsmbak reads its input from regular files only"
  fi
  validate_refuses "manifest $kind" "$dir" 7 "$want"
  pass "manifest that is $(kind_of "$kind"): refused in $secs s; nothing changed"
  rm -rf "$dir"
  cp -a "$T/real" "$dir"
  special "$kind" "$dir/$archive"
  validate_refuses "archive $kind" "$dir" 5 "backup file '$archive' is not a regular file"
  pass "archive that is $(kind_of "$kind"): refused in $secs s; nothing changed"
  rm -rf "$dir"
done
# A symbolic link to the real manifest is refused too: links are never followed.
cp -a "$T/real" "$T/linked" && mv "$T/linked/backupmanifest.xml" "$T/backupmanifest.real" &&
  ln -s "$T/backupmanifest.real" "$T/linked/backupmanifest.xml"
validate_refuses "manifest link" "$T/linked" 7 "cannot read '$T/linked/backupmanifest.xml': it is a symbolic link, and hsmbak never reads input through one; give the file it points to (readlink -f '$T/linked/backupmanifest.xml')"
pass "a symbolic link to a real manifest is refused (never followed)"

hb secure-restore rcptcred "$T/real" --validate >/dev/null || fail "the control backup no longer validates"
pass "control: the real backup still validates"
echo
cat "$T/figures"
finish
