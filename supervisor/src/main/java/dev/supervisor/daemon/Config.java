package dev.supervisor.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.ListenFds;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * What a generation is started with: the {@code --config} file with the command line's flags laid
 * over it. Immutable; a reload makes a new one. Bad input is an {@link IllegalArgumentException}
 * whose message names the value and what is wrong.
 *
 * <p>The file is a JSON object whose keys are {@link #KEYS}: the flags' long names, and {@code env}.
 * The parser and the man page's section on the file both read that table.
 */
public final class Config {
    /** Values given on the command line; null (or empty) = not given. */
    public static final class Flags {
        public List<String> listen = List.of();
        /** COMMAND and its arguments as the kernel gave them to us: bytes, whatever the locale. */
        public List<byte[]> command = List.of();
        public Integer workers;
        public String ready;
        public String readyTimeout;
        public String drainSignal;
        public String drainTimeout;
        public String stdinListener;
        public String startingPriority;
        public String startingPriorityFor;
        public String metrics;
    }

    public final Map<String, Address> listeners;
    /** COMMAND and its arguments as text, for logs and status (bytes that are not UTF-8 shown as U+FFFD). */
    public final List<String> command;
    /** COMMAND and its arguments as exec gets them. */
    private final List<byte[]> argv;
    public final int workers;
    public final ReadyMode ready;
    public final Duration readyTimeout;
    public final int drainSignal;
    public final Duration drainTimeout;
    public final String stdinListener;
    public final Map<String, String> env;
    public final Priority startingPriority;
    /** The longest a starting worker stays at {@link #startingPriority}: a saturated machine must not starve a reload. */
    public final Duration startingPriorityFor;
    /** Where {@code /metrics} is served; null = nowhere. Read at start only: a reload does not move it. */
    public final Address metrics;
    /** The config file's bytes it was made from; null = flags only. Set once, by {@link #parse}. */
    private byte[] text;

    private Config(Map<String, Address> listeners, List<byte[]> argv, int workers, ReadyMode ready, Duration readyTimeout,
            int drainSignal, Duration drainTimeout, String stdinListener, Map<String, String> env, Priority startingPriority,
            Duration startingPriorityFor, Address metrics) {
        this.listeners = Collections.unmodifiableMap(listeners);
        this.argv = argv.stream().map(byte[]::clone).toList();
        this.command = argv.stream().map(a -> new String(a, StandardCharsets.UTF_8)).toList();
        this.workers = workers;
        this.ready = ready;
        this.readyTimeout = readyTimeout;
        this.drainSignal = drainSignal;
        this.drainTimeout = drainTimeout;
        this.stdinListener = stdinListener;
        this.env = Collections.unmodifiableMap(env);
        this.startingPriority = startingPriority;
        this.startingPriorityFor = startingPriorityFor;
        this.metrics = metrics;
    }

    /** The config file's bytes this was made from, with the flags laid over it; null = flags only (an upgrade hands it over). */
    public byte[] text() {
        return text == null ? null : text.clone();
    }

    /** COMMAND and its arguments, byte for byte as exec gets them. */
    public List<byte[]> argv() {
        return argv.stream().map(byte[]::clone).toList();
    }

    /** A key of the config file: its name (the flag's long name), its value, and what it does. */
    public static final class Key {
        public final String name;
        public final String value;
        public final String description;

        Key(String name, String value, String description) {
            this.name = name;
            this.value = value;
            this.description = description;
        }
    }

    /** The keys a config file may have. A typo is an error, not a default. The man page lists this table. */
    public static final List<Key> KEYS = List.of(
            new Key("listen", "[\"NAME=ADDRESS\", ...]", "the listeners, in fd order (3, 4, ...), as --listen takes them"),
            new Key("command", "[\"COMMAND\", \"ARG\", ...]", "the worker command and its arguments (UTF-8)"),
            new Key("workers", "N", "worker processes per generation, 1 to " + Config.MAX_WORKERS + " (default 1)"),
            new Key("ready", "\"notify\" | \"delay:DURATION\"", "when a worker counts as ready (default \"delay:1s\")"),
            new Key("ready-timeout", "\"DURATION\"", "a generation not ready by then has failed (default \"60s\")"),
            new Key("drain-signal", "\"SIG\"", "sent to each old worker on drain (default \"TERM\")"),
            new Key("drain-timeout", "\"DURATION\"", "then KILL (default \"30s\")"),
            new Key("stdin-listener", "\"NAME\"", "also place listener NAME on the worker's fd 0 (inetd style)"),
            new Key("starting-priority", "\"nice\" | \"idle\" | \"batch\" | \"normal\"", "CPU priority of a reload's generation until it is ready (default \"nice\")"),
            new Key("starting-priority-for", "\"DURATION\"", "at most this long, then normal; never more than half of ready-timeout (default \"2s\")"),
            new Key("metrics", "\"HOST:PORT\"", "serve /metrics (Prometheus), /ready and /live over HTTP there; read at start only"),
            new Key("env", "{\"NAME\": \"value\", ...}", "more environment variables for the workers; LISTEN_*, NOTIFY_SOCKET and "
                    + "SUPERVISOR_* are the supervisor's and refused"));

    static final List<String> FIELDS = KEYS.stream().map(k -> k.name).toList();

    /**
     * The largest config file read. Checked before reading, so that no file (a huge one, a FIFO,
     * /dev/zero) can take the daemon's heap or hang it; real configs are a few hundred bytes.
     */
    public static final int MAX_CONFIG_BYTES = 1024 * 1024;

    /** Reads {@code file} (when not null) and lays {@code flags} over it. */
    public static Config load(Path file, Flags flags) {
        if (file == null) {
            return from(Message.json().createObjectNode(), "", flags);
        }
        return parse(read(file), file.toString(), flags);
    }

    /** The bytes of config {@code file}: a regular file of at most {@link #MAX_CONFIG_BYTES}, checked before it is read. */
    static byte[] read(Path file) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read config " + file + ": " + IoErrors.describe(e));
        }
        if (!a.isRegularFile()) {
            throw new IllegalArgumentException("config " + file + " is not a regular file (" + kind(file) + "): give a JSON file");
        }
        if (a.size() > MAX_CONFIG_BYTES) {
            throw new IllegalArgumentException("config " + file + " is " + a.size() + " bytes; at most " + MAX_CONFIG_BYTES + " are read");
        }
        try (InputStream in = Files.newInputStream(file)) {
            // The file may have grown since: read one byte past the limit to know.
            byte[] bytes = in.readNBytes(MAX_CONFIG_BYTES + 1);
            if (bytes.length > MAX_CONFIG_BYTES) {
                throw new IllegalArgumentException("config " + file + " is more than " + MAX_CONFIG_BYTES + " bytes");
            }
            return bytes;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read config " + file + ": " + IoErrors.describe(e));
        }
    }

    private static String kind(Path file) {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return a.isDirectory() ? "a directory" : a.isOther() ? "a FIFO, socket or device" : "not a file";
        } catch (IOException e) {
            return IoErrors.describe(e);
        }
    }

    /** {@link #parse(byte[], String, Flags)} of text, for tests. */
    public static Config parse(String text, String source, Flags flags) {
        return parse(text.getBytes(StandardCharsets.UTF_8), source, flags);
    }

    /**
     * The text of a config file called {@code source} (in messages) with {@code flags} laid over
     * it: {@link #load} once the file is read, and what the fuzz test feeds.
     */
    public static Config parse(byte[] text, String source, Flags flags) {
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
        Config c = from(json, " in " + source, flags);
        c.text = text.clone();
        return c;
    }

    private static Config from(JsonNode json, String where, Flags flags) {
        boolean listenFlag = !flags.listen.isEmpty();
        List<String> listen = listenFlag ? flags.listen : strings(json, "listen", where);
        Map<String, Address> listeners = new LinkedHashMap<>();
        for (String spec : listen) {
            String what = listenFlag ? "--listen '" + spec + "'" : "\"listen\"" + where + ": '" + spec + "'";
            int eq = spec.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("bad " + what + ": expected NAME=ADDRESS, as in web=:8080");
            }
            String name = spec.substring(0, eq);
            if (!ListenFds.validName(name)) {
                throw new IllegalArgumentException("bad listener name '" + name + "' in " + what
                        + ": LISTEN_FDNAMES takes 1 to 255 of A-Z a-z 0-9 _ . -");
            }
            if (listeners.containsKey(name)) {
                throw new IllegalArgumentException("listener name '" + name + "' is given twice");
            }
            listeners.put(name, Address.parse(spec.substring(eq + 1)));
        }
        if (listeners.isEmpty()) {
            throw new IllegalArgumentException("no listeners: give at least one --listen NAME=ADDRESS");
        }

        List<byte[]> argv = !flags.command.isEmpty() ? flags.command
                : strings(json, "command", where).stream().map(a -> a.getBytes(StandardCharsets.UTF_8)).toList();
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("no command: give it after --, as in supervisor run -l web=:8080 -- python3 app.py");
        }
        if (argv.get(0).length == 0) {
            throw new IllegalArgumentException("the command is an empty string");
        }
        for (byte[] arg : argv) {
            for (byte b : arg) {
                if (b == 0) {
                    // exec takes C strings: the argument would arrive cut at the NUL
                    throw new IllegalArgumentException("command argument '" + new String(arg, StandardCharsets.UTF_8).replace('\0', '?')
                            + "' contains a NUL byte");
                }
            }
        }

        int workers = flags.workers != null ? flags.workers : workers(json.get("workers"), where);
        if (workers < 1 || workers > MAX_WORKERS) {
            throw new IllegalArgumentException((flags.workers != null ? "bad --workers " + workers : "bad \"workers\" " + workers + where)
                    + ": expected 1 to " + MAX_WORKERS);
        }
        ReadyMode ready;
        String readyText = pick(flags.ready, json, "ready", "delay:1s", where);
        try {
            ready = ReadyMode.parse(readyText);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name(flags.ready != null, "ready", where) + ": " + e.getMessage());
        }
        Duration readyTimeout = positive(name(flags.readyTimeout != null, "ready-timeout", where),
                pick(flags.readyTimeout, json, "ready-timeout", "60s", where));
        String drainSignalName = name(flags.drainSignal != null, "drain-signal", where);
        int drainSignal;
        String drainSignalText = pick(flags.drainSignal, json, "drain-signal", "TERM", where);
        try {
            drainSignal = Signals.parse(drainSignalText);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(drainSignalName + ": " + e.getMessage());
        }
        if (drainSignal == Libc.SIGKILL || drainSignal == Signals.parse("STOP")) {
            throw new IllegalArgumentException(drainSignalName + " " + Signals.name(drainSignal)
                    + " cannot be handled: a draining worker must be able to finish");
        }
        Duration drainTimeout = positive(name(flags.drainTimeout != null, "drain-timeout", where),
                pick(flags.drainTimeout, json, "drain-timeout", "30s", where));
        String stdinListener = pick(flags.stdinListener, json, "stdin-listener", null, where);
        if (stdinListener != null && !listeners.containsKey(stdinListener)) {
            throw new IllegalArgumentException(name(flags.stdinListener != null, "stdin-listener", where) + " " + stdinListener
                    + " names no listener; there are " + listeners.keySet());
        }
        Priority startingPriority;
        try {
            startingPriority = Priority.parse(pick(flags.startingPriority, json, "starting-priority", "nice", where));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad " + name(flags.startingPriority != null, "starting-priority", where) + " " + e.getMessage());
        }
        Duration startingPriorityFor = positive(name(flags.startingPriorityFor != null, "starting-priority-for", where),
                pick(flags.startingPriorityFor, json, "starting-priority-for", "2s", where));
        String metrics = pick(flags.metrics, json, "metrics", null, where);
        Address metricsAddress = null;
        if (metrics != null) {
            metricsAddress = Address.parse(metrics);
            if (metricsAddress.kind() != Address.Kind.TCP) {
                throw new IllegalArgumentException(name(flags.metrics != null, "metrics", where) + " " + metrics
                        + ": expected a TCP address (HOST:PORT, :PORT, [V6ADDR]:PORT)");
            }
        }
        return new Config(listeners, argv, workers, ready, readyTimeout, drainSignal, drainTimeout, stdinListener,
                env(json.get("env"), where), startingPriority, startingPriorityFor, metricsAddress);
    }

    /** How an error names a setting: the flag when the command line gave it, else the config key and file. */
    private static String name(boolean flag, String key, String where) {
        return flag ? "--" + key : "\"" + key + "\"" + where;
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
            if (reserved(name)) {
                throw new IllegalArgumentException("\"env\"" + where + ": " + name + " is set by the supervisor for each worker and "
                        + "cannot be given (reserved: LISTEN_*, NOTIFY_SOCKET, SUPERVISOR_*)");
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

    /** Variables that say how a worker was started: the supervisor sets them, a config must not. */
    static boolean reserved(String name) {
        return name.startsWith("LISTEN_") || name.equals(Wire.NOTIFY_SOCKET) || name.startsWith("SUPERVISOR_");
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
