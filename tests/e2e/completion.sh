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

# Issue 13: ceremony list, temporary:/// paths for SOURCE and DEST, object
# names by type everywhere one is expected, options from the command's own
# --help (so a new option completes without touching this script).
mkdir -p "$HSMBAK_ROOT/temporary/backup-1" "$HSMBAK_ROOT/temporary/backup-2" "$HSMBAK_ROOT/temporary/other"
hb crypto keygen --cn thekey --token "pkcs11:token=$TOKEN" --file-name thekey --gen-sscert --gen-object >/dev/null
[ "$(complete_words hsmbak ceremony l)" = "list " ] || fail "ceremony list: '$(complete_words hsmbak ceremony l)'"
[ "$(complete_words hsmbak ceremony "")" = "attest enroll import-cert list quorum retire verify-transcript " ] || fail "ceremony subcommands: '$(complete_words hsmbak ceremony "")'"
[ "$(complete_words hsmbak ins)" = "inspect " ] || fail "inspect command"
[ "$(complete_words hsmbak inspect temporary:///back)" = "temporary:///backup-1/ temporary:///backup-2/ " ] || fail "inspect SOURCE: '$(complete_words hsmbak inspect temporary:///back)'"
[ "$(complete_words hsmbak inspect tem)" = "temporary:/// " ] || fail "inspect temporary:///"
[ "$(complete_words hsmbak secure-restore mycred temporary:///o)" = "temporary:///other/ " ] || fail "restore SOURCE: '$(complete_words hsmbak secure-restore mycred temporary:///o)'"
[ "$(complete_words hsmbak secure-backup mycert temporary:///b)" = "temporary:///backup-1/ temporary:///backup-2/ " ] || fail "backup DEST"
[ "$(complete_words hsmbak secure-backup mycert,o)" = "mycert,othercert " ] || fail "a recipient list: '$(complete_words hsmbak secure-backup mycert,o)'"
[ "$(complete_words hsmbak --root "$HSMBAK_ROOT" inspect temporary:///ot)" = "temporary:///other/ " ] || fail "--root on the line"
[ "$(complete_words hsmbak inspect --signer o)" = "othercert " ] || fail "--signer CERT"
[ "$(complete_words hsmbak crypto trusted-signer m)" = "mycert " ] || fail "trusted-signer CERT"
[ "$(complete_words hsmbak crypto idcred c t)" = "thekey " ] || fail "idcred KEY: '$(complete_words hsmbak crypto idcred c t)'"
[ "$(complete_words hsmbak crypto idcred c thekey m)" = "mycert " ] || fail "idcred CERT"
[ "$(complete_words hsmbak crypto show key "")" = "thekey " ] || fail "show key NAME"
[ "$(complete_words hsmbak crypto key "")" = "thekey " ] || fail "key NAME"
[ "$(complete_words hsmbak system init --a)" = "--adopt " ] || fail "system init --adopt"
[ "$(complete_words hsmbak inspect --s)" = "--signer --ssh-identity --ssh-known-hosts " ] || fail "inspect --s: '$(complete_words hsmbak inspect --s)'"
[ "$(complete_words hsmbak secure-backup --jobs 2 mycert temporary:///ot)" = "temporary:///other/ " ] || fail "an option's value is not an operand"
[ "$(complete_words hsmbak help cr)" = "crypto " ] || fail "help CMD"
[ "$(complete_words hsmbak help crypto ke)" = "key keygen " ] || fail "help CMD SUB"
# Every option each command's --help lists completes (the table is the source).
while read -r cmd sub; do
  want=$("$HSMBAK_BIN" $cmd $sub --help | awk '/^options:/{on=1;next} /^$/{on=0} on && $1 ~ /^--/ {print $1}' | sort | tr '\n' ' ')
  got=$(complete_words hsmbak $cmd $sub --)
  for o in $want; do [[ " $got " == *" $o "* ]] || fail "$cmd $sub: $o does not complete ($got)"; done
done < <("$HSMBAK_BIN" --help | awk '/^commands:/{on=1;next} /^$/{on=0} on && /^  [a-z]/ {print $1, ($2 ~ /^[a-z][a-z-]*$/ ? $2 : "")}')
pass "completion: ceremony list, temporary:/// paths, object names by type, every command's options"

# With bash-completion loaded, as in a login shell: readline splits words at
# ':', so "temporary:///b" arrives as three words and the completions must
# come back without the "temporary:" already typed.
bc=/usr/share/bash-completion/bash_completion
if [ -r "$bc" ]; then
  got=$(bash -c '. "$1"; . "$2"
    COMP_LINE="hsmbak inspect temporary:///back"; COMP_POINT=${#COMP_LINE}
    COMP_WORDS=(hsmbak inspect temporary : ///back); COMP_CWORD=4
    _hsmbak hsmbak ///back :; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$bc" "$HSMBAK_SRC/completion/hsmbak.bash")
  [ "$got" = "///backup-1/ ///backup-2/ " ] || fail "with bash-completion: '$got'"
  pass "with bash-completion: temporary:/// paths across readline's ':' split"
fi
finish
