#!/usr/bin/env bash
# After the 16th shard of digits-nb201 is packed and committed: ship the whole benchmark, check it
# (opens by name, shows an architecture, 5 random architectures rebuilt bit for bit) and run the
# study whose report the README's Benchmarks section quotes. Prints where the report is.
#   tools/finish_digits_nb201.sh [STUDY_DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$HERE/.venv/bin/python}
export PYTHONPATH=$HERE/src
STUDY=${1:-$HERE/build/digits-nb201-study}
cd "$HERE"
$PY tools/ship_benchmark.py data/builds/digits-nb201 digits-nb201
# Whole outputs to files, then their heads: `| head` would close the pipe, which pipefail counts as failure.
$PY -m robnas bench show digits-nb201 > build/show-summary.txt && head -40 build/show-summary.txt
$PY -m robnas bench show digits-nb201 '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|' \
  > build/show-arch.txt && head -40 build/show-arch.txt
$PY tools/check_reproducible.py digits-nb201 --archs 5
mkdir -p "$STUDY"
( cd "$STUDY" && /usr/bin/time -v $PY -m robnas bench study digits-nb201 --name study --quiet ) 2> "$STUDY/time.txt"
grep -E "Elapsed|Maximum resident" "$STUDY/time.txt"
echo "report: $STUDY/runs/study/results/report.md"
