# Crash safety (issue 6): secure-backup and secure-restore killed with
# SIGKILL at pseudo-random points (seeded: HSMBAK_CRASH_SEED, default 6;
# HSMBAK_KILL_POINTS per operation, default 50, 15 in a sanitizer build).
#  - backup: the destination is absent or a complete backup that validates,
#    never a directory that looks complete but is not; the rerun succeeds and
#    leaves no partial directory behind.
#  - restore: the root is the old tree or the new one (tree digest), never a
#    mix; the rerun succeeds and removes the staging trees left behind.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"

points=${HSMBAK_KILL_POINTS:-50}
if grep -qs '^HSMBAK_SANITIZE:BOOL=ON' "${HSMBAK_BUILD:-/nonexistent}/CMakeCache.txt"; then
  points=${HSMBAK_KILL_POINTS:-15}
fi
RANDOM=${HSMBAK_CRASH_SEED:-6}

fixture_system
# A bigger config so that each run spends time in archive writing/extraction.
head -c 3000000 /dev/urandom > "$HSMBAK_ROOT/config/big.bin"

# How long one run takes: kill points are spread over 0..120% of it.
ms() { date +%s%3N; }
t0=$(ms); fixture_backup "$T/b1"; backup_ms=$(( $(ms) - t0 ))
hb secure-restore mybackupcred "$T/b1" --validate >/dev/null

# kill_at MS CMD...: start CMD, SIGKILL it after MS milliseconds (if still
# running); returns 0 if it was killed, 1 if it had finished.
kill_at() {
  local delay=$1; shift
  "$@" >/dev/null 2>&1 &   # the binary itself (a shell function would fork a subshell)
  local pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; return 0; fi
  wait "$pid" 2>/dev/null || true
  return 1
}
delay_for() { echo $(( RANDOM % ($1 * 12 / 10 + 1) )); }

# SoftHSM 2.6.1 rewrites the token's token.object in place on every user
# login (it clears the PIN-count flags), so a process killed at that moment
# can leave the token unreadable: "no token matches" from then on. That is
# the test token's own fragility, not hsmbak's state (real HSMs keep theirs
# elsewhere), so a rerun that finds the token gone puts back the snapshot of
# the token files taken after set-up (no key is made after it) and tries
# again; the count is reported. Everything about the system root and the
# destination is checked as before.
token_dir=$(dirname "$SOFTHSM2_CONF")/tokens
cp -a "$token_dir" "$T/token-snapshot"
token_repairs=0
retry_token() {
  for attempt in 1 2 3; do
    out=$("$@" 2>&1 >/dev/null) && return 0
    case $out in
      *"no token matches"*)
        rm -rf "$token_dir" && cp -a "$T/token-snapshot" "$token_dir"
        token_repairs=$((token_repairs + 1));;
      *) return 1;;
    esac
  done
  return 1
}

# ---- secure-backup ----------------------------------------------------------
mkdir -p "$T/kb"
killed=0
for i in $(seq 1 "$points"); do
  d=$(delay_for $backup_ms)
  if kill_at "$d" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-backup othercert,mybackupcert "$T/kb/dest"; then
    killed=$((killed + 1))
  fi
  if [ -e "$T/kb/dest" ]; then
    # Present means complete: it must validate.
    retry_token hb secure-restore mybackupcred "$T/kb/dest" --validate ||
      fail "kill point $i (${d} ms): the destination looks like a backup but does not validate"
    rm -rf "$T/kb/dest"
  fi
  # The rerun succeeds and leaves nothing partial behind.
  retry_token hb secure-backup othercert,mybackupcert "$T/kb/dest" ||
    fail "kill point $i (${d} ms): the rerun failed: $out"
  if compgen -G "$T/kb/.dest.hsmbak-partial-*" >/dev/null; then
    fail "kill point $i (${d} ms): partial directories left after the rerun: $(ls -a "$T/kb")"
  fi
  rm -rf "$T/kb/dest"
done
pass "secure-backup: $points kill points ($killed killed mid-run), never a half backup, reruns clean up"
BACKUP_KILLED=$killed

# ---- secure-restore ---------------------------------------------------------

# The kill-point backups above are newer than b1: restoring b1 is a
# rollback, consented to (worst_day_rollback.sh tests the refusal). It also
# leaves the root's sequence state as it is, so OLD and NEW are whole trees.
fixture_factory
OLD=$(tree_digest "$HSMBAK_ROOT")
t0=$(ms); hb secure-restore mybackupcred "$T/b1" --allow-rollback >/dev/null 2>&1; restore_ms=$(( $(ms) - t0 ))
NEW=$(tree_digest "$HSMBAK_ROOT")
[ "$OLD" != "$NEW" ] || fail "restore changed nothing"
fixture_factory
[ "$(tree_digest "$HSMBAK_ROOT")" = "$OLD" ] || fail "factory reset is not reproducible"
killed=0 saw_new=0
for i in $(seq 1 "$points"); do
  d=$(delay_for $restore_ms)
  if kill_at "$d" "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" secure-restore mybackupcred "$T/b1" --allow-rollback; then
    killed=$((killed + 1))
  fi
  now=$(tree_digest "$HSMBAK_ROOT")
  if [ "$now" = "$NEW" ]; then
    saw_new=$((saw_new + 1))
  elif [ "$now" = "$OLD" ]; then
    # Still the old system: the rerun restores it and cleans what was left.
    retry_token hb secure-restore mybackupcred "$T/b1" --allow-rollback || fail "kill point $i (${d} ms): the rerun failed: $out"
    [ "$(tree_digest "$HSMBAK_ROOT")" = "$NEW" ] || fail "kill point $i: the rerun restored something else"
  else
    fail "kill point $i (${d} ms): the root is neither the old tree nor the new one"
  fi
  # Leftovers of the killed run are gone once a run has finished (the
  # rerun above, or the factory reset below).
  fixture_factory
  if compgen -G "$HSMBAK_ROOT.hsmbak-*" >/dev/null; then
    fail "kill point $i (${d} ms): left behind: $(ls -d "$HSMBAK_ROOT".hsmbak-*)"
  fi
  [ "$(tree_digest "$HSMBAK_ROOT")" = "$OLD" ] || fail "kill point $i: factory reset did not bring the old tree back"
done
pass "secure-restore: $points kill points ($killed killed mid-run, $saw_new after the swap), root always old or new, reruns clean up"
echo "figures: backup ${backup_ms} ms, restore ${restore_ms} ms; killed mid-run: backup $BACKUP_KILLED/$points, restore $killed/$points; SoftHSM token files put back after a kill: $token_repairs"
finish
