#!/usr/bin/env bash
# Builds one of the project's Go tools once and caches the binary outside the repository
# (PIPELINE_CACHE_DIR, default ~/.cache/image-pipeline), then prints the binary's path.
#
#   traefik        Traefik, the edge of the local stack (cloud-services/README.md). No
#                  registry serves its binary here, so it is built from the Go module proxy:
#                  about 10 minutes on 2 cores and ~6 GB of Go module/build cache the first time.
#   compose-check  the Compose Spec's own loader over a compose file (cloud-services/compose-check).
#
# Usage: scripts/go_tool.sh [--background] traefik|compose-check
#   --background  start the build detached (log in the cache) and return at once; a later
#                 call without it waits for that build instead of starting a second one.
# Exit codes: 0 built or cached, 1 the build failed (its log is printed), 2 bad usage.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRAEFIK_VERSION=v3.6.12
CACHE=${PIPELINE_CACHE_DIR:-$HOME/.cache/image-pipeline}
CACHE=${CACHE/#\~/$HOME}

die() { printf '[go_tool] error: %s\n' "$*" >&2; exit "${2:-1}"; }
say() { printf '[go_tool] %s\n' "$*" >&2; }

background=false
if [ "${1:-}" = "--background" ]; then background=true; shift; fi
tool=${1:-}
case "$tool" in
  traefik)
    out="$CACHE/traefik-$TRAEFIK_VERSION/traefik" ;;
  compose-check)
    # A new binary whenever the checker's source or its pinned modules change.
    source_dir="$ROOT/cloud-services/compose-check"
    digest=$(cat "$source_dir/go.mod" "$source_dir/go.sum" "$source_dir"/*.go | sha256sum | cut -c1-12)
    out="$CACHE/compose-check-$digest/compose-check" ;;
  *) die "usage: $0 [--background] traefik|compose-check" 2 ;;
esac

[ -x "$out" ] && { echo "$out"; exit 0; }
command -v go >/dev/null 2>&1 || die "Go 1.21 or newer is required to build $tool (https://go.dev/dl/; Debian's golang-go works once it can fetch a newer toolchain from the Go proxy)."

mkdir -p "$(dirname "$out")"
lock="$out.lock"
log="$out.log"

build_traefik() {
  # `go install` of Traefik fails (replace directives in its go.mod): build a copy of the
  # module folder instead, letting go.mod resolve (GOFLAGS=-mod=mod).
  local module="github.com/traefik/traefik/v3@$TRAEFIK_VERSION" dir src
  dir=$(go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || die "go mod download $module gave no folder"
  src="$(dirname "$out")/src"
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  (cd "$src" && GOFLAGS=-mod=mod nice -n 10 go build \
     -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
     -o "$out.partial" ./cmd/traefik)
  rm -rf "$src"
}

build_compose_check() {
  (cd "$source_dir" && nice -n 10 go build -o "$out.partial" .)
}

build() {
  exec 9>"$lock"
  flock 9  # a build already under way (e.g. started by `make setup`) is waited for
  if [ -x "$out" ]; then return 0; fi
  say "building $tool into $(dirname "$out") (log: $log)"
  local started=$SECONDS
  if ! { if [ "$tool" = traefik ]; then build_traefik; else build_compose_check; fi; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "building $tool failed; full log in $log"
  fi
  mv "$out.partial" "$out"
  say "built $tool in $((SECONDS - started)) s"
}

if $background; then
  # Detached, so `make setup` goes on with pip, npm and Maven while Go compiles.
  nohup setsid bash "$0" "$tool" >/dev/null 2>&1 </dev/null &
  say "building $tool in the background (log: $log)"
  exit 0
fi
build
echo "$out"
