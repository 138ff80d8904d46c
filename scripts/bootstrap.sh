#!/usr/bin/env bash
# Set up everything `make run` / `make test` need on a fresh Debian machine, then get out of the way.
#   bootstrap.sh run    the terminal: venv + app, face matching; PC/SC when the system allows it
#   bootstrap.sh test   also the PC/SC test stack (pcscd, vpcd), PostgreSQL and the test tools
#   bootstrap.sh bench  as test, plus what regenerates the face fixtures and plots (scikit-image, matplotlib)
# Idempotent: a second call with nothing missing takes well under a second.
set -euo pipefail
mode=${1:-run}
cd "$(dirname "$0")/.."

say() { printf '\033[1m[madoguchi]\033[0m %s\n' "$*" >&2; }

find_python() {
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

apt_missing() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    echo "${missing[@]:-}"
}

is_root() { [ "$(id -u)" = 0 ]; }

# -- system packages (root only; a user without root gets the simulated reader and a hint) --
apt_packages="pcscd libpcsclite-dev swig"
# the tests also run independent card clients against the virtual card (tests/test_conformance.py),
# and start a throwaway PostgreSQL cluster of their own for the facility journal (tests/pg_cluster.py)
[ "$mode" != run ] && apt_packages="$apt_packages vsmartcard-vpcd opensc opensc-pkcs11 pcsc-tools libnss3-tools openssl postgresql"
PY=$(find_python) || { say "Python 3.11 以上が必要です: sudo apt-get install python3"; exit 1; }
"$PY" -c 'import venv, ensurepip' 2>/dev/null || apt_packages="$apt_packages python3-venv"
if command -v dpkg-query >/dev/null 2>&1; then
    missing=$(apt_missing $apt_packages)
    if [ -n "$missing" ]; then
        if is_root && command -v apt-get >/dev/null 2>&1; then
            say "installing Debian packages: $missing"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
        elif [ "$mode" != run ]; then
            say "テストには次のパッケージが必要です（root で実行すると自動で入ります）: sudo apt-get install $missing"
            exit 1
        fi
    fi
fi

# -- the virtual environment --
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $PY"
    "$PY" -m venv .venv
fi
extras="face"
if [ -e /usr/include/PCSC/winscard.h ] && command -v swig >/dev/null 2>&1; then
    extras="$extras,pcsc"
elif [ "$mode" = run ]; then
    say "PC/SC（実機のカードリーダー）を使うには: sudo apt-get install pcscd libpcsclite-dev swig のあと make run"
fi
[ "$mode" = test ] && extras="$extras,test"
[ "$mode" = bench ] && extras="$extras,test,fixtures"
stamp=".venv/.installed-$(cat pyproject.toml scripts/bootstrap.sh | sha1sum | cut -c1-12)-${extras//,/-}"
if [ ! -e "$stamp" ]; then
    say "installing Python packages ($extras)"
    .venv/bin/python -m pip install -q --disable-pip-version-check "setuptools>=65,<81" wheel
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
    # face_recognition requires "dlib" by name; dlib-bin (a wheel) provides the module, so
    # building dlib from source (over 15 minutes on 2 cores) is never needed.
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "face_recognition>=1.3"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
