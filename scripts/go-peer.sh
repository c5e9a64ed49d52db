#!/usr/bin/env bash
# go-peer.sh: builds the golang/groupcache test peer (test/go/peer) from Debian's Go
# packages, offline, and prints the binary's path.
#
# Usage: scripts/go-peer.sh [OUTDIR]   (default: node_modules/.cache/peercache-go-peer)
# Installs golang-go and the groupcache/protobuf sources with apt-get when they are
# missing and we are root. Skips the build when the binary is up to date. Everything
# but the final path goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/test/go/peer"
OUTDIR="${1:-$ROOT/node_modules/.cache/peercache-go-peer}"
GOPATH_DEB=/usr/share/gocode
PACKAGES=(golang-go golang-github-golang-groupcache-dev golang-github-golang-protobuf-1-5-dev)

fail() {
  echo "go-peer.sh: $*" >&2
  exit 1
}

have_toolchain() {
  command -v go >/dev/null 2>&1 &&
    [ -f "$GOPATH_DEB/src/github.com/golang/groupcache/http.go" ] &&
    [ -d "$GOPATH_DEB/src/github.com/golang/protobuf/proto" ]
}

install_toolchain() {
  if [ "$(id -u)" != 0 ]; then
    fail "Go or the groupcache sources are missing and we are not root; install: ${PACKAGES[*]}"
  fi
  command -v apt-get >/dev/null 2>&1 || fail "no apt-get: install Go and ${PACKAGES[*]} by hand"
  echo "go-peer.sh: installing ${PACKAGES[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "${PACKAGES[@]}" >&2; then
    echo "go-peer.sh: install failed; running apt-get update and retrying" >&2
    apt-get update -q >&2 || fail "apt-get update failed"
    apt-get install -y -q "${PACKAGES[@]}" >&2 || fail "apt-get install ${PACKAGES[*]} failed"
  fi
}

mkdir -p "$OUTDIR" || fail "cannot create $OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
BIN="$OUTDIR/go-peer"
STAMP="$OUTDIR/go-peer.stamp"

# Parallel test processes may all ask for the binary at once: one builds, the
# others wait and then find it up to date.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$OUTDIR/.lock"
  flock 9
fi

have_toolchain || install_toolchain
have_toolchain || fail "Go toolchain or groupcache sources still missing after install"

# The stamp names everything the binary depends on: our source, the Go version and
# the versions of the Debian source packages.
pkg_versions="$(dpkg-query -W -f '${Package}=${Version} ' "${PACKAGES[@]:1}" 2>/dev/null || true)"
want="$(cat "$SRC"/*.go | sha256sum | cut -d' ' -f1) $(go version) $pkg_versions"
if [ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "$BIN"
  exit 0
fi

export GO111MODULE=off GOPATH="$GOPATH_DEB" GOFLAGS= GOCACHE="$OUTDIR/gocache"
export GOPROXY=off GOTOOLCHAIN=local GOENV=off CGO_ENABLED=0
tmp="$BIN.tmp.$$"
echo "go-peer.sh: building $BIN" >&2
if ! (cd "$SRC" && go build -trimpath -o "$tmp" .) >&2; then
  rm -f "$tmp"
  fail "go build failed in $SRC"
fi
mv -f "$tmp" "$BIN"
printf '%s' "$want" >"$STAMP"
echo "$BIN"
