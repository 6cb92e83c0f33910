"""A worker for the privilege-drop test: python3 user_worker.py

Prints "IDS {json}" with its real/effective uid and gid and groups, then asks the supervisor for
its listeners over SUPERVISOR_SOCKET (as the Java library does) and prints "CONTROL {json}" with
the answer and how many fds came with it. Sends READY=1 to NOTIFY_SOCKET, then answers HTTP on
fd 3 with {"uid":..,"gid":..,"pid":..} until TERM; then asks for the listeners again and prints
"DRAIN-CONTROL {json}" (a draining worker is no longer a current one) before it exits.
"""
import json
import os
import select
import signal
import socket
import sys


def ask_listeners():
    path = os.environ.get("SUPERVISOR_SOCKET")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(path)
            s.sendall(b'{"v":1,"cmd":"listeners"}\n')
            data, fds, _, _ = socket.recv_fds(s, 65536, 16)
            for fd in fds:
                os.close(fd)
            return {"answer": json.loads(data.decode().splitlines()[0]), "fds": len(fds)}
    except OSError as e:
        return {"error": str(e)}


def notify(message):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(os.environ["NOTIFY_SOCKET"])
        s.send(message.encode())


def main():
    ids = {"pid": os.getpid(), "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "egid": os.getegid(),
           "groups": sorted(os.getgroups())}
    print("IDS " + json.dumps(ids), flush=True)
    print("CONTROL " + json.dumps(ask_listeners()), flush=True)
    lsock = socket.socket(fileno=3)
    lsock.setblocking(False)  # workers share the socket: the one that loses the race gets EAGAIN
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)  # TERM wakes select() through this pipe
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    notify("READY=1")
    body = json.dumps(ids).encode()
    while not stop:
        readable, _, _ = select.select([lsock, wake_r], [], [])
        if lsock not in readable:
            continue
        try:
            conn, _ = lsock.accept()
        except (BlockingIOError, InterruptedError):
            continue
        with conn:
            conn.setblocking(True)
            conn.settimeout(10)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    print("DRAIN-CONTROL " + json.dumps(ask_listeners()), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
