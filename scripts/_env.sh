# Shared set-up for scripts/demo and scripts/test: a project venv with stream-ops in it.
# Sourced, not run. Needs Python 3.11+; nothing else from the system (FFmpeg comes from PyPI).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STREAM_OPS_VENV:-$ROOT/.venv}"

pick_python() {
  for py in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "stream-ops needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

ensure_venv() {  # $1: extras, e.g. "" or "[test]"
  local extras="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    "$(pick_python)" -m venv "$VENV"
  fi
  local stamp="$VENV/.stream-ops-installed$extras"
  # Reinstall only when pyproject.toml changed: the second run starts at once.
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT$extras"
    touch "$stamp"
  fi
}

have_postgresql() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1
}

ensure_browser() {
  # Browser tests drive Debian's chromium (never a downloaded browser); CJK fonts so
  # screenshots show Chinese; the store tests start Debian's PostgreSQL server themselves.
  # Installed when missing and we may (root + apt).
  local fonts
  # Captured first: `fc-list | grep -q` under pipefail fails when grep exits early (SIGPIPE).
  fonts="$(fc-list 2>/dev/null || true)"
  if [ -x /usr/bin/chromium ] && grep -qi "Noto Sans CJK" <<<"$fonts" && have_postgresql; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium, fonts-noto-cjk and postgresql (Debian packages) for the tests..." >&2
    local try
    for try in 1 2 3; do   # a registry hiccup should not fail a whole test run
      if DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk postgresql >/dev/null; then
        return 0
      fi
      echo "apt-get failed (attempt $try); retrying..." >&2
      sleep $((try * 5))
    done
    echo "error: could not install chromium, fonts-noto-cjk and postgresql" >&2
    return 1
  else
    echo "warning: /usr/bin/chromium, fonts-noto-cjk or postgresql missing; browser tests and the" >&2
    echo "         PostgreSQL store tests will be skipped (CI=true makes the latter fail)." >&2
    echo "         install them with: sudo apt-get install chromium fonts-noto-cjk postgresql" >&2
  fi
}
