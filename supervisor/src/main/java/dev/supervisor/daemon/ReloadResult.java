package dev.supervisor.daemon;

import java.util.List;

/** How a reload ended: the new generation serves, or it failed and the old one still does. */
public final class ReloadResult {
    public final boolean ok;
    public final int generation;
    public final String error;
    public final List<String> stderr;

    private ReloadResult(boolean ok, int generation, String error, List<String> stderr) {
        this.ok = ok;
        this.generation = generation;
        this.error = error;
        this.stderr = stderr;
    }

    static ReloadResult ok(int generation) {
        return new ReloadResult(true, generation, null, List.of());
    }

    static ReloadResult failed(int generation, String error, List<String> stderr) {
        return new ReloadResult(false, generation, error, List.copyOf(stderr));
    }
}
