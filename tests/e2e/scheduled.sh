# Issue 7: scheduled backups. The service's ExecStart line, parsed out of
# systemd/hsmbak-backup@.service and expanded as systemd would (instance
# name, EnvironmentFile variables, the credentials directory holding the
# PIN), makes dated backups; --keep N keeps the N newest valid ones, never
# removes the newest, and leaves anything that is not a valid backup alone.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
make_system
unit=$HSMBAK_SRC/systemd/hsmbak-backup@.service
instance=web1

# What the unit would have: /etc/hsmbak/web1.conf and the PIN credential.
mkdir -p "$T/etc" "$T/creds" "$T/backups"
cat > "$T/etc/$instance.conf" <<CONF
HSMBAK_ROOT=$HSMBAK_ROOT
HSMBAK_RECIPIENTS=rcpt
HSMBAK_DEST=$T/backups/backup-{date}
HSMBAK_KEEP=2
CONF
install -m 0400 "$PIN_FILE" "$T/creds/pin"
grep -q "^LoadCredential=pin:/etc/hsmbak/%i.pin$" "$unit" || fail "the unit does not load the PIN credential"
grep -q "^EnvironmentFile=/etc/hsmbak/%i.conf$" "$unit" || fail "the unit has no EnvironmentFile"

# run_unit: expand ExecStart like systemd (%i, ${VAR} as one word each) and run it
# with the unit's environment only (plus the token's coordinates).
run_unit() {
  local line word out=() value name
  line=$(sed -n 's/^ExecStart=//p' "$unit")
  [ -n "$line" ] || fail "no ExecStart in the unit"
  line=${line//%i/$instance}
  for word in $line; do
    while [[ $word =~ \$\{([A-Z_]+)\} ]]; do
      name=${BASH_REMATCH[1]}
      if [ "$name" = CREDENTIALS_DIRECTORY ]; then value=$T/creds
      else value=$(sed -n "s/^$name=//p" "$T/etc/$instance.conf"); fi
      word=${word//\$\{$name\}/$value}
    done
    out+=("$word")
  done
  [ "${out[0]}" = /usr/bin/hsmbak ] || fail "ExecStart does not run /usr/bin/hsmbak: ${out[0]}"
  out[0]=$HSMBAK_BIN
  env -i PATH=/usr/bin:/bin SOFTHSM2_CONF="$SOFTHSM2_CONF" \
      $(sed -n 's/^\(HSMBAK_[A-Z_]*=.*\)/\1/p' "$T/etc/$instance.conf" | grep -v '^HSMBAK_DEST\|^HSMBAK_RECIPIENTS') \
      "${out[@]}"
}
: "${SOFTHSM2_CONF:?with-token sets SOFTHSM2_CONF}"

for i in 1 2 3; do
  run_unit > "$T/run$i.out" 2> "$T/run$i.err" || fail "run $i: $(cat "$T/run$i.out" "$T/run$i.err")"
  sleep 1.1   # one backup per second: names are dated to the second
done
mapfile -t left < <(ls "$T/backups")
[ "${#left[@]}" -eq 2 ] || fail "--keep 2 left ${#left[@]} backups: ${left[*]}"
for b in "${left[@]}"; do [[ $b =~ ^backup-[0-9]{8}T[0-9]{6}Z$ ]] || fail "bad name $b"; done
grep -q "Removed old backup" "$T/run3.out" || fail "run 3 did not report the removal: $(cat "$T/run3.out")"
newest=$(ls "$T/backups" | sort | tail -1)
hb secure-restore rcptcred "$T/backups/$newest" --validate > /dev/null || fail "the newest backup does not validate"
pass "the unit's ExecStart makes dated backups with the PIN from the credential; --keep 2 keeps 2"

# Something that is not a valid backup is never removed and does not count:
# an old one without a manifest, and an old one with a changed manifest.
mkdir "$T/backups/backup-20000101T000000Z"
cp -a "$T/backups/$newest" "$T/backups/backup-20000102T000000Z"
sed -i 's/<size>/<size>1/' "$T/backups/backup-20000102T000000Z/backupmanifest.xml"
sed -i 's/^HSMBAK_KEEP=.*/HSMBAK_KEEP=1/' "$T/etc/$instance.conf"
run_unit > "$T/run4.out" 2> "$T/run4.err" || fail "run 4: $(cat "$T/run4.err")"
mapfile -t left < <(ls "$T/backups" | sort)
[ "${#left[@]}" -eq 3 ] || fail "keep 1 with two invalid: ${left[*]}"
[ "${left[0]}" = backup-20000101T000000Z ] && [ "${left[1]}" = backup-20000102T000000Z ] || fail "invalid backups were removed: ${left[*]}"
[ "${left[2]}" \> "$newest" ] || fail "the newest backup is not the one kept: ${left[*]}"
grep -q "backup-20000101T000000Z' is not a valid backup" "$T/run4.err" || fail "no warning for the invalid backup: $(cat "$T/run4.err")"
pass "--keep 1 keeps only the newest valid backup and leaves invalid ones alone, with a warning"

# --keep needs a dated destination, and 0 is refused.
expect_fail 2 "dated destination" hb secure-backup rcpt "$T/plain" --keep 3
expect_fail 2 "--keep must be" hb secure-backup rcpt "$T/backups/x-{date}" --keep 0
expect_fail 2 "once, in the last path component" hb secure-backup rcpt "$T/{date}/x-{date}"

# Issue 13: HSMBAK_KEEP is optional. Without it in the .conf the unit keeps
# every backup; a bad value is named; a plain destination ignores it (so an
# exported HSMBAK_KEEP does not break an interactive backup).
sed -i '/^HSMBAK_KEEP=/d' "$T/etc/$instance.conf"
count=$(ls "$T/backups" | wc -l)
sleep 1.1   # one backup per second: names are dated to the second
run_unit > "$T/run5.out" 2> "$T/run5.err" || fail "run without HSMBAK_KEEP: $(cat "$T/run5.err")"
[ "$(ls "$T/backups" | wc -l)" -eq $((count + 1)) ] || fail "without HSMBAK_KEEP a backup was removed: $(ls "$T/backups")"
! grep -q "Removed old backup" "$T/run5.out" || fail "removed without HSMBAK_KEEP"
HSMBAK_KEEP=zero expect_fail 2 "HSMBAK_KEEP must be a number from 1 to 100000, not 'zero'" hb secure-backup rcpt "$T/backups/y-{date}"
HSMBAK_KEEP=3 hb secure-backup rcpt "$T/plain-dest" > /dev/null || fail "HSMBAK_KEEP broke a backup to a plain destination"
pass "HSMBAK_KEEP is optional: without it every backup is kept; a bad value is named"

# The timer is a timer for this service.
timer=$HSMBAK_SRC/systemd/hsmbak-backup@.timer
grep -q '^OnCalendar=' "$timer" && grep -q '^Persistent=true' "$timer" && grep -q '^WantedBy=timers.target' "$timer" \
  || fail "the timer lacks OnCalendar, Persistent or WantedBy"
pass "timer: OnCalendar, Persistent, WantedBy=timers.target"
finish
