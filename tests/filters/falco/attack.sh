#!/bin/sh
# Attack steps for the Falco-fields e2e test. Like ../e2e/attack.sh, but the programs
# whose /proc entries the rules read stay alive a moment (see docs/rules.md: values
# read from /proc are missing for a process that is gone before the agent looks).
# usage: attack.sh WORK HELPER LINGER
set -u
WORK=$1
HELPER=$2
LINGER=$3
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
exit 0
