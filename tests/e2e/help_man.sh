# Issue 7: `hsmbak --help` and hsmbak(1) list the same subcommands; every
# `hsmbak CMD --help` works and its options are in the man page; the man
# pages format without warnings. (Runs under with-token like every e2e test,
# though it needs no token.)
. "$HSMBAK_SRC/tests/lib/e2e.sh"
man1=$HSMBAK_SRC/man/hsmbak.1

# Subcommands in --help: the command words of each two-space-indented line.
"$HSMBAK_BIN" --help > "$T/help.txt"
awk '/^commands:/{on=1; next} on && /^$/{on=0} on && /^  [a-z]/{
       out=""; for (i = 1; i <= NF; i++) { if ($i !~ /^[a-z][a-z-]*$/) break; out = out (out ? " " : "") $i }
       print out }' "$T/help.txt" | sort -u > "$T/help.cmds"
# Subcommands in hsmbak(1): its .SS headings under COMMANDS.
awk '/^\.SH COMMANDS/{on=1; next} /^\.SH /{on=0} on && /^\.SS /{sub(/^\.SS +/, ""); gsub(/\\-/, "-"); gsub(/"/, ""); print}' \
  "$man1" | sort -u > "$T/man.cmds"
[ "$(wc -l < "$T/help.cmds")" -ge 15 ] || fail "too few commands parsed from --help: $(cat "$T/help.cmds")"
diff -u "$T/help.cmds" "$T/man.cmds" > "$T/cmds.diff" || fail "--help and hsmbak.1 list different subcommands: $(cat "$T/cmds.diff")"
pass "--help and hsmbak(1) list the same $(wc -l < "$T/help.cmds") subcommands"

# Every subcommand's own --help, and each option they show is in the man page
# (few processes: this machine's forks are slow).
sed 's/\\-/-/g' "$man1" > "$T/man.txt"
: > "$T/helps.txt"
while read -r cmd sub; do
  "$HSMBAK_BIN" $cmd $sub --help > "$T/one-help.txt" || fail "hsmbak $cmd $sub --help failed"
  grep -q "^  hsmbak $cmd${sub:+ $sub}" "$T/one-help.txt" || fail "hsmbak $cmd $sub --help: $(cat "$T/one-help.txt")"
  cat "$T/one-help.txt" >> "$T/helps.txt"
done < "$T/help.cmds"
grep -o -- '--[a-z][a-z0-9-]*' "$T/helps.txt" | sort -u > "$T/help.opts"
grep -o -- '--[a-z][a-z0-9-]*' "$T/man.txt" | sort -u > "$T/man.opts"
missing=$(comm -23 "$T/help.opts" "$T/man.opts")
[ -z "$missing" ] || fail "options in --help but not in hsmbak.1: $missing"
[ "$(wc -l < "$T/help.opts")" -ge 30 ] || fail "too few options parsed: $(cat "$T/help.opts")"
for opt in --root --module --pin-source --json --quiet --verbose --version --help; do
  grep -qF -- "$opt" "$T/man.txt" || fail "global option $opt not in hsmbak.1"
  grep -qF -- "$opt" "$T/help.txt" || fail "global option $opt not in --help"
done
pass "each 'hsmbak CMD --help' works and its options are documented"

# Exit codes: the same numbers in --help, hsmbak(1) and status.h.
for code in 2 3 4 5 6 7 8 9; do
  grep -q "^\.B $code\$" "$man1" || fail "exit status $code not in hsmbak.1"
  grep -qE "HB_E_[A-Z_]+ = $code," "$HSMBAK_SRC/include/hsmbak/status.h" || fail "status.h has no $code"
  grep -qE "(^|[ ,])$code [a-zA-Z]" "$T/help.txt" || fail "exit status $code not in --help"
done
pass "exit statuses agree between status.h, --help and hsmbak(1)"

for page in "$man1" "$HSMBAK_SRC/man/hsmbak-format.5" "$HSMBAK_SRC/man/hsmbak-profile.5"; do
  warn=$(MANWIDTH=80 man -l --warnings "$page" 2>&1 >/dev/null) || fail "man cannot format $page"
  [ -z "$warn" ] || fail "$page: $warn"
  MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "SEE ALSO" || fail "$page renders empty"
done
pass "man pages format without warnings"
finish
