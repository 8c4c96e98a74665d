#!/usr/bin/env bash
# ci/deps on every layout of apt sources (ci/apt-sources does the reading):
# deb822 only (the stock Debian 12 image), one-line only, both, options in
# brackets, deb-src and comments, backports already enabled (also disabled
# with Enabled: no), and no Debian source at all (a clear message, exit 1).
set -euo pipefail
src=${HSMBAK_SRC:?}
as=$src/ci/apt-sources
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
n=0
fail() { echo "FAIL: $*" >&2; exit 1; }
layout() { rm -rf "$t/etc"; mkdir -p "$t/etc/sources.list.d"; }
expect() { # expect "what" WANT ARGS...
  local what=$1 want=$2; shift 2
  local got; got=$("$as" "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//') || true
  [ "$got" = "$want" ] || fail "$what: got '$got', want '$want'"
  n=$((n + 1))
}
stanza() { printf 'Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg' | tr '\n' ' '; }

# 1. The stock image: deb822 only, no sources.list.
layout
cat > "$t/etc/sources.list.d/debian.sources" <<'S'
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.test/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.test/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
S
expect "deb822 bookworm" "http://mirror.test/debian" bookworm "$t/etc"
expect "deb822 security" "http://mirror.test/debian-security" bookworm-security "$t/etc"
expect "deb822 no backports" "" bookworm-backports "$t/etc"
expect "deb822 --backports" "$(stanza)" --backports "$t/etc"

# 2. One-line only, with options, deb-src and a comment.
layout
cat > "$t/etc/sources.list" <<'S'
# deb http://old.test/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.test/debian bookworm main
deb-src http://src.test/debian bookworm main
deb http://mirror.test/debian-security bookworm-security main
S
expect "one-line bookworm" "http://mirror.test/debian" bookworm "$t/etc"
expect "one-line --backports" "$(stanza)" --backports "$t/etc"

# 3. Both layouts, two mirrors, one of them in both: listed once each.
cat > "$t/etc/sources.list.d/debian.sources" <<'S'
Types: deb deb-src
URIs: http://mirror.test/debian http://second.test/debian
Suites: bookworm
Components: main
S
expect "both" "http://mirror.test/debian http://second.test/debian" bookworm "$t/etc"

# 4. Backports already enabled (one-line): nothing to write.
echo "deb http://mirror.test/debian bookworm-backports main" > "$t/etc/sources.list.d/bpo.list"
expect "backports enabled" "" --backports "$t/etc"

# 5. Backports in deb822 but Enabled: no counts as absent.
layout
printf 'Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm\n\nTypes: deb\nEnabled: no\nURIs: http://mirror.test/debian\nSuites: bookworm-backports\n' \
  > "$t/etc/sources.list.d/debian.sources"
expect "backports disabled" "$(stanza)" --backports "$t/etc"

# 6. No Debian source at all (a third-party one only): a message, exit 1.
layout
printf 'Types: deb\nURIs: https://deb.nodesource.test/node_20.x\nSuites: nodistro\nComponents: main\n' \
  > "$t/etc/sources.list.d/nodesource.sources"
if out=$("$as" --backports "$t/etc" 2>&1); then fail "no Debian source: exit 0 ($out)"; fi
case "$out" in
  *"found no Debian apt source for 'bookworm'"*"run ci/deps again"*) n=$((n + 1)) ;;
  *) fail "no Debian source: message '$out'" ;;
esac
echo "apt sources: $n layouts and cases"
