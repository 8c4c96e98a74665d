# The end-to-end round trip under valgrind memcheck: secure-backup, factory
# reset, validate, secure-restore, and a refused (tampered) restore. The set
# up (system init, three keygens, crypto objects) runs under valgrind too
# with HSMBAK_VG_ALL=1 (13 more runs, about 1.5 min more). Any memory error
# or definite leak fails (tests/valgrind/hsmbak-vg).
#   hsm-config/with-token bash tests/valgrind/roundtrip.sh   (ci/test runs it)
HSMBAK_SRC=${HSMBAK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export HSMBAK_VG_BIN=${HSMBAK_VG_BIN:-$HSMBAK_SRC/build/hsmbak}
export HSMBAK_BIN=$HSMBAK_VG_BIN
[ -z "${HSMBAK_VG_ALL:-}" ] || HSMBAK_BIN=$HSMBAK_SRC/tests/valgrind/hsmbak-vg
export HSMBAK_VG_LOG=$HSMBAK_TEST_DIR/vg
. "$HSMBAK_SRC/tests/lib/e2e.sh"
. "$HSMBAK_SRC/tests/lib/fixture.sh"
runs() { ls "$T"/vg.* 2>/dev/null | wc -l; }
# valgrind 3.19 does not know openat2 (syscall 437): it warns and answers
# ENOSYS, and hsmbak takes its component-wise walk (common/beneath.c), which
# is then what runs under memcheck. That warning (5 lines) is not an error;
# anything else in a log is.
known_warning() { grep -v -e '^--[0-9]*-- WARNING: unhandled amd64-linux syscall: 437$' \
  -e '^--[0-9]*-- You may be able to write your own handler\.$' \
  -e '^--[0-9]*-- Read the file README_MISSING_SYSCALL_OR_IOCTL\.$' \
  -e '^--[0-9]*-- Nevertheless we consider this a bug\.  Please report$' \
  -e '^--[0-9]*-- it at http://valgrind.org/support/bug_reports\.html\.$' "$1"; }
check_logs() {
  local bad="" f
  for f in "$T"/vg.*; do
    [ -e "$f" ] || continue
    if known_warning "$f" | grep -q .; then bad="$bad $f"; fi
  done
  if [ -n "$bad" ]; then
    for f in $bad; do known_warning "$f" >&2; done
    fail "valgrind reported errors or leaks ($1)"
  fi
}
fixture_system
check_logs "setup"
[ -z "${HSMBAK_VG_ALL:-}" ] || pass "system init, 3 keygens, crypto objects under valgrind: clean"
HSMBAK_BIN=$HSMBAK_SRC/tests/valgrind/hsmbak-vg
fixture_backup "$T/b1"
check_logs "secure-backup"
pass "secure-backup under valgrind: clean"
fixture_factory
hb secure-restore mybackupcred "$T/b1" --validate >/dev/null
hb secure-restore mybackupcred "$T/b1" >/dev/null
check_logs "secure-restore"
pass "factory-reset, validate, restore under valgrind: clean"
cp -a "$T/b1" "$T/bad"; printf 'x' >> "$T/bad/config.tzst"
expect_fail 5 "backup file 'config.tzst' is" hb secure-restore mybackupcred "$T/bad" --validate
check_logs "refused restore"
pass "refused restore under valgrind: clean"
echo "valgrind: $(runs) hsmbak runs, 0 errors, 0 definite leaks"
finish
