#!/bin/bash
# W1 (io_loop pread/pwrite) application time: native, allow-all filter, tracehound, and
# tracehound with its agent SIGSTOPped for the loop (the loop makes no traced syscall)
B=/tmp/tracehound-bench/bin; F=/tmp/w1stop.dat; N=${N:-3000000}; TH=/work/venv/main/bin/tracehound
e() { grep -o 'bench-elapsed [0-9.]*' | awk '{print $2}'; }
for r in $(seq ${R:-5}); do
  a=$($B/stopwatch $B/io_loop $F $N 2>&1 | e)
  b=$($B/allow_all $B/stopwatch $B/io_loop $F $N 2>&1 | e)
  c=$($TH run -- $B/stopwatch $B/io_loop $F $N 2>&1 | e)
  $TH run -- $B/stopwatch $B/io_loop $F $N 2>/tmp/w1stop.err & p=$!
  for i in $(seq 100); do pgrep -f "^$B/io_loop" >/dev/null && break; sleep 0.01; done
  sleep 0.05; kill -STOP $p; sleep ${STOPS:-0.8}; kill -CONT $p; wait $p
  d=$(e < /tmp/w1stop.err)
  echo "native $a allow $b th $c th_agent_stopped $d"
done
