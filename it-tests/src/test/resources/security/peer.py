"""A control-socket client for the security tests: python3 peer.py SOCKET LINE...

Connects to SOCKET, sends each LINE with a newline, and prints what comes back: "ANSWER <line>"
for each answer line, "FDS <n>" when an answer carries file descriptors (SCM_RIGHTS), "EOF"
when the supervisor closes the connection ("OPEN" when it keeps it 2 s after the last answer), "CONNECT-FAILED <errno name>" when it cannot connect.
Run as another user with setpriv, it shows what that user gets.
"""
import errno
import os
import socket
import sys


def main():
    path, lines = sys.argv[1], sys.argv[2:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect(path)
    except OSError as e:
        print("CONNECT-FAILED " + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
        return
    for line in lines:
        s.sendall(line.encode() + b"\n")
    buf = b""
    answers = 0
    while True:
        if answers >= len(lines):
            s.settimeout(2)  # every answer is in: the supervisor closes now, or keeps the connection
        try:
            data, fds, _flags, _addr = socket.recv_fds(s, 65536, 16)
        except ConnectionResetError:
            data, fds = b"", []
        except socket.timeout:
            print("OPEN", flush=True)
            return
        if fds:
            print("FDS %d" % len(fds), flush=True)
            for fd in fds:
                os.close(fd)
        if not data:
            print("EOF", flush=True)
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            answers += 1
            print("ANSWER " + line.decode(), flush=True)

if __name__ == "__main__":
    main()
