#!/bin/sh
# Attack simulation for the e2e test: each step is one suspicious action that a
# default rule must report. Safe on a dev box: files outside $WORK are our own and
# removed right away; network: loopback, plus UDP connects to the link-local credential
# endpoints, which send nothing.
# usage: attack.sh WORK HELPER
set -u
WORK=$1
HELPER=$2
TAG=th-e2e-$$
step() { echo "step: $*" >&2; }

step "1 shell spawned by a server process"
cp "$HELPER" "$WORK/nginx" && "$WORK/nginx" shell

step "2 read of a sensitive file"
cat /etc/shadow > /dev/null

step "3 write below a binary directory"
touch "/usr/local/bin/$TAG" && rm -f "/usr/local/bin/$TAG"

step "4 write below /etc"
echo x > "/etc/$TAG" && rm -f "/etc/$TAG"

step "5 drop a new binary and run it (also: execution from /tmp)"
cp /bin/true "$WORK/dropped" && chmod +x "$WORK/dropped" && "$WORK/dropped"

step "6 fileless execution via memfd_create"
"$HELPER" memfd

step "7 reverse shell plumbing: socket dup'ed onto stdin"
"$HELPER" dup

step "8 netcat with -e"
ln -sf /bin/true "$WORK/nc" && "$WORK/nc" -e /bin/sh 127.0.0.1 9

step "9 package manager in the container"
dpkg --version > /dev/null

step "10 contact the credentials endpoints"
python3 "$(dirname "$0")/../credential_probe.py"

step "11 ptrace attach and memory poke"
"$HELPER" ptrace

step "12 search for AWS credentials"
grep -r aws_secret_access_key "$WORK" > /dev/null 2>&1

step "13 log clearing"
mkdir -p /var/log && echo old > "/var/log/$TAG.log" && : > "/var/log/$TAG.log"
rm -f "/var/log/$TAG.log"

step "14 setuid to root by a non-root process"
"$HELPER" setuid

echo "attack done" >&2
exit 0
