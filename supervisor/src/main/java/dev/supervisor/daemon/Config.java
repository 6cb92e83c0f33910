package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.ListenFds;
import dev.supervisor.protocol.Message;

/**
 * What a generation is started with: the {@code --config} file with the command line's flags laid
 * over it. Immutable; a reload makes a new one. Bad input is an {@link IllegalArgumentException}
 * whose message names the value and what is wrong.
 *
 * <p>The file is a JSON object with the flags' long names: {@code listen} (array of
 * "NAME=ADDRESS"), {@code command} (array), {@code workers}, {@code ready}, {@code ready-timeout},
 * {@code drain-signal}, {@code drain-timeout}, {@code stdin-listener}, {@code starting-priority}, and {@code env} (object of
 * extra environment variables for workers).
 */
public final class Config {
    /** Values given on the command line; null (or empty) = not given. */
    public static final class Flags {
        public List<String> listen = List.of();
        public List<String> command = List.of();
        public Integer workers;
        public String ready;
        public String readyTimeout;
        public String drainSignal;
        public String drainTimeout;
        public String stdinListener;
        public String startingPriority;
    }

    public final Map<String, Address> listeners;
    public final List<String> command;
    public final int workers;
    public final ReadyMode ready;
    public final Duration readyTimeout;
    public final int drainSignal;
    public final Duration drainTimeout;
    public final String stdinListener;
    public final Map<String, String> env;
    public final Priority startingPriority;

    private Config(Map<String, Address> listeners, List<String> command, int workers, ReadyMode ready, Duration readyTimeout,
            int drainSignal, Duration drainTimeout, String stdinListener, Map<String, String> env, Priority startingPriority) {
        this.listeners = Collections.unmodifiableMap(listeners);
        this.command = List.copyOf(command);
        this.workers = workers;
        this.ready = ready;
        this.readyTimeout = readyTimeout;
        this.drainSignal = drainSignal;
        this.drainTimeout = drainTimeout;
        this.stdinListener = stdinListener;
        this.env = Collections.unmodifiableMap(env);
        this.startingPriority = startingPriority;
    }

    /** The fields a config file may have: the flags' long names, and "env". A typo is an error, not a default. */
    static final List<String> FIELDS = List.of("listen", "command", "workers", "ready", "ready-timeout", "drain-signal",
            "drain-timeout", "stdin-listener", "starting-priority", "env");

    /** Reads {@code file} (when not null) and lays {@code flags} over it. */
    public static Config load(Path file, Flags flags) {
        if (file == null) {
            return from(Message.json().createObjectNode(), "", flags);
        }
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read config " + file + ": " + e);
        }
        return parse(text, file.toString(), flags);
    }

    /**
     * The text of a config file called {@code source} (in messages) with {@code flags} laid over
     * it: {@link #load} once the file is read, and what the fuzz test feeds.
     */
    public static Config parse(String text, String source, Flags flags) {
        JsonNode json;
        try {
            json = Message.json().readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException("config " + source + " is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (json == null || !json.isObject()) {
            throw new IllegalArgumentException("config " + source + " is not a JSON object");
        }
        for (Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!FIELDS.contains(field)) {
                throw new IllegalArgumentException("config " + source + " has an unknown field \"" + field + "\": expected one of "
                        + String.join(", ", FIELDS));
            }
        }
        return from(json, " in " + source, flags);
    }

    private static Config from(JsonNode json, String where, Flags flags) {
        List<String> listen = !flags.listen.isEmpty() ? flags.listen : strings(json, "listen", where);
        Map<String, Address> listeners = new LinkedHashMap<>();
        for (String spec : listen) {
            int eq = spec.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("bad --listen '" + spec + "': expected NAME=ADDRESS, as in web=:8080");
            }
            String name = spec.substring(0, eq);
            if (!ListenFds.validName(name)) {
                throw new IllegalArgumentException("bad listener name '" + name + "' in '" + spec
                        + "': LISTEN_FDNAMES takes 1 to 255 of A-Z a-z 0-9 _ . -");
            }
            if (listeners.containsKey(name)) {
                throw new IllegalArgumentException("listener name '" + name + "' is given twice");
            }
            listeners.put(name, Address.parse(spec.substring(eq + 1)));
        }
        if (listeners.isEmpty()) {
            throw new IllegalArgumentException("no listeners: give at least one --listen NAME=ADDRESS");
        }

        List<String> command = !flags.command.isEmpty() ? flags.command : strings(json, "command", where);
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no command: give it after --, as in supervisor run -l web=:8080 -- python3 app.py");
        }
        if (command.get(0).isEmpty()) {
            throw new IllegalArgumentException("the command is an empty string");
        }
        for (String arg : command) {
            if (arg.indexOf('\0') >= 0) {
                // exec takes C strings: the argument would arrive cut at the NUL
                throw new IllegalArgumentException("command argument '" + arg.replace('\0', '?') + "' contains a NUL byte");
            }
        }

        int workers = flags.workers != null ? flags.workers : workers(json.get("workers"), where);
        if (workers < 1 || workers > MAX_WORKERS) {
            throw new IllegalArgumentException("bad --workers " + workers + ": expected 1 to " + MAX_WORKERS);
        }
        ReadyMode ready = ReadyMode.parse(pick(flags.ready, json, "ready", "delay:1s", where));
        Duration readyTimeout = positive("--ready-timeout", pick(flags.readyTimeout, json, "ready-timeout", "60s", where));
        int drainSignal = Signals.parse(pick(flags.drainSignal, json, "drain-signal", "TERM", where));
        if (drainSignal == Posix.SIGKILL || drainSignal == Signals.parse("STOP")) {
            throw new IllegalArgumentException("--drain-signal " + Signals.name(drainSignal) + " cannot be handled: a draining worker must be able to finish");
        }
        Duration drainTimeout = positive("--drain-timeout", pick(flags.drainTimeout, json, "drain-timeout", "30s", where));
        String stdinListener = pick(flags.stdinListener, json, "stdin-listener", null, where);
        if (stdinListener != null && !listeners.containsKey(stdinListener)) {
            throw new IllegalArgumentException("--stdin-listener " + stdinListener + " names no listener; there are " + listeners.keySet());
        }
        Priority startingPriority = Priority.parse(pick(flags.startingPriority, json, "starting-priority", "nice", where));
        return new Config(listeners, command, workers, ready, readyTimeout, drainSignal, drainTimeout, stdinListener,
                env(json.get("env"), where), startingPriority);
    }

    static final int MAX_WORKERS = 1024;

    private static int workers(JsonNode n, String where) {
        if (n == null || n.isNull()) {
            return 1;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            // asInt() read true as 1, "many" as the default and 4294967297 as 1
            throw new IllegalArgumentException("\"workers\"" + where + " must be a whole number from 1 to " + MAX_WORKERS + ", found " + n);
        }
        return n.intValue();
    }

    /** "env": an object of variable names (non-empty, no '=' or NUL) to string values (no NUL). */
    private static Map<String, String> env(JsonNode n, String where) {
        Map<String, String> env = new LinkedHashMap<>();
        if (n == null || n.isNull()) {
            return env;
        }
        if (!n.isObject()) {
            throw new IllegalArgumentException("\"env\"" + where + " must be an object of NAME: \"value\", found " + n.getNodeType());
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.isEmpty() || name.indexOf('=') >= 0 || name.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("\"env\"" + where + ": '" + name.replace('\0', '?')
                        + "' is not a variable name (non-empty, without '=' or NUL)");
            }
            JsonNode v = e.getValue();
            if (!v.isTextual() && !v.isNumber() && !v.isBoolean()) {
                throw new IllegalArgumentException("\"env\"" + where + ": " + name + " must be a string, found " + v.getNodeType());
            }
            if (v.asText().indexOf('\0') >= 0) {
                throw new IllegalArgumentException("\"env\"" + where + ": the value of " + name + " contains a NUL byte");
            }
            env.put(name, v.asText());
        }
        return env;
    }

    private static List<String> strings(JsonNode json, String field, String where) {
        JsonNode n = json.get(field);
        if (n == null || n.isNull()) {
            return List.of();
        }
        if (!n.isArray()) {
            throw new IllegalArgumentException("\"" + field + "\"" + where + " must be an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) {
                throw new IllegalArgumentException("\"" + field + "\"" + where + " must be an array of strings, found " + e);
            }
            out.add(e.textValue());
        }
        return out;
    }

    private static String pick(String flag, JsonNode json, String field, String dflt, String where) {
        if (flag != null) {
            return flag;
        }
        JsonNode n = json.get(field);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.isTextual() && !n.isIntegralNumber()) {
            // asText() made {}, [] and 1.5 a string that the value's own parser then misread
            throw new IllegalArgumentException("\"" + field + "\"" + where + " must be a string, found " + n);
        }
        return n.asText();
    }

    private static Duration positive(String option, String text) {
        Duration d;
        try {
            d = Durations.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + ": " + e.getMessage());
        }
        if (d.isZero()) {
            throw new IllegalArgumentException(option + " must be more than 0");
        }
        return d;
    }
}
