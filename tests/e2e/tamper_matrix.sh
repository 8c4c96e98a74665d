# Tamper matrix (issue 6): every single-point corruption of a real backup is
# refused by secure-restore --validate and by secure-restore with its own
# message, and the system root stays byte-identical (tree digest). Prints the
# matrix as a table.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
: "${HSMBAK_CRAFT:?run through ctest (HSMBAK_CRAFT)}"

fixture_system
fixture_untrusted
# b2 first: b1, the source of every case, is the newest backup this system
# made, so its cases are no rollback (worst_day_rollback.sh tests that).
fixture_backup "$T/b2"
fixture_backup "$T/b1"
fixture_factory
ROOT_DIGEST=$(tree_digest "$HSMBAK_ROOT")
M=backupmanifest.xml

fresh() { rm -rf "$T/case"; cp -a "$T/b1" "$T/case"; }
# tampered NAME EXIT MESSAGE COMMAND...: a fresh copy of b1 in $T/case,
# changed by COMMAND, is refused by both restores (refused_both).
tampered() {
  local name=$1 want=$2 fragment=$3; shift 3
  fresh; "$@"
  refused_both "$name" "$want" "$fragment" "$T/case"
}
append_byte() { printf 'x' >> "$1"; }
swap() { mv "$1" "$1.swap"; mv "$2" "$1"; mv "$1.swap" "$2"; }
# flip FILE OFFSET: xor the byte at OFFSET with 0x01.
flip() {
  local f=$1 off=$2 b
  b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
size() { stat -c %s "$1"; }

# The archives: a changed byte anywhere, a cut, an appended byte.
for path in "$T"/b1/*.tzst; do
  f=${path##*/}
  n=$(size "$path")
  for where in start middle end; do
    case $where in start) off=0;; middle) off=$((n / 2));; end) off=$((n - 1));; esac
    tampered "$f: byte flipped at $where" 5 \
      "backup file '$f' does not match its SHA-256 checksum in the manifest" flip "$T/case/$f" $off
  done
  tampered "$f: truncated to half" 5 \
    "backup file '$f' is $((n / 2)) bytes but the manifest says $n (truncated or appended to)" \
    truncate -s $((n / 2)) "$T/case/$f"
  tampered "$f: last byte cut" 5 "backup file '$f' is $((n - 1)) bytes but the manifest says $n" \
    truncate -s $((n - 1)) "$T/case/$f"
  tampered "$f: one byte appended" 5 \
    "backup file '$f' is $((n + 1)) bytes but the manifest says $n" append_byte "$T/case/$f"
done

# The manifest. Its middle byte is a hex digit of the checksum nearest the
# middle (a base64 byte flipped could also fail the schema first: both are
# refusals, but the message must be predictable).
n=$(size "$T/b1/$M")
mid=$(grep -bo '<checksum algorithm="sha256">' "$T/b1/$M" | cut -d: -f1 |
      awk -v h=$((n / 2)) '$1 >= h {print $1; exit}')
mid=$((mid + 40))   # 29 bytes of tag, then 11 into the hex
tampered "$M: byte flipped at start" 5 "manifest is not well-formed XML" flip "$T/case/$M" 0
# A hex digit of the checksum: 0 becomes 1, anything else 0.
hex_digit_changed() {
  local c r
  c=$(od -An -c -j "$2" -N1 "$1" | tr -d ' ')
  case $c in 0) r=1;; *) r=0;; esac
  printf "$r" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
tampered "$M: byte changed in the middle" 5 \
  "digest mismatch (the manifest was changed after it was signed)" \
  hex_digit_changed "$T/case/$M" $mid
tampered "$M: byte flipped at end" 5 "manifest is not well-formed XML" flip "$T/case/$M" $((n - 1))
tampered "$M: truncated to half" 5 "manifest is not well-formed XML" \
  truncate -s $((n / 2)) "$T/case/$M"
# The final newline lies outside the root element, which is all XML-DSig signs
# (exc-C14N drops it); dropping it changes nothing that is read, so the cut
# that counts is the one into the closing tag.
tampered "$M: cut into the closing tag" 5 "manifest is not well-formed XML" \
  truncate -s $((n - 2)) "$T/case/$M"
tampered "$M: one byte appended" 5 "manifest is not well-formed XML" append_byte "$T/case/$M"
tampered "$M: emptied" 5 "manifest is empty" truncate -s 0 "$T/case/$M"
tampered "$M: deleted" 3 \
  "holds no backupmanifest.xml: it is not a secure backup, or an incomplete one" rm "$T/case/$M"

# Whole files.
tampered "archive deleted" 5 "backup file 'config.tzst' is missing from" rm "$T/case/config.tzst"
tampered "archive renamed" 5 "backup file 'config.tzst' is missing from" \
  mv "$T/case/config.tzst" "$T/case/config.tgz"
tampered "archive duplicated" 5 \
  "'config-copy.tzst' in the backup directory is not listed in the manifest" \
  cp "$T/case/config.tzst" "$T/case/config-copy.tzst"
tampered "archives swapped (config, cert)" 5 \
  "backup file 'config.tzst' is $(size "$T/b1/cert.tzst") bytes but the manifest says $(size "$T/b1/config.tzst")" \
  swap "$T/case/config.tzst" "$T/case/cert.tzst"
# A file from another backup fails the first check that tells them apart:
# the size when it differs (archives carry their own times), else the checksum.
mismatch() {  # FILE-IN-MANIFEST-OF-B1 FILE-ON-DISK
  local want=$(size "$1") got=$(size "$2")
  if [ "$want" = "$got" ]; then echo "backup file '${1##*/}' does not match its SHA-256 checksum"
  else echo "backup file '${1##*/}' is $got bytes but the manifest says $want"; fi
}
tampered "archive replayed from another backup" 5 \
  "$(mismatch "$T/b1/config.tzst" "$T/b2/config.tzst")" cp "$T/b2/config.tzst" "$T/case/config.tzst"
first=$(sed -n 's|.*<filename>\([^<]*\)</filename>.*|\1|p' "$T/b2/$M" | head -1) # checked first
tampered "manifest replayed from another backup" 5 "$(mismatch "$T/b2/$first" "$T/b1/$first")" \
  cp "$T/b2/$M" "$T/case/$M"

# Signature and trust.
rm -rf "$T/resigned"
"$HSMBAK_CRAFT" none "$T/b1" "$T/resigned" "pkcs11:token=$TOKEN;object=roguesigner;type=private" \
  "$T/fixture/roguesigner-sscert.pem" "file:$PIN_FILE" || fail "hbcraft"
refused_both "manifest re-signed by an untrusted key" 6 "backup is signed by 'CN=Rogue Signer'" "$T/resigned"
fresh; sed -i '0,/<size>/s/<size>\([0-9]\)/<size>1\1/' "$T/case/$M"
cmp -s "$T/b1/$M" "$T/case/$M" && fail "the size edit did nothing"
refused_both "entry changed without re-signing" 5 "digest mismatch (the manifest was changed after it was signed)" "$T/case"
fresh; sed -i -e '/<recipient id="r1">/,/<\/recipient>/d' -e '/<wrapped-key recipient="r1">/d' "$T/case/$M"
grep -q 'recipient="r1"' "$T/case/$M" && fail "the recipient edit did nothing"
refused_both "recipient removed" 5 "digest mismatch (the manifest was changed after it was signed)" "$T/case"

# Control: the untouched backup restores.
hb secure-restore mybackupcred "$T/b1" >/dev/null || fail "the untouched backup does not restore"
pass "untouched backup restores"
matrix_print
finish
