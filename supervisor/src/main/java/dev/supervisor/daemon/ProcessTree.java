package dev.supervisor.daemon;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Wire;

/**
 * Which processes belong to which worker (DESIGN.md, "Which processes belong to a generation"):
 * a worker's process group plus every descendant that left it (setsid, a double fork). Found by
 * walking /proc children down from the worker while it lives, and from the orphans its tree
 * leaves, which re-parent to us because we are a child subreaper. An orphan we have not seen
 * under a worker yet is placed by its process group, else by the SUPERVISOR_GENERATION and
 * SUPERVISOR_WORKER it inherited.
 *
 * <p>We reap by pid only the orphans we placed (never waitpid(-1), which would take the JDK's
 * own children and the statuses of our workers). Used by the supervisor thread only.
 */
final class ProcessTree {
    /** Processes one worker's walk visits at most: a fork bomb costs a bounded scan. */
    static final int MAX_PROCESSES = 4096;

    /** One worker's processes as last seen. */
    static final class Member {
        final int root;
        final int generation;
        final int slot;
        boolean rootReaped;
        /** The root's process group as last seen: its own pid until it leaves the group. */
        int rootPgrp;
        /** Every process of the tree but the root, with its process group. */
        Map<Integer, Integer> processes = new LinkedHashMap<>();
        /** The ones that are our children (orphans of the tree): we reap them. */
        final Set<Integer> orphans = new HashSet<>();

        Member(int root, int generation, int slot) {
            this.root = root;
            this.rootPgrp = root;
            this.generation = generation;
            this.slot = slot;
        }

        boolean alive() {
            return !rootReaped || !processes.isEmpty() || !orphans.isEmpty();
        }
    }

    private final int self = (int) ProcessHandle.current().pid();
    /**
     * The threads of ours that spawned workers: with the thread-group leader, which orphans
     * re-parent to (the kernel picks the first live thread of a subreaper), the only threads that
     * have children. Reading just theirs spares a read per JVM thread; every
     * {@link #FULL_SCAN_EVERY}th refresh reads them all.
     */
    private final Set<Integer> parents = new HashSet<>(Set.of(self));
    static final int FULL_SCAN_EVERY = 16;
    private int refreshes;
    private final List<Member> trees = new ArrayList<>();
    /** Orphans no worker could be found for, reaped when they end. */
    private final Set<Integer> strays = new HashSet<>();
    /**
     * Children in our own process group: no worker's (workers lead their own groups), but ours,
     * as the launcher's background archive dump is after an upgrade's exec. Reaped when they
     * end, neither logged nor killed.
     */
    private final Set<Integer> ownGroup = new HashSet<>();
    private final int ownPgrp;
    private final Log log;
    /** Children of ours that are no worker's: helpers the JDK started for us and reaps itself. */
    private final java.util.function.IntPredicate helper;

    ProcessTree(Log log, java.util.function.IntPredicate helper) {
        this.log = log;
        this.helper = helper;
        ProcFs.Stat own = ProcFs.stat(self);
        this.ownPgrp = own == null ? -1 : own.pgrp();
    }

    /** Called on the thread that spawned {@code root}, right after it did. */
    Member track(int root, int generation, int slot) {
        if (parents.size() < 8) {
            int tid = ProcFs.currentThread();
            if (tid > 0) {
                parents.add(tid);
            }
        }
        Member m = new Member(root, generation, slot);
        trees.add(m);
        return m;
    }

    /** Reaps the orphans that ended, places new ones, and walks every tree again. */
    void refresh() {
        refresh(++refreshes % FULL_SCAN_EVERY == 0);
    }

    /** {@link #refresh()}, reading the children of every thread of ours when {@code everyThread}. */
    private void refresh(boolean everyThread) {
        for (Member m : trees) {
            m.orphans.removeIf(Posix::reapIfGone);
        }
        ownGroup.removeIf(helper::test); // seen in the moment before it was registered
        ownGroup.removeIf(Posix::reapIfGone);
        strays.removeIf(Posix::reapIfGone);
        Map<Integer, Member> known = new HashMap<>();
        Set<Integer> roots = new HashSet<>();
        for (Member m : trees) {
            roots.add(m.root);
            for (int p : m.processes.keySet()) {
                known.put(p, m);
            }
            for (int p : m.orphans) {
                known.put(p, m);
            }
        }
        List<Integer> children;
        if (everyThread) {
            children = ProcFs.children(self);
        } else {
            children = new ArrayList<>();
            for (int tid : parents) {
                children.addAll(ProcFs.threadChildren(self, tid));
            }
        }
        for (int child : children) {
            if (roots.contains(child) || strays.contains(child) || ownGroup.contains(child) || helper.test(child)
                    || known.containsKey(child) && known.get(child).orphans.contains(child)) {
                continue;
            }
            Member m = known.containsKey(child) ? known.get(child) : place(child);
            if (m != null) {
                m.orphans.add(child);
            } else if (inOwnGroup(child)) {
                ownGroup.add(child);
            } else if (ProcFs.stat(child) != null && strays.add(child)) {
                log.info("process " + child + " re-parented to the supervisor belongs to no worker: it is reaped when it ends, or killed at stop");
            }
        }
        for (Member m : trees) {
            walk(m);
        }
        trees.removeIf(m -> !m.alive());
    }

    /**
     * KILLs the orphans no worker could be found for, with their descendants, and returns how
     * many processes that was. At stop: they came from our workers' trees, and would outlive us.
     */
    int killStrays() {
        refresh(true); // the last look: every thread
        Set<Integer> all = new HashSet<>();
        ArrayDeque<Integer> todo = new ArrayDeque<>(strays);
        while (!todo.isEmpty() && all.size() < MAX_PROCESSES) {
            int pid = todo.poll();
            ProcFs.Stat s = ProcFs.stat(pid);
            if (s != null && s.state() != 'Z' && all.add(pid)) {
                todo.addAll(ProcFs.children(pid));
            }
        }
        // Strays are our unreaped children, so their pids cannot have been reused; their descendants
        // could in the moment between this walk and the KILL, a window as small as the walk.
        all.forEach(pid -> Posix.kill(pid, Libc.SIGKILL));
        return all.size();
    }

    /** Walks {@code m}'s tree again from its root (while it lives) and its orphans. */
    void walk(Member m) {
        Map<Integer, Integer> found = new LinkedHashMap<>();
        ArrayDeque<Integer> todo = new ArrayDeque<>(m.orphans);
        ProcFs.Stat root = m.rootReaped ? null : ProcFs.stat(m.root);
        if (root != null) {
            m.rootPgrp = root.pgrp();
            todo.addAll(ProcFs.children(m.root, root));
        }
        while (!todo.isEmpty() && found.size() < MAX_PROCESSES) {
            int pid = todo.poll();
            if (found.containsKey(pid)) {
                continue;
            }
            ProcFs.Stat s = ProcFs.stat(pid);
            if (s == null) {
                continue;
            }
            found.put(pid, s.pgrp());
            if (s.state() != 'Z') {
                todo.addAll(ProcFs.children(pid, s));
            }
        }
        m.processes = found;
    }

    /** Sends {@code signal} to {@code m}'s process group and to each of its processes outside it. */
    void signal(Member m, int signal) {
        walk(m);
        Posix.kill(-m.root, signal);
        if (!m.rootReaped && m.rootPgrp != m.root) {
            // A root that left its own group. Never twice to one that did not: a second drain signal
            // may land after its handler is gone (Python resets them as it exits) and kill it.
            Posix.kill(m.root, signal);
        }
        for (Map.Entry<Integer, Integer> e : m.processes.entrySet()) {
            if (e.getValue() != m.root) {
                Posix.kill(e.getKey(), signal);
            }
        }
    }

    private boolean inOwnGroup(int pid) {
        ProcFs.Stat s = ProcFs.stat(pid);
        return s != null && s.pgrp() == ownPgrp;
    }

    /** An orphan first seen as our child: by its process group, else by the worker variables it inherited. */
    private Member place(int pid) {
        ProcFs.Stat s = ProcFs.stat(pid);
        if (s == null) {
            return null;
        }
        for (Member m : trees) {
            if (m.root == s.pgrp() || m.processes.containsValue(s.pgrp())) {
                return m;
            }
        }
        String g = ProcFs.environ(pid, Wire.SUPERVISOR_GENERATION);
        String w = ProcFs.environ(pid, Wire.SUPERVISOR_WORKER);
        Member found = null;
        for (Member m : trees) {
            if (Integer.toString(m.generation).equals(g) && Integer.toString(m.slot).equals(w)) {
                found = m; // the latest of the slot's restarts
            }
        }
        return found;
    }
}
