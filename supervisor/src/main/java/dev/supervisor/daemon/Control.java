package dev.supervisor.daemon;

import java.util.List;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What the control socket may ask of the supervisor. Each call is queued to the supervisor
 * thread; each answer is given on that thread.
 */
public interface Control {

    /**
     * What a current worker, or a descendant of one, may have: the worker's pid (its watch
     * connections are filed under it) and its listeners' names with copies of their fds, made
     * on the supervisor thread when it approved the request, so that a listener closed meanwhile
     * never goes out under a reused fd number. The receiver of a grant closes the fds.
     *
     * @param error why no fds could be copied (EMFILE ...); then {@code fds} is empty
     */
    record Grant(int workerPid, List<String> names, int[] fds, String error) {}

    void status(Consumer<ObjectNode> answer);

    void reload(Consumer<ReloadResult> done);

    /** Graceful stop; a second one kills. */
    void stop();

    /**
     * Upgrades the supervisor in place. {@code failed} hears why when it failed and this image
     * carries on; a success is answered by the new image.
     */
    void upgrade(Consumer<String> failed);

    /** Runs {@code r} on the supervisor's thread once it has taken over what the previous image handed over. */
    void afterTakeOver(Runnable r);

    /**
     * The grant of process {@code ancestry[0]} when it, or the nearest ancestor that is a worker,
     * is a current (starting or ready) worker; null for any other process.
     *
     * @param withFds whether to copy the listener fds (a {@code listeners} request) or not ({@code watch})
     */
    void grant(long[] ancestry, boolean withFds, Consumer<Grant> answer);
}
