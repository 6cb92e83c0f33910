# gunicorn under supervisor: say READY=1 when every worker has loaded the app, not before.
#
#   supervisor run -l web=:8080 --ready notify -- gunicorn -c gunicorn.conf.py app:app
#
# gunicorn's arbiter sends READY=1 as soon as it holds the sockets, before it has forked a single
# worker. supervisor would then drain the old generation while the new one still imports the app,
# and the requests of that second wait in the backlog. With these hooks the arbiter says nothing,
# and the worker that completes the set (gunicorn's `workers`) sends READY=1 once it can serve.
# Any process may send it: supervisor counts what arrives on NOTIFY_SOCKET for the worker it started.
#
# With a config file of your own, call these three functions from your hooks of the same names.
import fcntl
import os
import socket
import tempfile

_notify_socket = None
_booted = None


def on_starting(server):
    global _notify_socket, _booted
    _notify_socket = os.environ.pop("NOTIFY_SOCKET", None)
    # One byte per worker that booted, appended by the workers (forked after this, so they share it).
    _booted = tempfile.TemporaryFile(buffering=0)
    fcntl.fcntl(_booted.fileno(), fcntl.F_SETFL, fcntl.fcntl(_booted.fileno(), fcntl.F_GETFL) | os.O_APPEND)


def when_ready(server):
    # The arbiter's own READY=1 went nowhere; give it the socket back for the rest of its life.
    if _notify_socket is not None:
        os.environ["NOTIFY_SOCKET"] = _notify_socket


def post_worker_init(worker):
    if _notify_socket is None:
        return
    fd = _booted.fileno()
    os.write(fd, b".")
    # The worker that makes the count (a replacement of one that died first counts too); two that
    # append at once may both see it, and a second READY=1 changes nothing.
    if os.fstat(fd).st_size == worker.cfg.workers:
        _send("READY=1\nSTATUS=%d gunicorn workers booted" % worker.cfg.workers)


def _send(message):
    address = _notify_socket if _notify_socket[0] != "@" else "\0" + _notify_socket[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.connect(address)
        s.sendall(message.encode())
