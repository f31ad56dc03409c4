#!/bin/sh
# What a service does on a normal day; none of it may raise an alert with the default
# config: nginx with a master and worker processes serving requests, a Python HTTP
# service with a client, archive and git work, and the start-up of common programs.
# usage: benign.sh WORK PORT   (PORT: a free loopback port for nginx)
set -eu
WORK=$1
PORT=$2
cd "$WORK"
mkdir -p www nginx-tmp
echo "hello" > www/index.html

# nginx: master + 2 workers, a few requests, then a clean stop
cat > nginx.conf <<CONF
daemon off;
master_process on;
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 64; }
http {
    access_log $WORK/nginx-access.log;
    client_body_temp_path $WORK/nginx-tmp/body;
    proxy_temp_path $WORK/nginx-tmp/proxy;
    fastcgi_temp_path $WORK/nginx-tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx-tmp/uwsgi;
    scgi_temp_path $WORK/nginx-tmp/scgi;
    server { listen 127.0.0.1:$PORT; root $WORK/www; }
}
CONF
nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
NGINX=$!
i=0
until curl -sf http://127.0.0.1:$PORT/ > /dev/null; do
    i=$((i + 1)); [ $i -lt 100 ] || exit 3; sleep 0.05
done
for _ in 1 2 3 4 5; do curl -sf http://127.0.0.1:$PORT/index.html > /dev/null; done
kill -QUIT $NGINX
wait $NGINX || true

# a Python service answering its clients
python3 - <<'PY'
import http.server, json, threading, urllib.request
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
for i in range(10):
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_port}/item/{i}") as r:
        json.loads(r.read())
srv.shutdown()
PY

# archives
mkdir -p data/sub
for i in 1 2 3 4 5; do echo "line $i" > "data/sub/file$i.txt"; done
tar cf data.tar data && gzip -f data.tar && tar xzf data.tar.gz -C www
gzip -dc data.tar.gz | tar tf - > /dev/null

# git work
mkdir -p repo && cd repo
git init -q .
cp ../data/sub/file1.txt ../data/sub/file2.txt .
git add . && git -c user.name=ci -c user.email=ci@example.invalid commit -q -m first
echo more >> file1.txt
git -c user.name=ci -c user.email=ci@example.invalid commit -qam second
git log --oneline > /dev/null && git diff HEAD~1 > /dev/null && git status --short > /dev/null
cd ..
git clone -q repo clone

# start-up of common programs
ls -la /usr/bin > /dev/null
date > /dev/null
id -u > /dev/null
uname -r > /dev/null
ps -e > /dev/null
env > /dev/null
find "$WORK/data" -name '*.txt' | sort | xargs cat | wc -l > /dev/null
grep -r line "$WORK/data" | sed 's/line/row/' | awk '{print $1}' > /dev/null
python3 -c 'import json, sqlite3, ssl, hashlib, zipfile, decimal, asyncio, ctypes, uuid' 
python3 -m venv --without-pip "$WORK/venv" && "$WORK/venv/bin/python" -c 'import sys'
perl -e 'print "ok\n"' > /dev/null 2>&1 || true
openssl version > /dev/null 2>&1 || true
echo "benign done" >&2
