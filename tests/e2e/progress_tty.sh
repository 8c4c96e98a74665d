# Issue 7: a progress line on stderr when it is a terminal (bytes, files,
# rate, ETA, current archive) for backup, validate and restore; nothing when
# stderr is not a terminal, or with --quiet or --json.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
make_system
head -c 2000000 /dev/urandom > "$HSMBAK_ROOT/local/big.bin"

# in_pty LOG CMD...: run CMD with stdin, stdout and stderr on a pseudo-terminal
# (util-linux script); LOG gets everything the terminal saw.
in_pty() {
  local log=$1; shift
  local cmd
  printf -v cmd '%q ' "$@"
  script -qfec "$cmd" "$log" < /dev/null > /dev/null
}
HB=("$HSMBAK_BIN" --pin-source "file:$PIN_FILE")

in_pty "$T/backup.tty" "${HB[@]}" secure-backup rcpt "$T/b1" || fail "backup in a pty failed: $(cat "$T/backup.tty")"
grep -a "Secure backup is complete." "$T/backup.tty" >/dev/null || fail "no completion in the pty"
# The progress line: label, done / total, percent, files, rate, ETA, archive.
grep -aE $'\r\033\\[Ksecure-backup  [0-9.]+ (B|KiB|MiB) / [0-9.]+ (B|KiB|MiB) +[0-9]+%  [0-9]+/[0-9]+ files  [0-9.]+ (B|KiB|MiB)/s  ETA [-0-9:]+  [a-z-]+' \
  "$T/backup.tty" >/dev/null || fail "no progress line in the pty: $(cat -v "$T/backup.tty")"
grep -aE 'secure-backup  [0-9.]+ MiB / 1\.[0-9] MiB|secure-backup  [0-9.]+ MiB / [0-9.]+ MiB' "$T/backup.tty" >/dev/null || fail "progress does not count file bytes"
grep -aE ' ([0-9]+)/\1 files' "$T/backup.tty" >/dev/null || fail "progress never reached all files"
pass "secure-backup in a terminal draws the progress line (bytes, files, rate, ETA, archive)"

in_pty "$T/validate.tty" "${HB[@]}" secure-restore rcptcred "$T/b1" --validate || fail "validate in a pty"
grep -aE $'\r\033\\[Kvalidate  [0-9.]+ (B|KiB|MiB) / [0-9.]+ (B|KiB|MiB) .* files .*/s  ETA' "$T/validate.tty" >/dev/null \
  || fail "no progress line for validate: $(cat -v "$T/validate.tty")"
pass "validate in a terminal draws the progress line"

# Not a terminal: stderr holds nothing at all.
hb secure-backup rcpt "$T/b2" > "$T/b2.out" 2> "$T/b2.err" || fail "backup without a terminal"
[ ! -s "$T/b2.err" ] || fail "stderr is not empty without a terminal: $(cat -v "$T/b2.err")"
hb secure-restore rcptcred "$T/b2" --validate > "$T/v2.out" 2> "$T/v2.err" || fail "validate without a terminal"
[ ! -s "$T/v2.err" ] || fail "validate stderr not empty: $(cat -v "$T/v2.err")"
pass "without a terminal, stderr holds no progress"

# --quiet and --json in a terminal: no progress line either.
in_pty "$T/quiet.tty" "${HB[@]}" --quiet secure-backup rcpt "$T/b3" || fail "quiet backup"
grep -aq 'files' "$T/quiet.tty" && fail "--quiet still drew progress: $(cat -v "$T/quiet.tty")"
# (script writes its own "Script started/done" lines into the log)
[ -z "$(grep -av '^Script \(started\|done\)' "$T/quiet.tty" | tr -d '\r\n')" ] || fail "--quiet printed: $(cat -v "$T/quiet.tty")"
in_pty "$T/json.tty" "${HB[@]}" --json secure-backup rcpt "$T/b4" || fail "json backup"
grep -aq $'\033\\[K' "$T/json.tty" && fail "--json drew progress"
grep -av '^Script \(started\|done\)' "$T/json.tty" | tr -d '\r' | jq -e '.ok' >/dev/null || fail "--json output in a pty is not one document"
pass "--quiet and --json draw no progress in a terminal"

# --verbose: one line per archive and per check, terminal or not.
hb --verbose secure-restore rcptcred "$T/b2" --validate > /dev/null 2> "$T/verbose.err"
grep -q "validate: check signature: ok" "$T/verbose.err" || fail "--verbose checks: $(cat "$T/verbose.err")"
grep -q "validate: complete config" "$T/verbose.err" || fail "--verbose archives"
grep -q $'\033' "$T/verbose.err" && fail "--verbose without a terminal drew a progress line"
pass "--verbose reports each archive and check"
finish
