#!/usr/bin/env bash
# A benchmark build that outlasts one session, shard by shard, each shard committed the moment it is whole.
#
#   tools/build_in_shards.sh NAME SHARDS WORKDIR [--] BUILD FLAGS...
#
# For K = 1..SHARDS, unless data/builds/NAME/NAME-K-of-SHARDS.sqlite.xz is already committed, builds
# WORKDIR/NAME-K-of-SHARDS.sqlite with `robnas bench build ... --shard K/SHARDS --resume` (a shard cut off by
# the end of a session resumes where it stopped), ships it with `robnas bench ship` into data/builds/NAME and
# commits only those two files. ROBNAS_PYTHON (default .venv/bin/python) and PYTHONPATH choose the robnas that
# builds: point PYTHONPATH at a frozen commit's src (a git worktree) so every shard is built by the same code,
# and set ROBNAS_COMMIT to that commit for the records. When every shard is in:
#   unxz -k data/builds/NAME/*.xz && robnas bench merge NAME.sqlite data/builds/NAME/*.sqlite
#   robnas bench ship NAME.sqlite NAME --commit C      # into the package; then git rm -r data/builds/NAME
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 NAME SHARDS WORKDIR [--] BUILD FLAGS..." >&2; exit 2; }
name=$1; shards=$2; work=$3; shift 3
[ "${1:-}" = "--" ] && shift
cd "$(dirname "$0")/.."
python=${ROBNAS_PYTHON:-.venv/bin/python}
out=data/builds/$name
mkdir -p "$out" "$work"
for k in $(seq 1 "$shards"); do
  part=$name-$k-of-$shards
  [ -f "$out/$part.sqlite.xz" ] && continue
  "$python" -m robnas.cli bench build "$work/$part.sqlite" "$@" --shard "$k/$shards" --resume --quiet
  "$python" -m robnas.cli bench ship "$work/$part.sqlite" "$part" --to "$out" \
    ${ROBNAS_COMMIT:+--commit "$ROBNAS_COMMIT"} --quiet
  git add "$out/$part.sqlite.xz" "$out/$part.build.json"
  git commit -q -m "data: shard $k of $shards of the $name benchmark (whole), with its build record" -- \
    "$out/$part.sqlite.xz" "$out/$part.build.json"
done
