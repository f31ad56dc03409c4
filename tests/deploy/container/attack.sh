#!/bin/sh
# What an attacker does through the service's code-execution hole, as the non-root
# application user on a read-only root filesystem: each step is meant to raise one of
# the default rules (named after the step). Only loopback is contacted.
set -u
W=/tmp/w$$
mkdir -p "$W"
# Execution from temporary directory
cp /bin/true "$W/stage" && "$W/stage"
# Netcat with exec option (a netcat by name; port 9 on loopback: nothing listens)
cp /bin/true "$W/nc" && "$W/nc" -e /bin/sh 127.0.0.1 9
# Search for AWS credentials or private keys
grep -r aws_secret_access_key "$W" >/dev/null 2>&1
# Package management process launched
dpkg --version >/dev/null 2>&1
rm -rf "$W"
exit 0
