# Issue 16: backup memory does not grow with the number of hard-linked
# files. 200,000 files of local/, each with its other name outside the
# system (as after `cp -al`, the worst case: no file ever has all its links
# seen), back up within 64 MiB peak RSS (/usr/bin/time %M). libarchive's
# link resolver, which kept a whole entry per such file, took ~500 MiB
# here; hsmbak's (device, inode) -> first path map takes a few dozen bytes
# a file. local/ is unchanged. (That hard links come back as hard links
# is unit/test_archive's round trip.)
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

FILES=200000
MAX_RSS_KB=65536
# ASan's shadow memory takes about 3x (as worst_day_hostile_xml); its
# quarantine of freed blocks (256 MiB by default) is bounded to 16 MiB, or
# it alone fills the budget with the walk's freed entries.
if sanitized_build; then
  MAX_RSS_KB=$((3 * MAX_RSS_KB))
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=16"
  echo "sanitizer build: limit $((MAX_RSS_KB / 1024)) MiB, ASan quarantine 16 MiB"
fi

make_system
python3 - "$T/outside" "$HSMBAK_ROOT/local/many" "$FILES" <<'EOF'
import os, sys
outside, inside, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    d = "d%03d/e%02d" % (i // 1000, i % 10)
    if i % 1000 < 10:
        os.makedirs(os.path.join(outside, d)); os.makedirs(os.path.join(inside, d))
    name = "%s/file-%06d.conf" % (d, i)
    with open(os.path.join(outside, name), "wb") as f:
        if i % 100 == 0:
            f.write(b"x=%d\n" % i)
    os.link(os.path.join(outside, name), os.path.join(inside, name))
EOF
ln "$HSMBAK_ROOT/local/many/d000/e00/file-000000.conf" "$HSMBAK_ROOT/local/twin.conf"
entries=$(find "$HSMBAK_ROOT/local" | wc -l)
[ "$entries" -gt "$FILES" ] || fail "the tree holds $entries entries, want more than $FILES"
before=$(tree_digest "$HSMBAK_ROOT/local")

/usr/bin/time -f '%e %M' -o "$T/time" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" \
  secure-backup rcpt "$T/b" > "$T/out" 2> "$T/err" || fail "backup failed: $(cat "$T/err")"
read -r secs rss_kb < <(tail -1 "$T/time")
echo "  backup of $entries entries, all hard-linked: $secs s, peak RSS $((rss_kb / 1024)) MiB"
[ "$rss_kb" -le "$MAX_RSS_KB" ] ||
  fail "backup of $entries hard-linked entries took $((rss_kb / 1024)) MiB peak RSS, want at most $((MAX_RSS_KB / 1024)) MiB"
pass "backup of $entries hard-linked entries: peak RSS $((rss_kb / 1024)) MiB <= $((MAX_RSS_KB / 1024)) MiB"
[ "$(tree_digest "$HSMBAK_ROOT/local")" = "$before" ] || fail "local/ changed"
pass "local/ is unchanged"

finish
