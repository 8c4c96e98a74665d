# Issue 7: bash completion completes subcommands, options and crypto object
# names (through `hsmbak crypto show --names`, which needs no token).
. "$HSMBAK_SRC/tests/lib/e2e.sh"
hb system init --profile appliance >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k.pem" -subj /CN=c -days 30 \
  -out "$HSMBAK_ROOT/cert/c.pem" 2>/dev/null
hb crypto certificate mycert cert:///c.pem >/dev/null
hb crypto certificate othercert cert:///c.pem >/dev/null

[ "$(hb crypto show certificate --names | sort | tr '\n' ' ')" = "mycert othercert " ] || fail "--names: $(hb crypto show certificate --names)"
pass "crypto show --names lists object names"

PATH=$(dirname "$HSMBAK_BIN"):$PATH
. "$HSMBAK_SRC/completion/hsmbak.bash"
# complete_words WORD...: COMPREPLY for the line, the last word being completed.
complete_words() {
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _hsmbak hsmbak "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
[ "$(complete_words hsmbak cr)" = "crypto " ] || fail "command: '$(complete_words hsmbak cr)'"
[ "$(complete_words hsmbak --json secure-r)" = "secure-restore " ] || fail "command after a global option"
[ "$(complete_words hsmbak crypto sh)" = "show " ] || fail "crypto subcommand"
[ "$(complete_words hsmbak ceremony v)" = "verify-transcript " ] || fail "ceremony subcommand"
[ "$(complete_words hsmbak secure-backup --ke)" = "--keep " ] || fail "option: '$(complete_words hsmbak secure-backup --ke)'"
[ "$(complete_words hsmbak secure-backup --compression z)" = "zstd " ] || fail "option value"
[ "$(complete_words hsmbak secure-backup my)" = "mycert " ] || fail "certificate name: '$(complete_words hsmbak secure-backup my)'"
[ "$(complete_words hsmbak crypto show certificate o)" = "othercert " ] || fail "show TYPE NAME"
[ "$(complete_words hsmbak crypto delete k)" = "key " ] || fail "delete TYPE"
pass "completion: subcommands, options, values and object names"
finish
