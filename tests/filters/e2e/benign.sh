#!/bin/sh
# A benign workload for the e2e test: none of this may raise an alert.
# usage: benign.sh WORK [extra]   ("extra" adds one action, for the baseline test)
set -eu
WORK=$1
EXTRA=${2:-}
cd "$WORK"

# a Python HTTP server answering a few requests on loopback
python3 - <<'PY'
import http.server, threading, urllib.request
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
for _ in range(5):
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_port}/") as r:
        r.read()
srv.shutdown()
PY

# tar and gzip of a directory
mkdir -p data/sub
for i in 1 2 3 4 5; do echo "line $i" > "data/sub/file$i.txt"; done
tar cf data.tar data
gzip -f data.tar
tar tzf data.tar.gz > /dev/null

# git init/add/commit in a temp dir
mkdir -p repo && cd repo
git init -q .
cp ../data/sub/file1.txt .
git add file1.txt
git -c user.name=ci -c user.email=ci@example.invalid commit -q -m "first commit"
cd ..

# pip-free Python imports
python3 -c 'import json, sqlite3, ssl, email.parser, xml.etree.ElementTree, hashlib, zipfile, decimal, asyncio'
if [ "$EXTRA" = extra ]; then
    touch "$WORK/extra-file"
fi
echo "benign done" >&2
