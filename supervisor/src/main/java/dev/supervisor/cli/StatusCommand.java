package dev.supervisor.cli;

import java.time.Duration;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "status", mixinStandardHelpOptions = true, description = "Show generations, workers and listeners of a running supervisor.")
public final class StatusCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Option(names = "--json", description = "print the status as one JSON object")
    boolean json;

    @Override
    public Integer call() throws Exception {
        return ControlClient.exchange(client.path(), Message.STATUS, Duration.ofSeconds(10), this::print);
    }

    private int print(JsonNode answer) {
        JsonNode s = answer.path(Message.STATUS);
        if (json) {
            System.out.println(s.toString());
            return Wire.EXIT_OK;
        }
        StringBuilder out = new StringBuilder();
        int upgrades = s.path("upgrades").asInt();
        out.append("supervisor ").append(s.path("version").asText("?")).append(" pid ").append(s.path("pid").asLong()).append(", up ")
                .append(age(s.path("uptime_ms")))
                .append(upgrades > 0 ? " (" + upgrades + " upgrade" + (upgrades == 1 ? "" : "s") + ", this image " + age(s.path("image_uptime_ms")) + ")" : "")
                .append(s.path("upgrading").asBoolean() ? ", upgrading" : "")
                .append(", serving generation ").append(s.path("serving").asInt())
                .append(s.path("reloading").asBoolean() ? ", reloading" : "")
                .append(s.path("stopping").asBoolean() ? ", stopping" : "").append('\n');
        for (JsonNode l : s.path("listeners")) {
            out.append("listener ").append(l.path("name").asText()).append(' ').append(l.path("bound").asText());
            JsonNode q = l.path("accept_queue");
            if (!q.isMissingNode()) {
                out.append(", accept queue ").append(q.path("length").asInt()).append(" of ").append(q.path("limit").asInt());
            }
            out.append('\n');
        }
        for (JsonNode g : s.path("generations")) {
            out.append("generation ").append(g.path("generation").asInt()).append(' ').append(g.path("state").asText())
                    .append(", age ").append(age(g.path("age_ms")));
            if (g.has("connections")) {
                out.append(", ").append(g.path("connections").asInt()).append(" connections");
            }
            out.append(": ").append(g.path("command").asText()).append('\n');
            for (JsonNode w : g.path("workers")) {
                if (w.path("state").asText().equals("RESTARTING")) {
                    out.append("  worker ").append(w.path("worker").asInt()).append(" restarting in ")
                            .append(w.path("next_attempt_ms").asLong()).append(" ms, ").append(w.path("restarts").asInt()).append(" restarts");
                    if (w.has("last_exit")) {
                        out.append(", last ").append(w.path("last_exit").asText());
                    }
                    out.append('\n');
                    continue;
                }
                out.append("  worker ").append(w.path("worker").asInt()).append(" pid ").append(w.path("pid").asLong()).append(' ')
                        .append(w.path("state").asText()).append(", age ").append(age(w.path("age_ms")));
                if (w.path("restarts").asInt() > 0) {
                    out.append(", ").append(w.path("restarts").asInt()).append(" restarts");
                }
                if (w.has("status")) {
                    out.append(", status: ").append(w.path("status").asText());
                }
                out.append('\n');
            }
        }
        reloads(s, out);
        System.out.print(out);
        return Wire.EXIT_OK;
    }

    /** The last reloads, newest first, one line each: a running one with its step. */
    private static void reloads(JsonNode s, StringBuilder out) {
        JsonNode rs = s.path("reloads");
        if (rs.isEmpty()) {
            return;
        }
        long now = s.path("uptime_ms").asLong();
        out.append("reloads, newest first:\n");
        int shown = 0;
        for (JsonNode r : rs) {
            if (shown++ == SHOWN_RELOADS) {
                out.append("  (").append(rs.size() - SHOWN_RELOADS).append(" more in status --json)\n");
                break;
            }
            long requested = r.path("requested_ms").asLong();
            out.append("  #").append(r.path("reload").asInt()).append(' ').append(r.path("trigger").asText());
            if (r.path("merged").asInt() > 0) {
                out.append(" (").append(r.path("merged").asInt()).append(" merged)");
            }
            out.append(", ").append(age(now - requested)).append(" ago: ").append(r.path("result").asText());
            if (r.has("ready_ms")) {
                out.append(", generation ").append(r.path("generation").asInt()).append(" ready in ")
                        .append(r.path("ready_ms").asLong() - requested).append(" ms (supervisor ")
                        .append(String.format("%.2f", r.path("overhead_us").asLong() / 1000.0)).append(" ms)");
            }
            if (r.has("old_drained_ms")) {
                out.append(", generation ").append(r.path("old_generation").asInt()).append(" drained ")
                        .append(r.path("old_drained_ms").asLong() - r.path("ready_ms").asLong()).append(" ms after");
            }
            if (r.path("result").asText().equals("failed")) {
                out.append(" after ").append(r.path("finished_ms").asLong() - requested).append(" ms: ").append(r.path("reason").asText());
            }
            if (r.has("step")) {
                out.append("; now ").append(r.path("step").asText());
            }
            out.append('\n');
        }
    }

    private static final int SHOWN_RELOADS = 5;

    private static String age(JsonNode ms) {
        return age(ms.asLong());
    }

    private static String age(long ms) {
        long s = ms / 1000;
        return s < 120 ? s + "s" : s < 7200 ? s / 60 + "m" : s / 3600 + "h";
    }
}
