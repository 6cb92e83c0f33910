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
        out.append("supervisor pid ").append(s.path("pid").asLong()).append(", up ").append(age(s.path("uptime_ms")))
                .append(", serving generation ").append(s.path("serving").asInt())
                .append(s.path("reloading").asBoolean() ? ", reloading" : "")
                .append(s.path("stopping").asBoolean() ? ", stopping" : "").append('\n');
        for (JsonNode l : s.path("listeners")) {
            out.append("listener ").append(l.path("name").asText()).append(' ').append(l.path("bound").asText()).append('\n');
        }
        for (JsonNode g : s.path("generations")) {
            out.append("generation ").append(g.path("generation").asInt()).append(' ').append(g.path("state").asText())
                    .append(", age ").append(age(g.path("age_ms"))).append(": ").append(g.path("command").asText()).append('\n');
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
        System.out.print(out);
        return Wire.EXIT_OK;
    }

    private static String age(JsonNode ms) {
        long s = ms.asLong() / 1000;
        return s < 120 ? s + "s" : s < 7200 ? s / 60 + "m" : s / 3600 + "h";
    }
}
