package dev.supervisor.daemon;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Signal names and numbers (Linux x86_64/aarch64) for --drain-signal and logs. */
public final class Signals {
    private Signals() {}

    /** By number, so that the list in an error reads the same on every run. */
    private static final Map<String, Integer> NUMBERS = new LinkedHashMap<>();

    static {
        String[] names = {"HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "STOP", "WINCH"};
        int[] numbers = {1, 2, 3, 9, 10, 12, 15, 19, 28};
        for (int i = 0; i < names.length; i++) {
            NUMBERS.put(names[i], numbers[i]);
        }
    }

    /** The names taken, by number. */
    public static List<String> names() {
        return List.copyOf(NUMBERS.keySet());
    }

    /** "TERM", "SIGTERM", "term" or "15" to 15. */
    public static int parse(String text) {
        String s = text.trim().toUpperCase(Locale.ROOT);
        if (s.startsWith("SIG")) {
            s = s.substring(3);
        }
        Integer n = NUMBERS.get(s);
        if (n != null) {
            return n;
        }
        try {
            int v = Integer.parseInt(s);
            if (v > 0 && v < 65) {
                return v;
            }
        } catch (NumberFormatException ignored) {
            // fall through to the error
        }
        throw new IllegalArgumentException("unknown signal '" + text + "': expected one of " + String.join(", ", NUMBERS.keySet())
                + " or a number");
    }

    /** "SIGTERM", or "signal 34" for one without a name here. */
    public static String name(int signal) {
        String s = shortName(signal);
        return Character.isDigit(s.charAt(0)) ? "signal " + s : "SIG" + s;
    }

    /** "TERM", or "34": the form SUPERVISOR_DRAIN_SIGNAL carries. */
    public static String shortName(int signal) {
        for (Map.Entry<String, Integer> e : NUMBERS.entrySet()) {
            if (e.getValue() == signal) {
                return e.getKey();
            }
        }
        return Integer.toString(signal);
    }
}
