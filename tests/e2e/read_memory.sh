# Issue 16: memory stays flat on the read side. A backup of 200,000 entries
# (400 directories of 500 tiny or empty files under local/) is validated and
# restored, each under 64 MiB peak RSS (/usr/bin/time %M), with archives read
# by two workers at once; the restored tree is byte-identical.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
LIMIT_KIB=$((64 * 1024))
# AddressSanitizer's shadow memory and quarantine are not the program's:
# the limit is for real builds; a sanitized one still runs the restore.
if sanitized_build; then LIMIT_KIB=$((1024 * 1024)); fi

make_system
python3 - "$HSMBAK_ROOT/local/many" <<'PY'
import os, sys
top = sys.argv[1]
os.makedirs(top)
for d in range(400):
    dd = os.path.join(top, "d%03d" % d)
    os.mkdir(dd)
    for f in range(499):
        fd = os.open(os.path.join(dd, "f%03d" % f), os.O_WRONLY | os.O_CREAT, 0o644)
        if f % 3:
            os.write(fd, b"x%d\n" % (d * 1000 + f))
        os.close(fd)
PY
n=$(find "$HSMBAK_ROOT/local" | wc -l)
[ "$n" -ge 200000 ] || fail "only $n entries generated"
hb secure-backup rcpt "$T/b" >/dev/null || fail "backup of $n entries"
want=$(tree_digest "$HSMBAK_ROOT/local")
download
hb factory-reset --yes >/dev/null
prepare_restore rcpt "$TOKEN"
export HSMBAK_READ_WORKERS=2

peak() { # CMD...: runs it, prints its peak RSS in KiB
  /usr/bin/time -f %M -o "$T/rss" "$@" >/dev/null 2>"$T/cmd.err" || fail "'$*': $(cat "$T/cmd.err")"
  cat "$T/rss"
}
v=$(peak "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b" --validate)
[ "$v" -lt "$LIMIT_KIB" ] || fail "validate of $n entries peaked at $v KiB (limit $LIMIT_KIB)"
pass "validate of $n entries: peak RSS $((v / 1024)) MiB < $((LIMIT_KIB / 1024)) MiB"
x=$(peak "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore rcptcred "$T/b")
[ "$x" -lt "$LIMIT_KIB" ] || fail "restore of $n entries peaked at $x KiB (limit $LIMIT_KIB)"
[ "$(tree_digest "$HSMBAK_ROOT/local")" = "$want" ] || fail "the restored local/ differs"
pass "restore of $n entries: peak RSS $((x / 1024)) MiB < $((LIMIT_KIB / 1024)) MiB, tree identical"
finish
