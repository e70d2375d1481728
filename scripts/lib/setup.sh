# Shared by scripts/demo and scripts/test: system packages, then the project virtualenv.
# Sourced, not run. Safe to run again: it only does what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
SYSTEM_PACKAGES=(mpv libmpv2 mosquitto mosquitto-clients postgresql python3-venv python3-pip mtools dosfstools fdisk e2fsprogs rauc squashfs-tools u-boot-tools u-boot-qemu qemu-system-arm poppler-utils chromium chromium-driver)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

missing_packages() {
    local pkg
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || printf '%s ' "$pkg"
    done
}

ensure_system_packages() {
    local missing
    missing="$(missing_packages)"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        say "installing system packages: $missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "These Debian packages are needed: $missing" >&2
        echo "Install them, then run this command again:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing" >&2
        exit 1
    fi
}

ensure_virtualenv() {
    local python="${JUKEBOX_PYTHON:-python3}"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating the virtualenv in $VENV"
        "$python" -m venv "$VENV"
    fi
    # Reinstall only when the project's dependencies changed.
    local stamp="$VENV/.jukebox-installed" want
    want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "installing the project and its Python dependencies into $VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
        echo "$want" > "$stamp"
    fi
}

ensure_system_packages
ensure_virtualenv
export PATH="$VENV/bin:$PATH"
export PYGAME_HIDE_SUPPORT_PROMPT=1
cd "$ROOT"
