#!/usr/bin/env bash
# Builds the shipped digits-nb201 benchmark as 16 shards, one after the other, each resumable
# (a shard file that exists is resumed; a shard marked .done is skipped). Run it in the background:
#   nohup tools/build_digits_nb201.sh BUILD_DIR &
# Every shard must be built by the same robnas code: set ROBNAS_SRC to a checkout of the commit the
# build started with (the shards' build records name it; see data/builds/digits-nb201/*.json), e.g.
#   git worktree add /work/buildsrc 0653c75 && ROBNAS_SRC=/work/buildsrc/src nohup tools/build_digits_nb201.sh build &
# A finished shard is packed for the repository with tools/pack_shard.py; when all 16 are there,
#   tools/ship_benchmark.py data/builds/digits-nb201 digits-nb201   merges them and ships the whole benchmark
set -u
OUT=${1:?usage: tools/build_digits_nb201.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$HERE/.venv/bin/python}
export PYTHONPATH=${ROBNAS_SRC:-$HERE/src}
M=16
mkdir -p "$OUT" && cd "$OUT"
for K in $(seq 1 $M); do
  F=$(printf "shard-%02d-of-%02d.sqlite" "$K" "$M")
  [ -f "$F.done" ] && continue
  [ -f "$HERE/data/builds/digits-nb201/$F.xz" ] && continue   # already built, packed and committed
  RES=""; [ -f "$F" ] && RES="--resume"
  echo "$(date -u +%FT%TZ) start $F $RES" >> build.log
  $PY -m robnas bench build "$F" $RES --space nb201 --dataset digits --recipe digits-tiny --protocol jung-digits \
     --proxies jacobian,hessian,hessian-weights,curvature,synflow,jacob_cov,grad_norm,params,flops \
     --workers 2 --shard "$K/$M" --quiet >> "$F.out" 2>&1 && touch "$F.done"
  echo "$(date -u +%FT%TZ) end $F rc=$?" >> build.log
done
