package dev.supervisor.worker;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.FdPassing;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.ListenFds;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * The listener fds this process was given, by name, and how it got them, so that a failed
 * lookup can say what exists and why. Two ways in: inherited per LISTEN_FDS (supervisor run,
 * systemd), or, when nothing was inherited, fetched over SCM_RIGHTS from SUPERVISOR_SOCKET.
 */
final class Listeners {
    private final List<String> names;
    private final int[] fds;
    /** "from LISTEN_FDS", or why there are none. */
    private final String origin;
    /** Why the hand-over cannot be used (malformed, refused), or null. */
    private final String broken;

    private Listeners(List<String> names, int[] fds, String origin, String broken) {
        this.names = List.copyOf(names);
        this.fds = fds;
        this.origin = origin;
        this.broken = broken;
    }

    static Listeners fromEnvironment(Map<String, String> env, long pid) {
        ListenFds inherited;
        try {
            inherited = ListenFds.parse(env, pid);
        } catch (IllegalArgumentException e) {
            return broken("its LISTEN_FDS cannot be used: " + e.getMessage());
        }
        if (inherited != null && inherited.count() > 0) {
            int[] fds = new int[inherited.count()];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = Wire.LISTEN_FDS_START + i;
            }
            return new Listeners(inherited.names(), fds, "from LISTEN_FDS", null);
        }
        String none = whyNone(env, pid);
        String socket = env.get(Wire.SUPERVISOR_SOCKET);
        if (inherited == null && socket != null && !socket.isEmpty()) {
            return fromSupervisor(socket, none);
        }
        return new Listeners(List.of(), new int[0], none, null);
    }

    /**
     * The second way in: a worker that inherited nothing (started by another launcher) asks the
     * supervisor for the listeners; it answers only a pid that is one of its current workers.
     */
    private static Listeners fromSupervisor(String socket, String none) {
        String asked = "this process got no listeners: " + none + ", and asking the supervisor at " + socket + " ("
                + Wire.SUPERVISOR_SOCKET + ") ";
        FdPassing.Received r;
        try {
            r = FdPassing.request(socket, Message.request(Message.LISTENERS));
        } catch (IOException | RuntimeException e) {
            return broken(asked + "failed: " + e.getMessage());
        }
        String problem = null;
        List<String> names = new ArrayList<>();
        try {
            JsonNode answer = Message.parseAnswer(r.line());
            JsonNode list = answer.path(Message.NAMES);
            if (!answer.path(Message.OK).asBoolean(false)) {
                problem = "was refused: " + answer.path(Message.ERROR).asText("(no reason given)");
            } else if (!list.isArray() || list.size() != r.fds().length) {
                problem = "got " + (list.isArray() ? list.size() + " names" : "no \"names\"") + " and " + r.fds().length + " fds";
            } else {
                list.forEach(n -> names.add(n.asText()));
            }
        } catch (IllegalArgumentException e) {
            problem = "got " + e.getMessage();
        }
        if (problem != null) {
            for (int fd : r.fds()) {
                Libc.close(fd);
            }
            return broken(asked + problem);
        }
        return new Listeners(names, r.fds(), "from the supervisor at " + socket, null);
    }

    private static Listeners broken(String why) {
        return new Listeners(List.of(), new int[0], null, why);
    }

    /** Why {@code env} hands this process nothing, branch for branch with ListenFds.parse. */
    private static String whyNone(Map<String, String> env, long pid) {
        String listenPid = env.get(Wire.LISTEN_PID);
        String listenFds = env.get(Wire.LISTEN_FDS);
        if (listenPid == null) {
            return listenFds == null ? "LISTEN_FDS is not set (start it under supervisor run or systemd socket activation)"
                    : "LISTEN_FDS is set but LISTEN_PID is not, so the fds may belong to another process";
        }
        if (!listenPid.trim().equals(Long.toString(pid))) {
            return "LISTEN_PID=" + listenPid + " is another process, this is " + pid
                    + " (LISTEN_FDS is for the process that was started, not for its children)";
        }
        return listenFds == null ? "LISTEN_PID is this process but LISTEN_FDS is not set" : "LISTEN_FDS=" + listenFds;
    }

    /** Names in fd order; empty when this process got none. */
    List<String> names() {
        if (broken != null) {
            throw new IllegalStateException(broken);
        }
        return names;
    }

    /** The fd of listener {@code name}. */
    int fdOf(String name) {
        if (broken != null) {
            throw new IllegalStateException("no listener named '" + name + "': " + broken);
        }
        int i = names.indexOf(name);
        if (i >= 0) {
            return fds[i];
        }
        if (names.isEmpty()) {
            throw new IllegalStateException("no listener named '" + name + "': this process got no listeners: " + origin);
        }
        throw new IllegalStateException("no listener named '" + name + "': this process has " + names + " " + origin);
    }
}
