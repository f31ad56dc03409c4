#!/bin/bash
# W2 app time (stopwatch's bench-elapsed), interleaved: 6435649 default, HEAD, working tree
B=/tmp/tracehound-bench/bin/stopwatch; D=/tmp/tracehound-bench/files; N=${N:-100000}
for i in $(seq 1 ${ROUNDS:-3}); do
  for which in ${VARIANTS:-old head new}; do
    case $which in old) PY=/tmp/venv-old/bin/python;; head) PY=/tmp/venv-head/bin/python;; *) PY=/work/venv/main/bin/python;; esac
    PATH=$(dirname $PY):$PATH $PY -c "import sys; from tracehound.agent.cli import main; sys.argv[0]='tracehound'; sys.exit(main())" run -- $B /tmp/tracehound-bench/bin/open_loop $D $N >/dev/null 2>/tmp/ab_x.err
    echo "$which $(grep bench-elapsed /tmp/ab_x.err | awk '{print $2}')"
  done
done | sort -s -k1,1 | awk '{a[$1]=a[$1]" "$2} END{for(k in a) print k":"a[k]}'
