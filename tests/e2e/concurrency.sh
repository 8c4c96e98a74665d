# Concurrency (issue 6): two operations on the same system root, or two
# backups to the same destination, at once. The second refuses clearly
# (ROOT/.hsmbak/lock, or a destination that is no longer empty); nothing
# interleaves: what was made validates, what was refused left nothing.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

fixture_system
# Enough data that a backup runs for a while.
head -c 20000000 /dev/urandom > "$HSMBAK_ROOT/config/big.bin"
LOCKMSG="another hsmbak operation is working on '$HSMBAK_ROOT' (it holds $HSMBAK_ROOT/.hsmbak/lock); wait for it to finish and run this again"

# wait_for GLOB: until a path matching GLOB exists (10 s at most).
wait_for() {
  for _ in $(seq 1 200); do compgen -G "$1" >/dev/null && return 0; sleep 0.05; done
  fail "nothing matched $1"
}

# 1. Same root: while a backup runs, every other operation on the root refuses.
"$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup mybackupcert "$T/first" >"$T/first.log" 2>&1 &
pid=$!
wait_for "$T/.first.hsmbak-partial-*"
kill -STOP $pid || fail "the first backup finished too soon to test the lock"   # frozen mid-run, lock held
expect_fail 6 "$LOCKMSG" hb secure-backup mybackupcert "$T/second"
expect_fail 6 "$LOCKMSG" hb secure-restore mybackupcred "$T/first" --validate
expect_fail 6 "$LOCKMSG" hb crypto certificate extra cert:///mybackupcert-sscert.pem
expect_fail 6 "$LOCKMSG" hb factory-reset --yes
kill -CONT $pid
wait $pid || { cat "$T/first.log"; fail "the first backup failed"; }
[ ! -e "$T/second" ] && ! compgen -G "$T/.second.hsmbak-partial-*" >/dev/null ||
  fail "the refused backup left something behind"
hb secure-restore mybackupcred "$T/first" --validate >/dev/null || fail "the first backup does not validate"
pass "a running backup holds the root: backup, validate, crypto and factory-reset refuse; it completes intact"

# 2. Same root: while a restore runs, a backup refuses; the restore completes.
fixture_factory
"$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore mybackupcred "$T/first" >"$T/restore.log" 2>&1 &
pid=$!
wait_for "$HSMBAK_ROOT.hsmbak-staging-*"
kill -STOP $pid || fail "the restore finished too soon to test the lock"
expect_fail 6 "another hsmbak operation is working on '$HSMBAK_ROOT'" hb secure-backup mybackupcert "$T/third"
kill -CONT $pid
wait $pid || { cat "$T/restore.log"; fail "the restore failed"; }
[ ! -e "$T/third" ] || fail "the refused backup left '$T/third'"
pass "a running restore holds the root (the lock survives the swap); it completes"

# 3. Same destination, two systems: exactly one backup lands, the other
#    refuses, and the destination is a complete backup.
# system2 signs with its own key on the second token: SoftHSM 2.6.1 does not
# promise that two processes using one token at once both find its objects
# (seen: "no private key matches" while the other process logs in), and a
# site's two systems would not share a signer anyway.
TOKEN2=$(echo "$HSMBAK_TEST_TOKENS" | cut -d' ' -f2)
cp -a "$HSMBAK_ROOT" "$T/system2"
hb --root "$T/system2" crypto keygen --cn "Signer 2" --usage signer --key-type ec:p256 \
   --token "pkcs11:token=$TOKEN2" --gen-sscert --file-name signer2 --gen-object >/dev/null
hb --root "$T/system2" crypto idcred signer2cred signer2 signer2 >/dev/null
hb --root "$T/system2" crypto backup-signer signer2cred >/dev/null
hb crypto certificate signer2 "$T/system2/cert/signer2-sscert.pem" >/dev/null
hb crypto trusted-signer signer2 >/dev/null
rm -f "$HSMBAK_ROOT/config/big.bin" "$T/system2/config/big.bin"
head -c 20000000 /dev/urandom > "$HSMBAK_ROOT/config/big.bin"
head -c 20000000 /dev/urandom > "$T/system2/config/big.bin"
rcs=""
for round in 1 2 3; do
  rm -rf "$T/shared"
  "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup mybackupcert "$T/shared" >"$T/a.log" 2>&1 & a=$!
  "$HSMBAK_BIN" --root "$T/system2" --pin-source "file:$PIN_FILE" secure-backup mybackupcert "$T/shared" >"$T/b.log" 2>&1 & b=$!
  ra=0; rb=0
  wait $a || ra=$?
  wait $b || rb=$?
  rcs="$rcs $ra/$rb"
  { [ $ra = 0 ] && [ $rb = 6 ]; } || { [ $ra = 6 ] && [ $rb = 0 ]; } ||
    fail "round $round: exits $ra and $rb, want one 0 and one 6: $(cat "$T/a.log" "$T/b.log")"
  grep -h "hsmbak:" "$T/a.log" "$T/b.log" | grep -q "$T/shared" || fail "round $round: the refusal does not name the destination: $(grep -h hsmbak: "$T/a.log" "$T/b.log")"
  hb secure-restore mybackupcred "$T/shared" --validate >/dev/null || fail "round $round: the destination does not validate"
  if compgen -G "$T/.shared.hsmbak-partial-*" >/dev/null; then fail "round $round: partial left"; fi
done
pass "two backups to one destination: one lands complete, the other refuses (exits:$rcs)"
finish
