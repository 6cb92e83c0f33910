# gunicorn under supervisor: say READY=1 when every worker has loaded the app, not before.
#
#   supervisor run -l web=:8080 --ready notify -- gunicorn -c gunicorn.conf.py app:app
#
# gunicorn's arbiter sends READY=1 as soon as it holds the sockets, before it has forked a single
# worker. supervisor would then drain the old generation while the new one still imports the app,
# and the requests of that second wait in the backlog. With these hooks the arbiter's own READY=1
# goes nowhere; each worker writes a byte to a pipe once it has loaded the app, and a thread of the
# arbiter sends READY=1 when it has one from each of gunicorn's `workers` (a worker that died before
# it booted is replaced, and its replacement counts). The arbiter keeps supervisor's uid, so this
# works with gunicorn's `user` setting too.
#
# Before it counts as booted, each worker also readies itself for the load it takes when the old
# generation drains (post_worker_init): it collects once, freezes what it holds (gc.freeze()), and
# a gthread worker starts all of its pool threads. Otherwise its first collections come just as
# it takes all the load, each with every thread of the worker waiting, and so does the copying of
# the pages it shares with the arbiter that they write to. The collection writes to every object
# the worker holds, so it copies those pages now: with preload_app each worker holds its own copy
# of the app's pages from the start (many of which its reference counts would copy anyway).
# Freezing in the arbiter instead would keep them shared, and measured slower reloads: the copying
# then comes under load. It costs a worker a collection of everything it holds at boot (tens of ms,
# more on a busy machine), spent, in a reload, while the old generation still serves. A frozen
# object is never collected: cycles among what the app loaded that it later drops stay in memory
# until the worker ends.
#
# A worker that ends with status 0 (told to stop or drain, or at max_requests) and an arbiter
# stopped by TERM, INT or QUIT end without Python's teardown of the interpreter (worker_exit,
# on_exit): they do what the usual exit does first (wait for the other threads, run the atexit
# handlers, logging's flush among them, flush stdout and stderr) and then os._exit(0). The teardown
# frees every object one by one: about 100 ms of CPU in the arbiter and more in a worker that loaded
# the app, spent just when the new generation takes all the load. What it would still have done:
# finalizers (__del__) and `finally` blocks of suspended generators, and flushing a buffered file
# the app left open without flushing or closing it. Any other exit (a failed boot, an error, a
# timeout) is the usual one.
#
# With a config file of your own, call these five functions from your hooks of the same names.
import atexit
import gc
import os
import socket
import sys
import threading

_notify_socket = None
_booted = None  # (read end, write end), made before any worker is forked


def on_starting(server):
    global _notify_socket, _booted
    _notify_socket = os.environ.pop("NOTIFY_SOCKET", None) or None
    if _notify_socket is not None:
        _booted = os.pipe()
        os.set_blocking(_booted[1], False)


def when_ready(server):
    if _notify_socket is None:
        return
    # The arbiter's own READY=1 has gone nowhere by now; NOTIFY_SOCKET is back for anything later.
    os.environ["NOTIFY_SOCKET"] = _notify_socket
    threading.Thread(target=_notify_when_booted, args=(server,), name="ready-when-booted", daemon=True).start()


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
    _start_pool_threads(worker)
    if _booted is None:
        return
    try:
        os.write(_booted[1], b".")
    except BlockingIOError:
        pass  # thousands of worker restarts later: READY=1 went out long ago


def _start_pool_threads(worker):
    # A ThreadPoolExecutor starts a thread only for a task that finds none idle: give it as many
    # tasks as it has threads, each held until all have started.
    pool = getattr(worker, "tpool", None)  # gthread's
    if pool is None:
        return
    n = getattr(pool, "_max_workers", worker.cfg.threads)
    started = threading.Barrier(n + 1, timeout=5)
    try:
        for _ in range(n):
            pool.submit(started.wait)
        started.wait()
    except (RuntimeError, threading.BrokenBarrierError) as e:
        # Out of threads, or one not yet running: the worker serves all the same.
        started.abort()
        worker.log.warning("pool threads not all started before the first request: %r", e)


def _notify_when_booted(server):
    wanted = server.cfg.workers
    seen = 0
    while seen < wanted:
        got = os.read(_booted[0], wanted - seen)
        if not got:
            return
        seen += len(got)
    address = _notify_socket if _notify_socket[0] != "@" else "\0" + _notify_socket[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall(("READY=1\nSTATUS=%d gunicorn workers booted" % wanted).encode())
    except OSError as e:
        server.log.warning("cannot say READY=1 on NOTIFY_SOCKET %s: %s", _notify_socket, e)


def on_exit(server):
    # The arbiter's loop halts (and exits 0) in its handler of the StopIteration that TERM, INT and
    # QUIT raise, or of a KeyboardInterrupt; a HaltServer (a worker that failed to boot) is not one.
    if isinstance(sys.exc_info()[1], (StopIteration, KeyboardInterrupt)):
        _exit_now()


def worker_exit(server, worker):
    # Called in the worker's finally block: the SystemExit on its way out says how it ends.
    e = sys.exc_info()[1]
    if isinstance(e, SystemExit) and e.code == 0:
        _exit_now()


def _exit_now():
    # The steps of CPython's own exit before its teardown, in its order: threading's exit hooks
    # (concurrent.futures wakes its idle pool threads there) and the wait for non-daemon threads,
    # then the atexit handlers. Both run in the main thread, as here.
    wait_for_threads = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if wait_for_threads is None or run_exit_handlers is None:
        return  # not CPython: the usual exit
    wait_for_threads()
    run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
