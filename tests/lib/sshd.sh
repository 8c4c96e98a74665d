# An OpenSSH server on loopback for the SFTP tests (sourced after
# tests/lib/e2e.sh). Everything lives in $T/sshd: its own host key, the
# test's key pair (authorized for the user running the test), the config and
# the log. sshd runs in the foreground (-D) as a background job; its pid is
# recorded and it is stopped by that pid from an EXIT trap, also when the
# test fails.
#
#   sshd_start      start it on a free port of 127.0.0.1; sets
#                     SSHD_PORT SSHD_PID SSHD_USER
#                     SSHD_IDENTITY      the test's private key (0600)
#                     SSHD_KNOWN_HOSTS   a known_hosts line for the server
#                     SSHD_URL           sftp://USER@127.0.0.1:PORT
#   sshd_stop       stop it (the trap does this)
#   sshd_children   the pids of its per-connection processes
#
# As root, sshd needs its privilege separation directory /run/sshd.
SSHD_DIR=$T/sshd
SSHD_PID=

sshd_stop() {
  if [ -n "$SSHD_PID" ]; then
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=
  fi
}

sshd_children() { pgrep -P "$SSHD_PID" || true; }

sshd_start() {
  local sshd=/usr/sbin/sshd attempt
  [ -x "$sshd" ] || fail "no $sshd (install openssh-server: ci/deps)"
  mkdir -p "$SSHD_DIR" && chmod 700 "$SSHD_DIR"
  [ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
  SSHD_USER=$(id -un)
  ssh-keygen -q -t ed25519 -N '' -C hsmbak-test-host -f "$SSHD_DIR/host_key"
  ssh-keygen -q -t ed25519 -N '' -C hsmbak-test-user -f "$SSHD_DIR/id_ed25519"
  cp "$SSHD_DIR/id_ed25519.pub" "$SSHD_DIR/authorized_keys"
  SSHD_IDENTITY=$SSHD_DIR/id_ed25519
  trap sshd_stop EXIT
  for attempt in 1 2 3 4 5 6 7 8; do
    SSHD_PORT=$((20000 + RANDOM % 40000))
    cat > "$SSHD_DIR/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $SSHD_DIR/host_key
PidFile none
AuthorizedKeysFile $SSHD_DIR/authorized_keys
AllowUsers $SSHD_USER
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
    "$sshd" -f "$SSHD_DIR/sshd_config" -D -e 2> "$SSHD_DIR/sshd.log" &
    SSHD_PID=$!
    local i
    for i in $(seq 50); do
      grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$SSHD_DIR/sshd.log" && break
      kill -0 "$SSHD_PID" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$SSHD_DIR/sshd.log"; then
      printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$SSHD_DIR/host_key.pub")" \
        > "$SSHD_DIR/known_hosts"
      SSHD_KNOWN_HOSTS=$SSHD_DIR/known_hosts
      SSHD_URL=sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT
      return 0
    fi
    sshd_stop
    grep -q "Address already in use" "$SSHD_DIR/sshd.log" || break
  done
  fail "sshd did not start: $(cat "$SSHD_DIR/sshd.log")"
}
