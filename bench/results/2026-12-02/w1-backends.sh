#!/bin/bash
B=/tmp/tracehound-bench/bin; F=/tmp/w1stop.dat; N=${N:-4000000}; TH=/work/venv/main/bin/tracehound
e() { grep -o 'bench-elapsed [0-9.]*' | awk '{print $2}'; }
for r in $(seq ${R:-5}); do
  b=$($B/allow_all $B/stopwatch $B/io_loop $F $N 2>&1 | e)
  c=$($TH run -- $B/stopwatch $B/io_loop $F $N 2>&1 | e)
  d=$(TRACEHOUND_KERNEL_FEATURES_OFF=ptrace $TH run -- $B/stopwatch $B/io_loop $F $N 2>&1 | e)
  f=$($TH run -c /tmp/ptrace.toml -- $B/stopwatch $B/io_loop $F $N 2>&1 | e)
  echo "allow $b th $c th_noptrace $d th_ptrace_backend $f"
done
