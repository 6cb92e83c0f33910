"""Prints its arguments exactly: python3 argv.py ARG...

One line "ARGV {json}" with sys.argv[1:] and whether LISTEN_PID is this process's pid, as bytes
decoded with surrogateescape so nothing is lost; then READY=1, and waits for TERM.
"""
import json
import os
import signal
import socket
import sys

report = {"argv": sys.argv[1:], "listen_pid_is_own": os.environ.get("LISTEN_PID") == str(os.getpid())}
print("ARGV " + json.dumps(report), flush=True)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
    s.connect(os.environ["NOTIFY_SOCKET"])
    s.send(b"READY=1")
while True:
    signal.pause()
