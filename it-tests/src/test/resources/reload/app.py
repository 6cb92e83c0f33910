"""The worker of the reload tests: python3 -u app.py MODE [OPTIONS]. Starts in tens of ms.

Modes:
  serve          HTTP/1.0 on every inherited listener (LISTEN_FDS, fds 3..), one connection at a
                 time, each closed after its answer. Every answer is 200 with the JSON body
                 {"generation":G,"worker":W,"pid":P,"listener":NAME,"listen_fds":N}.
                 GET /hold  prints "holding request" on stdout and answers only once this process
                            got SIGUSR1 (a drain signal meanwhile does not end it: the request in
                            hand is finished first).
                 Sends STATUS=serving generation G and READY=1 to $NOTIFY_SOCKET once it accepts.
                 On SIGTERM (the drain): finish the request in hand, stop accepting, exit 0.
    --ignore-term    print "ignoring SIGTERM" and go on serving instead (a worker that does
                     not drain; only KILL ends it)
    --warmup MS      work MS ms before it accepts and says READY=1 (a slower start)
  exit-early CODE  print two lines on stderr and exit with CODE before it is ready
  never-ready      print a line on stderr and wait, never accepting, never sending READY=1,
                   until a signal ends it

Nothing here polls: the loop blocks in select() on the listeners and a signal wakeup pipe.
"""
import json
import os
import select
import signal
import socket
import sys
import time

LISTEN_FDS_START = 3


def notify(message):
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.connect(addr)
        s.send(message.encode())


class Wakeup:
    """Signals become a readable pipe, so that select() is the one place this process waits."""

    def __init__(self, *signums):
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        os.set_blocking(self.w, False)
        signal.set_wakeup_fd(self.w)
        self.received = set()
        for s in signums:
            signal.signal(s, self.on_signal)

    def on_signal(self, signum, frame):
        self.received.add(signum)

    def drain(self):
        try:
            while os.read(self.r, 512):
                pass
        except BlockingIOError:
            pass


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data and len(data) <= 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    parts = data.split(b"\n", 1)[0].decode("latin-1").split()
    return parts[1] if len(parts) >= 2 else "/"


def answer(conn, body):
    payload = json.dumps(body).encode()
    conn.sendall(("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % len(payload)).encode() + payload)


def serve(args):
    ignore_term = "--ignore-term" in args
    warmup_ms = int(args[args.index("--warmup") + 1]) if "--warmup" in args else 0
    count = int(os.environ.get("LISTEN_FDS", "0"))
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    generation = int(os.environ.get("SUPERVISOR_GENERATION", "0"))
    socks = {}
    for i in range(count):
        s = socket.socket(fileno=LISTEN_FDS_START + i)
        s.setblocking(False)  # every worker of every generation races for a connection; the loser gets EAGAIN
        socks[s] = names[i] if i < len(names) else str(i)
    wake = Wakeup(signal.SIGTERM, signal.SIGUSR1)
    if warmup_ms:
        time.sleep(warmup_ms / 1000.0)  # the simulated start-up work of a slower application
    identity = {"generation": generation, "worker": int(os.environ.get("SUPERVISOR_WORKER", "-1")),
                "pid": os.getpid(), "listen_fds": count}
    notify("STATUS=serving generation %d\nREADY=1" % generation)
    told_term = False
    while True:
        if signal.SIGTERM in wake.received and not told_term:
            told_term = True
            if not ignore_term:
                break
            print("ignoring SIGTERM", flush=True)
        readable, _, _ = select.select(list(socks) + [wake.r], [], [])
        if wake.r in readable:
            wake.drain()
            continue
        for s in readable:
            try:
                conn, _ = s.accept()
            except (BlockingIOError, InterruptedError):
                continue
            with conn:
                conn.setblocking(True)
                conn.settimeout(30)
                path = read_request(conn)
                if path.startswith("/hold"):
                    wake.received.discard(signal.SIGUSR1)
                    print("holding request", flush=True)
                    while signal.SIGUSR1 not in wake.received:
                        select.select([wake.r], [], [])
                        wake.drain()
                answer(conn, dict(identity, listener=socks[s], path=path))
            break  # look at the signals again before the next accept
    print("drained", flush=True)
    sys.exit(0)


def exit_early(code):
    print("loading settings from /etc/app/settings.toml", file=sys.stderr, flush=True)
    print("error: database at 10.0.0.7:5432 refused the connection", file=sys.stderr, flush=True)
    sys.exit(code)


def never_ready():
    print("warming the cache (this never ends)", file=sys.stderr, flush=True)
    wake = Wakeup(signal.SIGTERM)
    while not wake.received:
        select.select([wake.r], [], [])
        wake.drain()
    sys.exit(0)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "serve":
        serve(sys.argv[2:])
    elif mode == "exit-early":
        exit_early(int(sys.argv[2]))
    elif mode == "never-ready":
        never_ready()
    else:
        print("usage: app.py serve [--ignore-term] [--warmup MS] | exit-early CODE | never-ready", file=sys.stderr)
        sys.exit(64)


if __name__ == "__main__":
    main()
