#!/bin/sh
# The install recipe: a virtualenv at PREFIX holding runbookd built from the source tree SRC.
#
#   sh deploy/install.sh PREFIX [SRC]        (SRC defaults to .; PYTHON picks the interpreter)
#
# The container image runs it (deploy/docker/Dockerfile), hosts run it for the systemd unit
# (docs/operations.md), and CI runs it into a temporary folder and serves from the result
# (tests/e2e/test_install_recipe.py), so the recipe is proven without docker.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 PREFIX [SRC]" >&2
  exit 2
fi
prefix=$1
src=${2:-.}
python=${PYTHON:-python3}

for needed in pyproject.toml requirements/runtime.txt; do
  if [ ! -f "$src/$needed" ]; then
    echo "$0: $src/$needed not found: SRC must be runbookd's source tree" >&2
    exit 2
  fi
done
# durable-rules does not import on 3.13 (docs/decisions.md).
if ! "$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))'; then
  echo "$0: runbookd needs Python 3.11 or 3.12; $python is $("$python" -V 2>&1)" >&2
  exit 2
fi

"$python" -m venv "$prefix"
# Exactly the versions CI tested: the runtime lock (the service, its PostgreSQL driver and the
# build backend, each file's hash checked), then runbookd itself with nothing resolved beside it.
# Not editable: the image's last stage copies PREFIX without the source tree.
"$prefix/bin/pip" install --quiet --require-hashes -r "$src/requirements/runtime.txt"
"$prefix/bin/pip" install --quiet --no-deps --no-build-isolation "$src"
# Fails here, not at the first start, when the result cannot even load its command line.
"$prefix/bin/runbookd" --help >/dev/null
echo "runbookd installed in $prefix"
