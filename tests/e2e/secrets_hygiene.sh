# Secrets hygiene (issue 6), on a real round trip with the PIN given through
# an environment variable (the source most likely to leak):
#  - the PIN is in no process's argv while hsmbak runs, not in the post-restore
#    command's environment or argv, not in any output, file or backup;
#  - hsmbak cannot leave a core file (RLIMIT_CORE 0, not dumpable);
#  - every file hsmbak writes is 0600 and every directory it makes 0700,
#    whatever the umask.
# (DEK and PIN buffers are checked for wiping in tests/unit/test_wipe.c and
# tests/token/test_pin_wipe.c.)
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

umask 022
pin=$(cat "$PIN_FILE")
export HSMBAK_SECRET_PIN=$pin
# Every run through the env: source, with its output kept for inspection.
hb() {
  local rc=0
  "$HSMBAK_BIN" --pin-source env:HSMBAK_SECRET_PIN "$@" 2>"$T/last.err" | tee -a "$T/all.out" || rc=$?
  cat "$T/last.err" >> "$T/all.err"
  [ "$rc" -eq 0 ] || { cat "$T/last.err" >&2; fail "hsmbak $* exited $rc"; }
}

# A profile whose post-restore command records what it was given.
mkdir -p "$T/prof"
cp -r "$HSMBAK_SRC/data/profiles/appliance.factory" "$T/prof/"
sed 's|<post-restore-command>true</post-restore-command>|<post-restore-command>env \&gt; ../child.env; tr "\\\\0" " " \&lt; /proc/$$/cmdline \&gt; ../child.args</post-restore-command>|' \
  "$HSMBAK_SRC/data/profiles/appliance.xml" > "$T/prof/appliance.xml"
grep -q 'child.env' "$T/prof/appliance.xml" || fail "profile edit"
FIXTURE_PROFILE=$T/prof/appliance.xml fixture_system
fixture_backup "$T/b1"

# Watch argv of every process while a restore runs.
fixture_factory
hb secure-restore mybackupcred "$T/b1" --validate >/dev/null
# The watcher stops at a flag, not by a kill: a killed loop can leave its last
# ps running, which would then record the grep below (whose argv holds the PIN).
( while [ ! -e "$T/ps.stop" ]; do ps -eo args= >> "$T/ps.log"; sleep 0.01; done ) & watcher=$!
hb secure-restore mybackupcred "$T/b1" >/dev/null
touch "$T/ps.stop"; wait $watcher
[ -s "$T/ps.log" ] || fail "no ps samples"
! grep -qF -- "$pin" "$T/ps.log" || fail "the PIN appeared in a command line"
pass "PIN absent from every argv ($(grep -c . "$T/ps.log") ps lines sampled during a restore)"

[ -s "$T/child.env" ] || fail "the post-restore command did not run"
! grep -qF -- "$pin" "$T/child.env" "$T/child.args" || fail "the PIN reached the post-restore command"
! grep -q 'HSMBAK_SECRET_PIN\|SOFTHSM2_CONF\|PIN' "$T/child.env" || fail "hsmbak's environment reached the post-restore command: $(cat "$T/child.env")"
pass "post-restore command: PIN and hsmbak's environment absent ($(tr '\n' ' ' < "$T/child.env"))"

! grep -rqF -- "$pin" "$T/all.out" "$T/all.err" || fail "the PIN was printed"
! grep -rqaF -- "$pin" "$HSMBAK_ROOT" "$T/b1" "$T/fixture" || fail "the PIN is in a file"
pass "PIN in no output, no file of the system, no backup"

# Modes of what hsmbak wrote (umask 022 all along).
bad=$(find "$T/b1" "$HSMBAK_ROOT/.hsmbak" "$HSMBAK_ROOT/config/crypto.xml" \
           "$HSMBAK_ROOT"/cert/*-sscert.pem \
      \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) | sed "s|$T/||")
[ -z "$bad" ] || fail "not 0600/0700: $(for f in $bad; do stat -c '%a %n' "$T/$f"; done)"
hb crypto keygen --cn "Exported" --token "pkcs11:token=$TOKEN" --gen-sscert --file-name exp \
   --export-sscert >/dev/null
hb crypto keygen --cn "CSR only" --token "pkcs11:token=$TOKEN" --csr --file-name req >/dev/null
for f in "$HSMBAK_ROOT/cert/exp-sscert.pem" "$HSMBAK_ROOT/temporary/exp-sscert.pem" "$HSMBAK_ROOT/temporary/req.csr"; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f is $(stat -c %a "$f")"
done
pass "backup files 0600 and directory 0700, .hsmbak, crypto.xml, keygen certificates and CSR 0600 (umask 022)"
# Core files: a process killed by SIGSEGV dumps core here, hsmbak does not.
# Last, and on the third token: a kill during SoftHSM's login can break the
# token it was using (docs/reliability.md, crash safety).
TOKEN3=$(echo "$HSMBAK_TEST_TOKENS" | cut -d' ' -f3)
mkdir "$T/cores" && cd "$T/cores"
ulimit -c unlimited 2>/dev/null || true
sleep 30 & s=$!; sleep 0.2; kill -SEGV $s; wait $s 2>/dev/null || true
if compgen -G "core*" >/dev/null; then
  rm -f core*
  "$HSMBAK_BIN" --pin-source env:HSMBAK_SECRET_PIN crypto keygen --cn Slow --key-type rsa:4096 \
     --token "pkcs11:token=$TOKEN3" --gen-sscert --file-name slowkey >/dev/null 2>"$T/slow.err" & h=$!
  sleep 0.3   # past start-up: the provider is open, the PIN read
  kill -0 $h 2>/dev/null || fail "keygen ended early: $(cat "$T/slow.err")"
  grep -qs 'Max core file size *0 *0' /proc/$h/limits || fail "hsmbak allows core dumps"
  kill -SEGV $h; wait $h 2>/dev/null || true
  if compgen -G "core*" >/dev/null; then fail "hsmbak left a core file: $(ls core*)"; fi
  pass "hsmbak killed by SIGSEGV mid-keygen leaves no core file (a plain process does)"
else
  echo "SKIP: this machine writes no core files (core_pattern: $(cat /proc/sys/kernel/core_pattern))"
fi
cd "$T"

finish
