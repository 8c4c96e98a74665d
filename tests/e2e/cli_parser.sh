# Issue 13: a command line that explains. Unknown and misspelt commands and
# options are named, with the closest known one when it is close; a missing
# option value, a missing or extra argument and a missing required option
# are named; each is one line on stderr and exit 2, and in --json mode one
# document with the same message. Nothing is touched: no system root is
# needed to be told what is wrong with a command line.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
export HSMBAK_ROOT=$T/no-such-root

# Commands and subcommands.
expect_fail 2 "unknown command 'secure-bakup'; did you mean 'secure-backup'?" hb secure-bakup mycert temporary:///b
expect_fail 2 "unknown command 'inspcet'; did you mean 'inspect'?" hb inspcet temporary:///b
expect_fail 2 "unknown command 'frobnicate'; see 'hsmbak --help'" hb frobnicate
expect_fail 2 "crypto: unknown command 'shwo'; did you mean 'show'?" hb crypto shwo
expect_fail 2 "ceremony: unknown command 'enrol'; did you mean 'enroll'?" hb ceremony enrol --token x
expect_fail 2 "unknown command 'keygen'; did you mean 'crypto keygen'?" hb keygen --cn x
expect_fail 2 "crypto: which one? keygen, certificate, key, idcred, backup-signer, trusted-signer, show, delete" hb crypto
must_refuse 2 "did you mean" hb system int
[[ $msg == *"'init'"* ]] || fail "system int: $msg"
pass "misspelt subcommand: system int -> init"

# Options: unknown, misspelt, a prefix, a global one misspelt, before a command.
expect_fail 2 "secure-backup: unknown option '--frobnicate'; see 'hsmbak secure-backup --help'" hb secure-backup --frobnicate mycert temporary:///b
must_refuse 2 "unknown option '--frobnicate'" hb secure-backup --frobnicate mycert temporary:///b
[[ $msg != *"did you mean"* ]] || fail "a suggestion for a word close to nothing: $msg"
pass "no suggestion when nothing is close"
expect_fail 2 "secure-backup: unknown option '--compresion'; did you mean '--compression'?" hb secure-backup --compresion zstd mycert temporary:///b
expect_fail 2 "unknown option '--comp'; did you mean '--compression'?" hb secure-backup --comp zstd temporary:///b
expect_fail 2 "secure-restore: unknown option '--valdiate'; did you mean '--validate'?" hb secure-restore cred temporary:///b --valdiate
expect_fail 2 "unknown option '--josn'; did you mean '--json'?" hb secure-backup --josn temporary:///b
expect_fail 2 "unknown option '--jsno'; did you mean '--json'?" hb --jsno crypto show
expect_fail 2 "crypto keygen: unknown option '-x'" hb crypto keygen -x
expect_fail 2 "option '--remove' is given twice" hb crypto trusted-signer c --remove --remove
expect_fail 2 "option '--yes' takes no value" hb factory-reset --yes=no

# Values and arguments.
expect_fail 2 "secure-backup: option '--jobs' needs a value (N)" hb secure-backup temporary:///b --jobs
expect_fail 2 "option '--keep' needs a value (N)" hb secure-backup temporary:///b --keep --
expect_fail 2 "option '--root' needs a value (DIR)" "$HSMBAK_BIN" crypto show --root
expect_fail 2 "--jobs must be a number from 1 to 256, not 'many'" hb secure-backup temporary:///b --jobs many
expect_fail 2 "crypto keygen: option '--cn CN' is required" hb crypto keygen --token "pkcs11:token=$TOKEN"
expect_fail 2 "ceremony quorum: option '--threshold K' is required" hb ceremony quorum g a b
expect_fail 2 "secure-backup: missing arguments (expected [CERT[,CERT...]] DEST)" hb secure-backup
expect_fail 2 "dir: unexpected argument 'extra' (expected URL)" hb dir temporary:/// extra
expect_fail 2 "secure-restore: missing SOURCE" hb secure-restore mycred
expect_fail 2 "crypto idcred: too few arguments (expected NAME KEY CERT)" hb crypto idcred a b

# --json: the same message, one document, nothing on stderr.
rc=0; "$HSMBAK_BIN" --json secure-backup --compresion zstd temporary:///b > "$T/u.json" 2> "$T/u.err" || rc=$?
[ "$rc" -eq 2 ] && [ ! -s "$T/u.err" ] || fail "--json usage error: exit $rc, stderr $(cat "$T/u.err")"
json_ok "$T/u.json" '.ok == false and .exit_code == 2 and .command == "secure-backup" and (.error.message|test("did you mean .--compression."))' "json usage error"
rc=0; "$HSMBAK_BIN" --json secure-bakup > "$T/c.json" 2> "$T/c.err" || rc=$?
[ "$rc" -eq 2 ] && [ ! -s "$T/c.err" ] || fail "--json unknown command: exit $rc"
json_ok "$T/c.json" '.error.message|test("did you mean .secure-backup.")' "json unknown command"
pass "usage errors in --json mode: one document with the suggestion, exit 2"

# Help: for a command, for a group, through 'help'; an unknown one suggests.
hb help secure-backup | grep -q "^  hsmbak secure-backup " || fail "help secure-backup"
hb crypto --help | grep -q "^  crypto show  " || fail "crypto --help lists its commands"
hb ceremony enroll --token x --help | grep -q "^  --custodian NAME" || fail "--help after options"
expect_fail 2 "unknown command 'secure-bakup'; did you mean 'secure-backup'?" hb help secure-bakup
[ ! -e "$HSMBAK_ROOT" ] || fail "a usage error made the system root"
pass "help works for commands and groups; nothing was created"
finish
