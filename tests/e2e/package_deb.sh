# The packages a Debian administrator accepts (issues 7 and 13): a plain
# Release build (no -Werror, no tests, prefix /usr) packaged by CPack into
# hsmbak (CLI, man pages, units, completion), libhsmbak0 (the library in the
# multiarch directory, its data) and libhsmbak-dev (headers, .so link,
# hsmbak.pc); lintian finds no error in any of them; they install on this
# machine (CI runs as root); `hsmbak --version`, the man pages, pkg-config and
# the walkthrough work from the installed files only (the source tree's
# data/ and the build trees are hidden in a private mount namespace); and
# `dpkg -P` leaves no file behind. The machine's state is restored whatever
# happens. Without root, or when hsmbak is already installed as a package,
# the .debs are unpacked into a fresh root instead (dpkg -x) and run there.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
: "${HSMBAK_BUILD:?run through ctest (HSMBAK_BUILD)}"
if sanitized_build; then
  echo "sanitizer build: the package is made from the release tree only"; finish; exit 0
fi
command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || fail "dpkg-deb and cpack are needed"

# hidden SCRIPT: run bash -c SCRIPT with the source tree's data/ and the build
# tree hidden behind empty mounts (root only: a private mount namespace);
# without root the script runs as is (data is still found beside the binary).
hidden() {
  if [ "$(id -u)" -eq 0 ]; then
    unshare -m bash -c "mount -t tmpfs none '$HSMBAK_SRC/data' && mount -t tmpfs none '$HSMBAK_BUILD' && mount -t tmpfs none '$T/rel' && $1"
  else
    bash -c "$1"
  fi
}

# One package test at a time on a machine.
exec 9> /tmp/hsmbak-package-test.lock
flock -w 300 9 || fail "another package test holds /tmp/hsmbak-package-test.lock"

# The install build: what a packager would build.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
cmake -S "$HSMBAK_SRC" -B "$T/rel" -DCMAKE_BUILD_TYPE=Release -DHSMBAK_TESTS=OFF -DHSMBAK_WERROR=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr > "$T/rel.log" 2>&1 || fail "configuring the install build: $(tail -20 "$T/rel.log")"
cmake --build "$T/rel" -j "$(nproc)" >> "$T/rel.log" 2>&1 || fail "the install build: $(tail -20 "$T/rel.log")"
! ls "$T"/rel/test_* >/dev/null 2>&1 || fail "the install build made test binaries"
grep -q '^HSMBAK_WERROR:BOOL=OFF$' "$T/rel/CMakeCache.txt" || fail "the install build uses -Werror"
(umask 022 && cd "$T/rel" && cpack -G DEB -B "$T/pkg") > "$T/cpack.log" 2>&1 || fail "cpack: $(tail -20 "$T/cpack.log")"
deb=$(ls "$T"/pkg/hsmbak_*.deb); lib=$(ls "$T"/pkg/libhsmbak0_*.deb); dev=$(ls "$T"/pkg/libhsmbak-dev_*.deb)
debs=("$lib" "$deb" "$dev")
dpkg-deb -f "$deb" Depends > "$T/depends"
dpkg-deb -f "$lib" Depends >> "$T/depends"
for d in "libhsmbak0 (= 0.1.0)" libssl3 libarchive13 libxml2 libjansson4 libp11-kit0 libgfshare2 pkcs11-provider p11-kit-modules; do
  grep -qF "$d" "$T/depends" || fail "Depends lacks $d: $(cat "$T/depends")"
done
dpkg-deb -f "$dev" Depends | grep -qF "libhsmbak0 (= 0.1.0)" || fail "libhsmbak-dev does not depend on libhsmbak0"
contents() { dpkg-deb -c "$1" | awk '{print $6}'; }
has() { # has DEB FILE...
  local d=$1 f; shift
  contents "$d" > "$T/contents"
  for f in "$@"; do grep -qx "./$f" "$T/contents" || fail "$(basename "$d") lacks /$f"; done
}
has "$deb" usr/bin/hsmbak usr/share/man/man1/hsmbak.1.gz usr/share/man/man5/hsmbak-format.5.gz \
    usr/share/man/man5/hsmbak-profile.5.gz usr/share/bash-completion/completions/hsmbak \
    usr/lib/systemd/system/hsmbak-backup@.service usr/lib/systemd/system/hsmbak-backup@.timer \
    usr/share/doc/hsmbak/copyright usr/share/doc/hsmbak/changelog.gz
has "$lib" "usr/lib/$multiarch/libhsmbak.so.0" "usr/lib/$multiarch/libhsmbak.so.0.1.0" \
    usr/share/hsmbak/schema/manifest.xsd usr/share/hsmbak/profiles/appliance.xml usr/share/hsmbak/openssl.cnf \
    usr/share/doc/libhsmbak0/copyright
has "$dev" usr/include/hsmbak/backup.h "usr/lib/$multiarch/libhsmbak.so" "usr/lib/$multiarch/pkgconfig/hsmbak.pc" \
    usr/share/doc/libhsmbak-dev/copyright
for d in "${debs[@]}"; do
  contents "$d" | grep -E '\.(1|5)$' && fail "$(basename "$d") holds an uncompressed man page"
  contents "$d" | grep -E '/(test_|hbcraft)' && fail "$(basename "$d") holds a test binary"
done
pass "cpack builds hsmbak, libhsmbak0, libhsmbak-dev: Depends, multiarch library, compressed man pages, copyright"

if command -v lintian >/dev/null; then
  for d in "${debs[@]}"; do
    lintian --tag-display-limit 0 "$d" > "$T/lintian.out" 2>&1 || true
    grep -v 'running with root privileges' "$T/lintian.out" > "$T/lintian.tags" || true
    if grep -q '^E:' "$T/lintian.tags"; then fail "lintian errors in $(basename "$d"): $(grep '^E:' "$T/lintian.tags")"; fi
    echo "  lintian $(basename "$d"): $(grep -c '^W:' "$T/lintian.tags" || true) warnings $(grep '^W:' "$T/lintian.tags" | cut -d' ' -f3 | sort -u | tr '\n' ' ')"
  done
  pass "lintian: 0 errors in each package"
else
  fail "lintian is needed (ci/deps installs it)"
fi

# cmake --install into a prefix: the tree works where it lands (data found
# beside the binary, not in the source tree, which is hidden).
cmake --install "$HSMBAK_BUILD" --prefix "$T/inst" > "$T/install.log" 2>&1 || fail "cmake --install: $(cat "$T/install.log")"
for f in bin/hsmbak share/hsmbak/schema/manifest.xsd share/man/man1/hsmbak.1.gz include/hsmbak/status.h; do
  [ -e "$T/inst/$f" ] || fail "cmake --install did not install $f"
done
pc_dir=$(dirname "$(find "$T/inst" -name hsmbak.pc)")
[ "$(PKG_CONFIG_PATH=$pc_dir pkg-config --variable=includedir hsmbak | xargs realpath)" = "$(realpath "$T/inst/include")" ] \
  || fail "hsmbak.pc does not point into the install prefix"
lib_dir=$(dirname "$(find "$T/inst" -name 'libhsmbak.so.0')")
hidden "LD_LIBRARY_PATH='$lib_dir' HSMBAK_ROOT='$T/instroot' '$T/inst/bin/hsmbak' --json system init --profile appliance" \
  > "$T/inst.json" 2>&1 || fail "the cmake --install tree does not run: $(cat "$T/inst.json")"
jq -e '.ok' "$T/inst.json" >/dev/null || fail "system init from the install tree"
pass "cmake --install: binary, library, headers, relocatable hsmbak.pc, data found beside the binary"

if [ "$(id -u)" -eq 0 ] && ! dpkg -s hsmbak >/dev/null 2>&1; then
  mode=machine
  removed=0
  restore_machine() { [ "$removed" -eq 1 ] || dpkg -P hsmbak libhsmbak-dev libhsmbak0 >/dev/null 2>&1 || true; }
  trap restore_machine EXIT
  dpkg -i "${debs[@]}" > "$T/dpkg-i.log" 2>&1 || fail "dpkg -i: $(cat "$T/dpkg-i.log")"
  prefix=
  run_env=()
else
  mode=unpacked
  for d in "${debs[@]}"; do dpkg -x "$d" "$T/root"; done
  prefix=$T/root
  run_env=(LD_LIBRARY_PATH="$T/root/usr/lib/$multiarch")
fi
bin=$prefix/usr/bin/hsmbak
[ "$(env "${run_env[@]}" "$bin" --version)" = "hsmbak 0.1.0" ] || fail "--version from the installed binary"
ldd_out=$(env "${run_env[@]}" ldd "$bin")
grep -qE "libhsmbak.so.0 => ${prefix:-(/usr)?}/(usr/)?lib/$multiarch/libhsmbak.so.0 " <<<"$ldd_out" || fail "the installed binary uses another libhsmbak: $ldd_out"
pass "installed ($mode): hsmbak --version from $bin with its installed library"

if [ "$mode" = machine ]; then
  man -w hsmbak | grep -q "^/usr/share/man/man1/hsmbak.1" || fail "man -w hsmbak: $(man -w hsmbak 2>&1)"
  man -w 5 hsmbak-format >/dev/null || fail "hsmbak-format(5) not found by man"
  printf '#include <hsmbak/status.h>\n#include <stdio.h>\nint main(void){puts(hb_status_name(HB_E_VERIFY));return 0;}\n' > "$T/use.c"
  cc -o "$T/use" "$T/use.c" $(pkg-config --cflags --libs hsmbak) || fail "cannot build against the installed library"
  [ "$("$T/use")" = "verify-failed" ] || fail "program linked with libhsmbak"
  pass "man finds the pages; a program builds with pkg-config hsmbak and runs"
fi

# The walkthrough with the installed files only: the source tree's data/
# and the build tree are hidden by empty mounts in a private namespace.
hidden "env ${run_env[*]} TMPDIR='$T' '$HSMBAK_SRC/ci/walkthrough' '$bin'" > "$T/walkthrough.out" 2>&1 \
  || fail "walkthrough from the installed files: $(tail -30 "$T/walkthrough.out")"
grep -q "Restored system equals the original" "$T/walkthrough.out" || fail "walkthrough did not finish"
pass "the walkthrough runs with the installed files only"

if [ "$mode" = machine ]; then
  for p in hsmbak libhsmbak0 libhsmbak-dev; do dpkg -L "$p"; done > "$T/listed"
  dpkg -P hsmbak libhsmbak-dev libhsmbak0 > "$T/dpkg-P.log" 2>&1 || fail "dpkg -P: $(cat "$T/dpkg-P.log")"
  removed=1
  for p in hsmbak libhsmbak0 libhsmbak-dev; do
    dpkg -s "$p" > /dev/null 2>&1 && fail "dpkg still knows $p after purge"
  done
  while read -r f; do
    [ -f "$f" ] || [ -L "$f" ] || continue
    fail "dpkg -P left $f behind"
  done < "$T/listed"
  for d in /usr/share/hsmbak /usr/include/hsmbak /usr/share/doc/hsmbak /usr/share/doc/libhsmbak0 \
           /usr/share/doc/libhsmbak-dev; do
    [ ! -e "$d" ] || fail "dpkg -P left $d"
  done
  [ ! -e /usr/bin/hsmbak ] || fail "dpkg -P left /usr/bin/hsmbak"
  pass "dpkg -P removes every installed file of the three packages"
fi
finish
