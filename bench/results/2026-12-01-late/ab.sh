#!/bin/bash
# W5 (nginx) with the default config, interleaved over builds: "build native_rps default_rps ratio"
cd /work/main
for i in $(seq 1 ${ROUNDS:-3}); do
  for which in ${VARIANTS:-old head new}; do
    case $which in old) PY=/tmp/venv-old/bin/python;; head) PY=/tmp/venv-head/bin/python;; *) PY=/work/venv/main/bin/python;; esac
    rm -rf /tmp/w5out
    PATH=$(dirname $PY):$PATH $PY -m bench.run --only ${W:-W5} --setups native,th_default --repeat 1 --no-flood --no-pipeline --out /tmp/w5out >/tmp/w5.log 2>&1
    python3 - "$which" <<'PY'
import json,sys
d=json.load(open('/tmp/w5out/results.json'))
r={x['setup']:x['value'] for x in d['workloads'][0]['runs']}
print(sys.argv[1], round(r['native']), round(r['th_default']), round(r['th_default']/r['native'],3))
PY
  done
done
