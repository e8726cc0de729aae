# SPDX-License-Identifier: GPL-2.0-only
#
# Print the virtual-CPU hand-off trace of a running or hung process
# (kernel built with CONFIG_LKL_CPU_TRACE=y):
#   gdb -batch -p PID -x kernel/tools/cpu-trace.gdb
# The last 400 events, oldest first; threads are numbered by first use.
python
import struct
import gdb

EVENTS = {1: "get-free", 2: "get-wait", 3: "get-handed", 4: "try-get",
          5: "release", 6: "handoff", 7: "wake-idle", 8: "switch",
          9: "idle-sleep", 10: "idle-woken", 11: "sched-away",
          12: "app-wait", 13: "app-woken", 14: "enter",
          15: "switch-resumed"}
ENTRIES, SIZE = 8192, 40
next_seq = int(gdb.parse_and_eval("*(long *)&cpu_trace_next"))
base = int(gdb.parse_and_eval("(long)&cpu_trace_ring"))
memory = gdb.selected_inferior()
threads = {}
for seq in range(max(0, next_seq - 400), next_seq):
    raw = bytes(memory.read_memory(base + SIZE * (seq % ENTRIES), SIZE))
    _, thread, event, pid, a, b = struct.unpack("<qQiiqq", raw)
    number = threads.setdefault(thread, len(threads))
    if event == 8:
        detail = "%d -> %d%s%s" % (a, b & 0xffff,
                                   " escape" if b & 0x10000 else "",
                                   " dead" if b & 0x20000 else "")
    else:
        detail = "a=%d b=%d" % (a, b)
    print("%8d T%-3d current=%-5d %-15s %s"
          % (seq, number, pid, EVENTS.get(event, event), detail))
end
