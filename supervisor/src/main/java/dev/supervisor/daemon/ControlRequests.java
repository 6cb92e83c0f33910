package dev.supervisor.daemon;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * The requests of the control socket: who may send which (the peer check), what each one asks of
 * the supervisor (dispatch), and the workers waiting for their drain event (the watch registry).
 * It knows nothing of bytes and buffers: a {@link Client} is whatever the transport makes of one
 * connection. Only the transport's thread calls it.
 *
 * <p>Who may do what (SECURITY.md): the supervisor's own uid and root may send every request;
 * with --user, the workers' uid may ask for {@code listeners} and {@code watch} only, which are
 * answered only to a current worker or its descendant. Any other uid is refused at connect.
 */
final class ControlRequests {
    /** What a peer may ask, decided by its uid at connect. */
    enum Access { CONTROL, WORKER, REFUSED }

    /** One connection, as the transport offers it. */
    interface Client {
        int pid();

        Access access();

        /** Queues {@code answer}; with {@code close}, the connection ends after it. */
        void answer(ObjectNode answer, boolean close);

        /** Sends {@code answer} with {@code fds} attached, then closes the fds (they are copies made for this send). */
        void answerWithFds(ObjectNode answer, int[] fds);

        /**
         * The request needs the supervisor: the transport holds this client's next requests
         * back until {@code onTransport} has run, on the transport's thread.
         */
        Consumer<Runnable> awaitSupervisor();

        /** The connection waits for its drain event from now on: never idle, no client slot. */
        void watching();
    }

    private final Control supervisor;
    private final int ownUid;
    /** The workers' uid (--user), which may ask for listeners and watch only; -1 = none. */
    private final int workerUid;
    private final Log log;
    /** Watch connections by the pid of the worker they belong to. */
    private final Map<Integer, List<Client>> watchers = new HashMap<>();

    ControlRequests(Control supervisor, int ownUid, int workerUid, Log log) {
        this.supervisor = supervisor;
        this.ownUid = ownUid;
        this.workerUid = workerUid;
        this.log = log;
    }

    /** The peer check: our uid and root control; the workers' uid may ask for its listeners; no one else. */
    Access access(int uid) {
        if (uid == ownUid || uid == 0) {
            return Access.CONTROL;
        }
        return workerUid >= 0 && uid == workerUid ? Access.WORKER : Access.REFUSED;
    }

    /** Why a peer of {@code uid} was refused at connect: the answer it gets, and a log line. */
    ObjectNode refuse(int pid, int uid) {
        log.info("control socket: refused pid " + pid + " of uid " + uid + " (only uid " + ownUid + " and root may connect"
                + (workerUid >= 0 ? ", and the workers' uid " + workerUid + " for listeners and watch" : "") + ")");
        return Message.error("permission denied: uid " + uid + " may not control this supervisor");
    }

    /** One request line of {@code c}. */
    void handle(Client c, String line) {
        String cmd;
        try {
            cmd = Message.parseRequest(line);
        } catch (IllegalArgumentException e) {
            c.answer(Message.error(e.getMessage()), false);
            return;
        }
        if (c.access() != Access.CONTROL && !cmd.equals(Message.LISTENERS) && !cmd.equals(Message.WATCH)) {
            log.info("control socket: refused " + cmd + " from pid " + c.pid() + " (the workers' uid may ask for listeners and watch only)");
            c.answer(Message.error("permission denied: the workers' uid may not " + cmd + " this supervisor"), true);
            return;
        }
        switch (cmd) {
            case Message.STATUS: {
                Consumer<Runnable> later = c.awaitSupervisor();
                supervisor.status(s -> later.accept(() -> c.answer(Message.answer(true).set(Message.STATUS, s), false)));
                break;
            }
            case Message.RELOAD: {
                Consumer<Runnable> later = c.awaitSupervisor();
                supervisor.reload(r -> later.accept(() -> c.answer(reloadAnswer(r), false)));
                break;
            }
            case Message.STOP:
                c.answer(Message.answer(true), false);
                supervisor.stop();
                break;
            case Message.UPGRADE: {
                // Answered here only when it failed: a success is answered by the new image, which
                // finds this request still in flight.
                Consumer<Runnable> later = c.awaitSupervisor();
                supervisor.upgrade(failure -> later.accept(() -> c.answer(Message.error(failure), false)));
                break;
            }
            case Message.LISTENERS: {
                Consumer<Runnable> later = c.awaitSupervisor();
                supervisor.grant(ProcFs.ancestry(c.pid(), MAX_ANCESTRY), true, g -> later.accept(() -> sendListeners(c, g)));
                break;
            }
            case Message.WATCH: {
                Consumer<Runnable> later = c.awaitSupervisor();
                supervisor.grant(ProcFs.ancestry(c.pid(), MAX_ANCESTRY), false, g -> later.accept(() -> watch(c, g)));
                break;
            }
            default:
                throw new IllegalStateException("unhandled command " + cmd);
        }
    }

    /** How far up a peer's parent chain its worker is looked for (a launcher that forks the JVM). */
    static final int MAX_ANCESTRY = 8;

    private void sendListeners(Client c, Control.Grant g) {
        if (g == null) {
            log.info("control socket: refused listeners to pid " + c.pid() + ": not a current worker");
            c.answer(Message.error("pid " + c.pid() + " is not a current worker of this supervisor"), true);
            return;
        }
        if (g.error() != null) {
            log.info("control socket: listeners for pid " + c.pid() + ": " + g.error());
            c.answer(Message.error(g.error()), false);
            return;
        }
        ObjectNode a = Message.answer(true);
        ArrayNode names = a.putArray(Message.NAMES);
        g.names().forEach(names::add);
        c.answerWithFds(a, g.fds());
    }

    private void watch(Client c, Control.Grant g) {
        if (g == null) {
            c.answer(Message.error("pid " + c.pid() + " is not a current worker of this supervisor"), true);
            return;
        }
        List<Client> list = watchers.computeIfAbsent(g.workerPid(), p -> new ArrayList<>());
        if (!list.contains(c)) { // a second watch on the same connection changes nothing
            list.add(c);
            c.watching();
        }
        c.answer(Message.answer(true), false);
    }

    /** Worker {@code pid} was told to drain: every watch connection of it, or of its descendants, gets the event. */
    void drained(int pid) {
        List<Client> list = watchers.remove(pid);
        if (list != null) {
            for (Client c : list) {
                c.answer(Message.json().createObjectNode().put(Message.VERSION, Wire.PROTOCOL_VERSION).put(Message.EVENT, Message.DRAIN), true);
            }
        }
    }

    /** The worker whose drain event {@code c} waits for; 0 = none. For an upgrade's hand-over. */
    int watched(Client c) {
        for (Map.Entry<Integer, List<Client>> e : watchers.entrySet()) {
            if (e.getValue().contains(c)) {
                return e.getKey();
            }
        }
        return 0;
    }

    /** {@code c} waited for worker {@code pid}'s drain event in the previous image, and still does. */
    void rewatch(Client c, int pid) {
        watchers.computeIfAbsent(pid, p -> new ArrayList<>()).add(c);
        c.watching();
    }

    /** {@code c} closed: forget its watch. */
    void closed(Client c) {
        watchers.values().removeIf(list -> list.remove(c) && list.isEmpty());
    }

    /** Watch connections filed, for tests and status. */
    int watching() {
        return watchers.values().stream().mapToInt(List::size).sum();
    }

    static ObjectNode reloadAnswer(ReloadResult r) {
        if (r.ok) {
            return Message.answer(true).put("generation", r.generation);
        }
        ObjectNode n = Message.error(r.error).put("generation", r.generation);
        ArrayNode lines = n.putArray("stderr");
        r.stderr.forEach(lines::add);
        return n;
    }

}
