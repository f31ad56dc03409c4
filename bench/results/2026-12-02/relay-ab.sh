#!/bin/bash
# interleaved A/B of TRACEHOUND_RELAY=0/1 on workload $W: "relay native th ratio stats"
cd "$(git rev-parse --show-toplevel)"
for i in $(seq 1 ${ROUNDS:-4}); do
  for v in 0 1; do
    rm -rf /tmp/relay/out
    TRACEHOUND_RELAY=$v PATH=/work/venv/main/bin:$PATH python -m bench.run --only ${W:-W5} --setups native,th_default --repeat 1 --no-flood --no-pipeline --out /tmp/relay/out >/tmp/relay/log 2>&1
    python3 - "$v" <<'PY'
import json,sys
d=json.load(open('/tmp/relay/out/results.json'))
runs=d['workloads'][0]['runs']
r={x['setup']:x['value'] for x in runs}
st=[x['stats'] for x in runs if x['setup']=='th_default'][0] or {}
print(sys.argv[1], round(r['native'],3), round(r['th_default'],3), round(r['th_default']/r['native'],3), st.get('stops'), st.get('notify_races'))
PY
  done
done
