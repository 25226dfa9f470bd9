# Sourced by scripts/pixseek and scripts/test: a virtual environment in .venv, (re)installed
# whenever pyproject.toml changes. Needs only python3 (3.10+) with venv and pip.
ensure_venv() {
    local extras="$1"
    local root; root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local python="${PIXSEEK_PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "pixseek needs Python 3.10 or newer as '$python' (set PIXSEEK_PYTHON to another)" >&2
        return 1
    fi
    if [ ! -x "$root/.venv/bin/python" ]; then
        "$python" -m venv "$root/.venv"
    fi
    local stamp="$root/.venv/.installed${extras:+-$extras}"
    local want; want="$(cat "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing pixseek${extras:+ with [$extras]} into $root/.venv (first run: a few minutes, torch is large)" >&2
        "$root/.venv/bin/python" -m pip install --quiet --upgrade pip >&2
        "$root/.venv/bin/python" -m pip install --quiet -e "$root${extras:+[$extras]}" >&2
        echo "$want" > "$stamp"
    fi
}
