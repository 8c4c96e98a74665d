# The scheduled-backup unit is hardened the way a Debian administrator
# judges it: `systemd-analyze security --offline=yes` rates its exposure at
# 3.0 or less ("OK"), and every setting that matters is there.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is needed (ci/deps installs systemd)"
unit=$HSMBAK_SRC/systemd/hsmbak-backup@.service
cp "$unit" "$T/hsmbak-backup@web1.service"
systemd-analyze security --offline=yes "$T/hsmbak-backup@web1.service" > "$T/security.out" 2>&1 ||
  true   # it exits non-zero above its default threshold; the score decides here
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/security.out")
[ -n "$score" ] || fail "no exposure level in: $(tail -5 "$T/security.out")"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score is above 3.0: $(grep '✗' "$T/security.out")"
pass "systemd-analyze security --offline=yes: exposure $score (at most 3.0)"
for k in SystemCallFilter=@system-service CapabilityBoundingSet= ProtectKernelTunables=yes \
         ProtectKernelModules=yes ProtectKernelLogs=yes ProtectClock=yes ProtectHostname=yes \
         RestrictNamespaces=yes RestrictRealtime=yes MemoryDenyWriteExecute=yes PrivateNetwork=yes \
         NoNewPrivileges=yes ProtectSystem=strict LoadCredential=pin:; do
  grep -q "^$k" "$unit" || fail "the unit lacks $k"
done
pass "the unit sets the system-call filter, capabilities, kernel/clock/hostname protection, namespaces, W^X, no network"
finish
