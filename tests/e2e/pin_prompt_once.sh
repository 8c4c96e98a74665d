# Issue 13: one PIN prompt per token per run. A recipient keygen logs in for
# the key pair, then loads the new key twice through pkcs11-provider (the
# self-signed certificate, the key-wrap probe): the user types the PIN once.
# Backup (signer on the token) and validate (unwrap on the token) ask once
# too. A wrong PIN is not remembered: the next command asks again. The PIN
# is typed into a real pseudo-terminal, after the prompt, never echoed.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
make_system
PIN=$(cat "$PIN_FILE")

# prompts LOG: how many PIN prompts the terminal showed (not "wrong PIN for").
prompts() { { grep -aoE '(wrong )?PIN for' "$1" 2>/dev/null || true; } | { grep -cv '^wrong' || true; }; }

# typed LOG ANSWER CMD...: run CMD on a pseudo-terminal (util-linux script);
# every time a new "PIN for" prompt appears, type ANSWER and Enter. LOG gets
# what the terminal showed; $T/typed.rc the exit status. At most five
# answers, then the command is left to time out: a test, never a hang.
typed() {
  local log=$1 answer=$2 cmd n=0 c pid
  shift 2
  printf -v cmd '%q ' "$@"
  rm -f "$T/pty.in" "$log" "$T/typed.rc"
  mkfifo "$T/pty.in"
  ( rc=0; timeout 60 script -qfec "$cmd" "$log" < "$T/pty.in" > /dev/null || rc=$?
    echo "$rc" > "$T/typed.rc" ) &
  pid=$!
  exec 7> "$T/pty.in"
  while kill -0 "$pid" 2>/dev/null; do
    c=$(prompts "$log")
    if [ "$c" -gt "$n" ] && [ "$n" -lt 5 ]; then
      printf '%s\r' "$answer" >&7
      n=$c
    fi
    sleep 0.1
  done
  exec 7>&-
  wait "$pid" || true
  rm -f "$T/pty.in"
}

typed "$T/keygen.tty" "$PIN" "$HSMBAK_BIN" crypto keygen --cn "Typed Recipient" \
  --token "pkcs11:token=$TOKEN" --gen-sscert --file-name typed
[ "$(cat "$T/typed.rc")" = 0 ] || fail "keygen in a pty failed: $(cat -v "$T/keygen.tty")"
[ "$(prompts "$T/keygen.tty")" = 1 ] \
  || fail "keygen asked $(prompts "$T/keygen.tty") times: $(cat -v "$T/keygen.tty")"
grep -aq "PIN for token '$TOKEN': " "$T/keygen.tty" || fail "the prompt does not name the token: $(cat -v "$T/keygen.tty")"
grep -aqF "$PIN" "$T/keygen.tty" && fail "the typed PIN was echoed"
[ -f "$HSMBAK_ROOT/cert/typed-sscert.pem" ] || fail "keygen made no certificate"
pass "a recipient keygen asks for the PIN once, names the token, does not echo"

typed "$T/backup.tty" "$PIN" "$HSMBAK_BIN" --quiet secure-backup rcpt "$T/b1"
[ "$(cat "$T/typed.rc")" = 0 ] || fail "backup in a pty failed: $(cat -v "$T/backup.tty")"
[ "$(prompts "$T/backup.tty")" = 1 ] || fail "backup asked $(prompts "$T/backup.tty") times"
typed "$T/validate.tty" "$PIN" "$HSMBAK_BIN" --quiet secure-restore rcptcred "$T/b1" --validate
[ "$(cat "$T/typed.rc")" = 0 ] || fail "validate in a pty failed: $(cat -v "$T/validate.tty")"
[ "$(prompts "$T/validate.tty")" = 1 ] || fail "validate asked $(prompts "$T/validate.tty") times: $(cat -v "$T/validate.tty")"
pass "secure-backup (signing) and validate (one unwrap per archive) ask once each"

# A wrong PIN: refused, and not kept for a second try within the run.
typed "$T/wrong.tty" "not-the-pin" "$HSMBAK_BIN" crypto keygen --cn "Wrong" \
  --token "pkcs11:token=$TOKEN" --gen-sscert --file-name wrong
[ "$(cat "$T/typed.rc")" = 4 ] || fail "a wrong PIN: exit $(cat "$T/typed.rc"), not 4 (HB_E_AUTH)"
grep -aq "wrong PIN for token '$TOKEN' (CKR_PIN_INCORRECT)" "$T/wrong.tty" \
  || fail "no wrong-PIN message: $(cat -v "$T/wrong.tty")"
[ "$(prompts "$T/wrong.tty")" = 1 ] || fail "a refused PIN led to $(prompts "$T/wrong.tty") prompts"
[ ! -e "$HSMBAK_ROOT/cert/wrong-sscert.pem" ] || fail "a refused login still wrote a certificate"
pass "a wrong PIN is refused once, with the message, and nothing is written"
finish
