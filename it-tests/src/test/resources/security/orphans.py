"""Leaves orphans for PID 1 to reap: python3 orphans.py N

Forks N children; each forks a grandchild and exits at once (this process reaps the child), so
the grandchild is re-parented to the namespace's init. Each grandchild waits until that has
happened, prints "ORPHAN <pid> PARENT <ppid> EXITING" and exits: a zombie until init reaps it.
Then READY=1, and waits for TERM.
"""
import os
import signal
import socket
import sys
import time

n = int(sys.argv[1])
for _ in range(n):
    child = os.fork()
    if child == 0:
        if os.fork() == 0:
            parent = os.getppid()
            deadline = time.monotonic() + 10
            while os.getppid() == parent and time.monotonic() < deadline:
                time.sleep(0.01)  # a busy child has no event for "my parent exited"
            print("ORPHAN %d PARENT %d EXITING" % (os.getpid(), os.getppid()), flush=True)
            os._exit(0)
        os._exit(0)
    os.waitpid(child, 0)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.connect(os.environ["NOTIFY_SOCKET"])
    s.send(b"READY=1")
while True:
    signal.pause()
