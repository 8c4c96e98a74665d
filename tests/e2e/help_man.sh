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

# Issue 13: every option of every command has a description (and its
# default, where it has one) in `hsmbak CMD --help`, the synopsis lists the
# same options, `hsmbak help CMD` says the same, and hsmbak(1) has each of
# them in the command's synopsis and describes it below.
while read -r cmd sub; do
  name="$cmd${sub:+ $sub}"
  "$HSMBAK_BIN" $cmd $sub --help > "$T/h.txt"
  "$HSMBAK_BIN" help $cmd $sub > "$T/h2.txt" || fail "hsmbak help $name failed"
  cmp -s "$T/h.txt" "$T/h2.txt" || fail "'hsmbak help $name' and 'hsmbak $name --help' differ"
  # The purpose: the first non-empty line after the synopsis, a sentence.
  purpose=$(awk 'NR > 1 && !/^  / && NF { print; exit }' "$T/h.txt")
  [[ $purpose =~ ^[A-Z] ]] || fail "$name: no one-line purpose after the synopsis: $(cat "$T/h.txt")"
  grep -qF "  $name  " "$T/help.txt" || grep -qE "^  $name +[A-Z]" "$T/help.txt" \
    || fail "$name: no purpose line in the overview"
  # Options rows: "  --opt [ARG]   description", the description maybe on
  # the next line (indented); each must have one.
  awk '/^options:/{on=1; next} on && /^$/{exit} on' "$T/h.txt" > "$T/rows.txt"
  awk -v cmd="$name" '
    /^  --/ { if (opt != "" && !desc) { print cmd ": option " opt " has no description"; bad=1 }
              opt=$1; line=$0; sub(/^  --[^ ]*( [^ ]+)?/, "", line); desc = (line ~ /[a-z]/); next }
    /^   +[^ ]/ { if (opt != "") desc=1; next }
    END { if (opt != "" && !desc) { print cmd ": option " opt " has no description"; bad=1 } exit bad }' \
    "$T/rows.txt" || fail "$(cat "$T/rows.txt")"
  { grep -o '^  --[a-z][a-z0-9-]*' "$T/rows.txt" || true; } | sed 's/^  //' | sort -u > "$T/opts.rows"
  awk '/^usage:/{on=1; next} on && /^$/{exit} on' "$T/h.txt" | { grep -o -- '--[a-z][a-z0-9-]*' || true; } | sort -u > "$T/opts.syn"
  diff -u "$T/opts.syn" "$T/opts.rows" > "$T/o.diff" || fail "$name: synopsis and options list differ: $(cat "$T/o.diff")"
  # hsmbak(1): the .SS section of the command; its synopsis (up to the
  # first .PP) lists the same options, and its text after it names each.
  awk -v want="$name" '/^\.SS /{ s=$0; sub(/^\.SS +/, "", s); gsub(/\\-/, "-", s); on = (s == want); next }
                       /^\.S[HS] /{ on=0 } on' "$man1" | sed 's/\\-/-/g' > "$T/man.sec"
  [ -s "$T/man.sec" ] || fail "$name: no section in hsmbak.1"
  awk '/^\.PP/{exit} {print}' "$T/man.sec" | { grep -o -- '--[a-z][a-z0-9-]*' || true; } | sort -u > "$T/man.syn"
  diff -u "$T/opts.rows" "$T/man.syn" > "$T/m.diff" || fail "$name: hsmbak.1's synopsis has other options than --help: $(cat "$T/m.diff")"
  awk 'seen{print} /^\.PP/{seen=1}' "$T/man.sec" > "$T/man.body"
  while read -r opt; do
    grep -qF -- "$opt" "$T/man.body" || fail "$name: hsmbak.1 does not describe $opt"
  done < "$T/opts.rows"
  # Each .TP item: a tag line, then a description.
  awk -v cmd="$name" '/^\.TP/{ tp=1; next } tp==1 { tag=$0; tp=2; next }
       tp==2 { if ($0 ~ /^\./ || $0 == "") { print cmd ": hsmbak.1 item " tag " has no description"; bad=1 } tp=0 }
       END { exit bad }' "$T/man.body" || fail "$name: an option in hsmbak.1 without a description"
done < "$T/help.cmds"
pass "every option of every command has a description in --help and in hsmbak(1), synopses agree"

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
