# Issue 7: CPack builds a .deb; it installs on this machine (CI runs as
# root), `hsmbak --version`, the man pages, pkg-config and the walkthrough
# work from the installed files only (the source tree's data/ and the build
# tree are hidden in a private mount namespace), and `dpkg -r` removes every
# file it installed. The machine's state is restored whatever happens.
# Without root, or when hsmbak is already installed as a package, the .deb
# is unpacked into a fresh root instead (dpkg -x) and run from there.
. "$HSMBAK_SRC/tests/lib/e2e.sh"
: "${HSMBAK_BUILD:?run through ctest (HSMBAK_BUILD)}"
if ldd "$HSMBAK_BIN" | grep -q libasan; then
  echo "sanitizer build: the package is made from the release tree only"; finish; exit 0
fi
command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || fail "dpkg-deb and cpack are needed"

# hidden SCRIPT: run bash -c SCRIPT with the source tree's data/ and the build
# tree hidden behind empty mounts (root only: a private mount namespace);
# without root the script runs as is (data is still found beside the binary).
hidden() {
  if [ "$(id -u)" -eq 0 ]; then
    unshare -m bash -c "mount -t tmpfs none '$HSMBAK_SRC/data' && mount -t tmpfs none '$HSMBAK_BUILD' && $1"
  else
    bash -c "$1"
  fi
}

# One package test at a time on a machine.
exec 9> /tmp/hsmbak-package-test.lock
flock -w 300 9 || fail "another package test holds /tmp/hsmbak-package-test.lock"

cpack -G DEB --config "$HSMBAK_BUILD/CPackConfig.cmake" -B "$T/pkg" > "$T/cpack.log" 2>&1 \
  || fail "cpack: $(tail -20 "$T/cpack.log")"
deb=$(ls "$T"/pkg/hsmbak_*.deb)
dpkg-deb -f "$deb" Depends > "$T/depends"
for d in libssl3 libarchive13 libxml2 libjansson4 libp11-kit0 pkcs11-provider p11-kit-modules; do
  grep -q "$d" "$T/depends" || fail "Depends lacks $d: $(cat "$T/depends")"
done
dpkg-deb -c "$deb" | awk '{print $6}' > "$T/contents"
for f in usr/bin/hsmbak usr/lib/libhsmbak.so.0 usr/include/hsmbak/backup.h usr/lib/pkgconfig/hsmbak.pc \
         usr/share/hsmbak/schema/manifest.xsd usr/share/hsmbak/profiles/appliance.xml usr/share/hsmbak/openssl.cnf \
         usr/share/man/man1/hsmbak.1 usr/share/man/man5/hsmbak-format.5 usr/share/man/man5/hsmbak-profile.5 \
         usr/share/bash-completion/completions/hsmbak usr/lib/systemd/system/hsmbak-backup@.service \
         usr/lib/systemd/system/hsmbak-backup@.timer; do
  grep -qx "./$f" "$T/contents" || fail "the package lacks /$f"
done
pass "cpack builds $(basename "$deb") with its dependencies and every installed file"

# cmake --install into a prefix: the tree works where it lands (data found
# beside the binary, not in the source tree, which is hidden).
cmake --install "$HSMBAK_BUILD" --prefix "$T/inst" > "$T/install.log" 2>&1 || fail "cmake --install: $(cat "$T/install.log")"
for f in bin/hsmbak share/hsmbak/schema/manifest.xsd share/man/man1/hsmbak.1 include/hsmbak/status.h; do
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
  restore_machine() { [ "$removed" -eq 1 ] || dpkg -r hsmbak >/dev/null 2>&1 || true; dpkg -P hsmbak >/dev/null 2>&1 || true; }
  trap restore_machine EXIT
  dpkg -i "$deb" > "$T/dpkg-i.log" 2>&1 || fail "dpkg -i: $(cat "$T/dpkg-i.log")"
  prefix=
  run_env=()
else
  mode=unpacked
  dpkg -x "$deb" "$T/root"
  prefix=$T/root
  run_env=(LD_LIBRARY_PATH="$T/root/usr/lib")
fi
bin=$prefix/usr/bin/hsmbak
[ "$(env "${run_env[@]}" "$bin" --version)" = "hsmbak 0.1.0" ] || fail "--version from the installed binary"
ldd_out=$(env "${run_env[@]}" ldd "$bin")
grep -qE "libhsmbak.so.0 => ${prefix:-(/usr)?}/(usr/)?lib/libhsmbak.so.0 " <<<"$ldd_out" || fail "the installed binary uses another libhsmbak: $ldd_out"
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
  dpkg -L hsmbak > "$T/listed"
  dpkg -r hsmbak > "$T/dpkg-r.log" 2>&1 || fail "dpkg -r: $(cat "$T/dpkg-r.log")"
  removed=1
  dpkg -s hsmbak 2>/dev/null | grep -q "^Status: install" && fail "still installed"
  while read -r f; do
    [ -f "$f" ] || [ -L "$f" ] || continue
    fail "dpkg -r left $f behind"
  done < "$T/listed"
  for d in /usr/share/hsmbak /usr/include/hsmbak /usr/share/doc/hsmbak; do
    [ ! -e "$d" ] || fail "dpkg -r left $d"
  done
  [ ! -e /usr/bin/hsmbak ] || fail "dpkg -r left /usr/bin/hsmbak"
  dpkg -P hsmbak > /dev/null 2>&1 || fail "dpkg -P"
  dpkg -s hsmbak > /dev/null 2>&1 && fail "dpkg still knows hsmbak after purge"
  pass "dpkg -r removes every installed file (and -P forgets the package)"
fi
finish
