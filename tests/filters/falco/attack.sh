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
# More of Falco's stable rules' own attacks (acted out when the actor is given).
if [ -n "$ACTOR" ]; then
    ln -s /etc/shadow "$WORK/shadow-link"
    ln /etc/shadow "$WORK/shadow-hard" 2> /dev/null; rm -f "$WORK/shadow-hard"
    python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()' 2> /dev/null
    "$ACTOR" module
    "$ACTOR" release_agent
    "$ACTOR" traceme
    cp "$LINGER" /dev/shm/$TAG && /dev/shm/$TAG; rm -f /dev/shm/$TAG
    grep -rl "BEGIN RSA PRIVATE" "$WORK" > /dev/null 2>&1
    echo junk > "$WORK/junk" && shred -u "$WORK/junk"
    python3 -c 'import time; open("/etc/../etc/../etc/shadow").read(); time.sleep(0.3)'
fi
exit 0
