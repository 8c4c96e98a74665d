# Shared helpers for the end-to-end tests (sourced; run under
# hsm-config/with-token, which exports the token coordinates).
set -euo pipefail

: "${HSMBAK_BIN:?run through ctest (HSMBAK_BIN)}"
: "${HSMBAK_TEST_DIR:?run through hsm-config/with-token}"
: "${HSMBAK_SRC:?run through ctest (HSMBAK_SRC)}"

T=$HSMBAK_TEST_DIR
TOKEN=$HSMBAK_TEST_TOKEN
PIN_FILE=$HSMBAK_TEST_PIN_FILE
export HSMBAK_ROOT=$T/system
unset HSMBAK_PKCS11_MODULE
checks=0

# The binary under test is the ASan/UBSan build (its CMake cache says so;
# `ldd | grep -q` under pipefail can fail by SIGPIPE and say no).
sanitized_build() { grep -qs '^HSMBAK_SANITIZE:BOOL=ON' "${HSMBAK_BUILD:-/nonexistent}/CMakeCache.txt"; }

hb() { "$HSMBAK_BIN" --pin-source "file:$PIN_FILE" "$@"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { checks=$((checks + 1)); echo "ok $checks - $*"; }

# must_refuse WANT FRAGMENT CMD...: CMD exits WANT with one stderr line
# holding FRAGMENT; sets $msg to that line.
must_refuse() {
  local want=$1 fragment=$2; shift 2
  local rc=0
  msg=$("$@" 2>&1 >/dev/null) || rc=$?
  # tpm2-pkcs11 1.9 prints "ERROR: ..." on stderr for every call the TPM
  # refuses, at any log level; what is checked is hsmbak's own message.
  if [[ "${HSMBAK_TEST_TOKEN_KIND:-}" == *tpm* ]]; then
    msg=$(printf '%s\n' "$msg" | grep -v '^ERROR: ' || true)
  fi
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want: $msg"
  [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $msg"
  case "$msg" in *"$fragment"*) ;; *) fail "'$*' said '$msg', want '$fragment'";; esac
}

# expect_fail STATUS FRAGMENT CMD...: must_refuse, counted as a check.
expect_fail() {
  local msg
  must_refuse "$@"
  local want=$1 fragment=$2; shift 2
  pass "$* -> exit $want ($fragment)"
}

# json_ok FILE JQ-EXPR MESSAGE: the document parses and the expression is true.
json_ok() {
  jq -e "$2" "$1" >/dev/null || fail "$3: $(cat "$1")"
}

# Digest of a whole tree: names, types, modes, contents, link targets.
tree_digest() {
  (cd "$1" && find . -mindepth 1 -printf '%P %y %m %l\n' | LC_ALL=C sort &&
     find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# flip_byte FILE OFFSET: invert every bit of the byte at OFFSET, so the file
# always changes (writing a fixed value leaves it as it was when that byte
# already holds the value: one run in 256).
flip_byte() {
  local b
  b=$(dd if="$1" bs=1 skip="$2" count=1 status=none | od -An -tu1 | tr -d ' ')
  [ -n "$b" ] || fail "flip_byte: '$1' has no byte at offset $2"
  printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

finish() { echo "$checks passed, 0 failed"; }
