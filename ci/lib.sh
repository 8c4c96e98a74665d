# Shared by the ci/ scripts (sourced, not run): no step fails without a word.
# ci_step "what"   names the step in progress; a failing command under set -e
#                  then prints "NAME: failed while WHAT (exit N, line L)".
# ci_die "message" prints "NAME: message" and exits 1.
ci_name=${ci_name:-$(basename "$0")}
ci_current=""
ci_step() { ci_current=$1; }
ci_die() { echo "$ci_name: $*" >&2; exit 1; }
ci_on_err() {
  local rc=$? line=$1
  if [ -n "$ci_current" ]; then
    echo "$ci_name: failed while $ci_current (exit $rc, line $line)" >&2
  else
    echo "$ci_name: failed at line $line: $BASH_COMMAND (exit $rc)" >&2
  fi
}
set -o errtrace
trap 'ci_on_err $LINENO' ERR
