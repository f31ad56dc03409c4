#!/bin/bash
# W5 once, native or under tracehound (TH= another build, THARGS= e.g. --config F, EXTRA= environment, PERF=1 scheduler counts): rps, CPU busy/idle and context switches per request (/proc/stat)
MODE=$1; REQ=${REQ:-50000}
cd /tmp/w5m
if [ $MODE = native ]; then
  /usr/sbin/nginx -p /tmp/w5m -c /tmp/w5m/nginx.conf -g 'daemon off;' 2>/dev/null & AG=$!
else
  env $EXTRA ${TH:-/work/venv/main/bin/tracehound} run $THARGS -- /usr/sbin/nginx -p /tmp/w5m -c /tmp/w5m/nginx.conf -g 'daemon off;' 2>/tmp/w5m/agent.err & AG=$!
fi
for i in $(seq 200); do (echo > /dev/tcp/127.0.0.1/18085) 2>/dev/null && break; sleep 0.05; done
sleep 0.3
read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ < /proc/stat; c1=$(awk '/^ctxt/{print $2}' /proc/stat)
if [ -n "$PERF" ]; then out=$(perf stat -a -x, -o /tmp/w5m/perf.$MODE -e sched:sched_migrate_task,sched:sched_wakeup,sched:sched_switch /tmp/tracehound-bench/bin/httpload 18085 $REQ 8 32 2>&1); else out=$(/tmp/tracehound-bench/bin/httpload 18085 $REQ 8 32 2>&1); fi
read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ < /proc/stat; c2=$(awk '/^ctxt/{print $2}' /proc/stat)
kill -QUIT $(cat /tmp/w5m/nginx.pid); wait $AG
python3 -c "
req=$REQ; hz=100
busy=(($u2+$n2+$s2+$q2+$sq2)-($u1+$n1+$s1+$q1+$sq1))/hz; idle=(($i2+$w2)-($i1+$w1))/hz
print('$MODE', '$out'.strip().split()[-2:] , 'busy us/req %.1f idle us/req %.1f user %.1f sys %.1f ctxt/req %.1f' % (busy/req*1e6, idle/req*1e6, ($u2-$u1)/hz/req*1e6, ($s2-$s1+$sq2-$sq1+$q2-$q1)/hz/req*1e6, ($c2-$c1)/req))
"
