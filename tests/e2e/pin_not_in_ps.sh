# Issue 2: no PIN ever shows in any process's command line while hsmbak runs.
. "$HSMBAK_SRC/tests/lib/e2e.sh"

pin=$(cat "$PIN_FILE")
hb system init --profile appliance >/dev/null
# A 4096-bit key takes long enough to be watched.
hb crypto keygen --cn "Slow" --key-type rsa:4096 --token "pkcs11:token=$TOKEN" --gen-sscert \
   --file-name slow >/dev/null &
job=$!
seen=0 samples=0
while kill -0 "$job" 2>/dev/null; do
  if ps -eo args= | grep -v grep | grep -qF -- "$pin"; then seen=1; fi
  samples=$((samples + 1))
  sleep 0.02
done
wait "$job" || fail "keygen failed"
[ "$seen" -eq 0 ] || fail "the PIN appeared in ps output"
[ "$samples" -gt 0 ] || fail "keygen finished before ps could look"
pass "PIN absent from ps in $samples samples during keygen"

# Environment variable PIN source: the value is read, never echoed back.
export HSMBAK_TEST_PIN=$pin
"$HSMBAK_BIN" --pin-source env:HSMBAK_TEST_PIN token list --login > "$T/list.out" 2>&1 || fail "env pin-source"
grep -qF -- "$pin" "$T/list.out" && fail "the PIN was printed"
pass "env: pin source works and the PIN is never printed"
finish
