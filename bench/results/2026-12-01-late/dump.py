import sys, tracehound.agent.tracer.tracer as t
orig = t.to_bytes
def dump(prog):
    b = orig(prog)
    open("/tmp/w1/prog.bin", "wb").write(b)
    return b
t.to_bytes = dump
from tracehound.agent.cli import main
sys.argv = ["tracehound", "run", "--", "/bin/true"]
main()
