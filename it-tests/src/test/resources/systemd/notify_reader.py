"""Plays systemd's side of sd_notify: binds a datagram socket at argv[1] and prints every
message it receives as one line "NOTIFY a|b|c" (newlines in the message become '|')."""
import os
import socket
import sys

path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("BOUND", path, flush=True)
while True:
    data = s.recv(65536)
    print("NOTIFY " + data.decode("utf-8", "replace").replace("\n", "|"), flush=True)
