# A single-node Ceph with its S3 gateway (radosgw) on loopback for the S3
# tests (sourced after tests/lib/e2e.sh). Everything lives in $T/rgw: the
# configuration, the monitor's store, the logs, admin sockets, the test CA and
# the gateway's certificates; the OSD keeps its data in memory (memstore).
# ceph-mon, ceph-osd and radosgw run in the foreground (-f) as background
# jobs; their pids are recorded and they are stopped by those pids from an
# EXIT trap, also when the test fails.
#
#   rgw_start       start mon, osd and radosgw on free ports of 127.0.0.1;
#                   make a user; sets
#                     RGW_HTTPS        https://127.0.0.1:PORT (test CA certificate)
#                     RGW_EXPIRED      https://127.0.0.1:PORT (expired certificate)
#                     RGW_HTTP         http://127.0.0.1:PORT (plain)
#                     RGW_CA           the test CA's certificate (PEM)
#                     RGW_CREDENTIALS  an AWS shared credentials file (0600),
#                                      profile "default" and "wrong" (bad secret)
#                     RGW_ACCESS_KEY RGW_SECRET_KEY
#                     RGW_STARTUP      seconds from nothing to a working endpoint
#   rgw_stop        stop them (the trap does this)
#   rgw_s3cmd ARGS  s3cmd against the plain endpoint with the test user
#
# Measured facts (issue 14): under auth=none radosgw needs `ms mon client
# mode = crc`, or it waits 300 s for the monitor.
RGW_DIR=$T/rgw
RGW_PIDS=()

rgw_stop() {
  local rc=$? p f
  # A failed test shows the servers' last words (the directory goes with it).
  if [ "$rc" -ne 0 ] && [ ${#RGW_PIDS[@]} -gt 0 ]; then
    for f in "$RGW_DIR"/log/*; do echo "--- $f"; tail -n 8 "$f"; done >&2
  fi
  for p in "${RGW_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${RGW_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  RGW_PIDS=()
}

# A port of 127.0.0.1 nobody listens on now (and not given out before).
rgw_free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    case " ${RGW_USED_PORTS:-} " in *" $p "*) continue;; esac
    ss -ltnH "sport = :$p" 2>/dev/null | grep -q . && continue
    RGW_USED_PORTS="${RGW_USED_PORTS:-} $p"
    echo "$p"; return
  done
}

# rgw_ca: a test CA, a certificate for 127.0.0.1 from it, and an expired one.
rgw_ca() {
  local d=$RGW_DIR/tls
  mkdir -p "$d/newcerts" && chmod 700 "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=hsmbak test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  : > "$d/index.txt"; echo 01 > "$d/serial"
  cat > "$d/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
dir = $d
database = $d/index.txt
new_certs_dir = $d/newcerts
serial = $d/serial
certificate = $d/ca.pem
private_key = $d/ca.key
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = server
unique_subject = no
[any]
commonName = supplied
[server]
basicConstraints = CA:FALSE
subjectAltName = IP:127.0.0.1
extendedKeyUsage = serverAuth
EOF
  local name start end
  for name in good expired; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
    if [ "$name" = good ]; then
      start=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ); end=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
    else
      start=$(date -u -d '-30 days' +%Y%m%d%H%M%SZ); end=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
    fi
    openssl ca -batch -config "$d/ca.cnf" -startdate "$start" -enddate "$end" \
      -in "$d/$name.csr" -out "$d/$name.pem" 2>/dev/null ||
      fail "cannot make the $name test certificate"
    # beast reads one file with the certificate and its key.
    cat "$d/$name.pem" "$d/$name.key" > "$d/$name.bundle"
  done
  RGW_CA=$d/ca.pem
}

# rgw_wait WHAT SECONDS CMD...: until CMD succeeds.
rgw_wait() {
  local what=$1 n=$(($2 * 10)) i; shift 2
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "$what did not come up in $((n / 10)) s (the logs' ends above)"
}

rgw_ceph() { ceph -c "$RGW_DIR/ceph.conf" --connect-timeout 10 "$@"; }

rgw_start() {
  local t0 mon http https expired fsid d=$RGW_DIR
  t0=$(date +%s.%N)
  for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph s3cmd; do
    command -v "$b" >/dev/null || fail "no $b (install ceph-mon ceph-osd radosgw ceph-common s3cmd: ci/deps)"
  done
  mkdir -p "$d"/{mon,osd,run,log} && chmod 700 "$d"
  rgw_ca
  mon=$(rgw_free_port); http=$(rgw_free_port); https=$(rgw_free_port); expired=$(rgw_free_port)
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$d/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
pid file =
keyring = /dev/null
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon data = $d/mon/\$cluster-\$id
osd data = $d/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd max object size = 134217728
mon warn on pool no redundancy = false
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$http, beast ssl_endpoint=127.0.0.1:$https ssl_certificate=$d/tls/good.bundle, beast ssl_endpoint=127.0.0.1:$expired ssl_certificate=$d/tls/expired.bundle
rgw dns name = 127.0.0.1
rgw enable usage log = false
EOF
  trap rgw_stop EXIT
  monmaptool --create --addv a "[v2:127.0.0.1:$mon]" --fsid "$fsid" "$d/monmap" >/dev/null
  ceph-mon -c "$d/ceph.conf" --mkfs -i a --monmap "$d/monmap" > "$d/log/mkfs-mon.out" 2>&1 ||
    fail "ceph-mon --mkfs: $(cat "$d/log/mkfs-mon.out")"
  ceph-mon -c "$d/ceph.conf" -i a -f > "$d/log/mon.out" 2>&1 &
  RGW_PIDS+=($!)
  rgw_wait "ceph-mon" 30 rgw_ceph mon stat
  local id; id=$(rgw_ceph osd create)
  mkdir -p "$d/osd/ceph-$id"
  ceph-osd -c "$d/ceph.conf" -i "$id" --mkfs > "$d/log/mkfs-osd.out" 2>&1 ||
    fail "ceph-osd --mkfs: $(cat "$d/log/mkfs-osd.out")"
  rgw_ceph osd crush add "osd.$id" 1.0 host=localhost root=default >/dev/null 2>&1 || true
  ceph-osd -c "$d/ceph.conf" -i "$id" -f > "$d/log/osd.out" 2>&1 &
  RGW_PIDS+=($!)
  rgw_wait "ceph-osd" 60 bash -c "ceph -c '$d/ceph.conf' --connect-timeout 5 osd stat | grep -q '1 up'"
  radosgw -c "$d/ceph.conf" -n client.rgw.a -f > "$d/log/rgw.out" 2>&1 &
  RGW_PIDS+=($!)
  RGW_HTTP=http://127.0.0.1:$http
  RGW_HTTPS=https://127.0.0.1:$https
  RGW_EXPIRED=https://127.0.0.1:$expired
  rgw_wait "radosgw" 120 curl -sf -o /dev/null "$RGW_HTTP/"
  RGW_ACCESS_KEY=HSMBAKTEST$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
  RGW_SECRET_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
  radosgw-admin -c "$d/ceph.conf" -n client.rgw.a user create --uid hsmbak-test \
    --display-name "hsmbak test" --access-key "$RGW_ACCESS_KEY" --secret-key "$RGW_SECRET_KEY" \
    > "$d/log/user.out" 2>&1 || fail "radosgw-admin user create: $(cat "$d/log/user.out")"
  RGW_CREDENTIALS=$d/credentials
  (umask 077; cat > "$RGW_CREDENTIALS" <<EOF
[default]
aws_access_key_id = $RGW_ACCESS_KEY
aws_secret_access_key = $RGW_SECRET_KEY

[wrong]
aws_access_key_id = $RGW_ACCESS_KEY
aws_secret_access_key = ${RGW_SECRET_KEY%????}0000
EOF
  )
  (umask 077; cat > "$d/s3cfg" <<EOF
[default]
access_key = $RGW_ACCESS_KEY
secret_key = $RGW_SECRET_KEY
host_base = 127.0.0.1:$http
host_bucket = 127.0.0.1:$http
use_https = False
signature_v2 = False
EOF
  )
  RGW_STARTUP=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

rgw_s3cmd() { s3cmd -c "$RGW_DIR/s3cfg" "$@"; }
