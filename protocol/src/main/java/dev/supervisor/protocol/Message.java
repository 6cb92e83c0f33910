package dev.supervisor.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Control socket messages: one JSON object per line, each carrying {@code "v"} =
 * {@link Wire#PROTOCOL_VERSION}.
 *
 * <pre>
 * request                               answer
 * {"v":1,"cmd":"status"}                {"v":1,"ok":true,"status":{...}}
 * {"v":1,"cmd":"reload"}                {"v":1,"ok":true,"generation":G} once G is ready and the old one drains
 *                                       {"v":1,"ok":false,"error":"...","stderr":["..."]} when it failed
 * {"v":1,"cmd":"stop"}                  {"v":1,"ok":true}   then the supervisor stops gracefully
 * {"v":1,"cmd":"listeners"}             {"v":1,"ok":true,"names":[...]} + the fds over SCM_RIGHTS
 *                                       (only to a current worker's pid)
 * {"v":1,"cmd":"watch"}                 {"v":1,"ok":true} (only from a current worker's pid), then, when
 *                                       that worker is told to drain: {"v":1,"event":"drain"}
 * {"v":1,"cmd":"upgrade"}               {"v":1,"ok":true,"from":"OLD","to":"NEW","upgrades":N} from the new
 *                                       image, once it serves; {"v":1,"ok":false,"error":"..."} from the old
 *                                       one, which carries on, when the upgrade failed
 * anything else                         {"v":1,"ok":false,"error":"..."}
 * any but listeners and watch, while     {"v":1,"ok":false,"error":"too many control connections (64): try again",
 * 64 other clients are connected         "busy":true}, then the connection is closed; nothing was done: retry
 * </pre>
 */
public final class Message {
    private Message() {}

    public static final String CMD = "cmd";
    public static final String VERSION = "v";
    public static final String OK = "ok";
    public static final String ERROR = "error";
    /** true in an error answer that did nothing because the supervisor had too many clients: retry. */
    public static final String BUSY = "busy";
    /** The listener names of a {@link #LISTENERS} answer, in the order of its fds. */
    public static final String NAMES = "names";

    public static final String STATUS = "status";
    public static final String RELOAD = "reload";
    public static final String STOP = "stop";
    public static final String LISTENERS = "listeners";
    public static final String WATCH = "watch";
    public static final String UPGRADE = "upgrade";
    /** The field of an event line, sent unasked on a {@link #WATCH} connection. */
    public static final String EVENT = "event";
    public static final String DRAIN = "drain";

    /**
     * Strict: a repeated field ({"cmd":"status","cmd":"stop"}, which Jackson reads as its last
     * value) and anything after the object ({"v":1,"cmd":"stop"} ]]) are malformed, not a request.
     */
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    public static ObjectMapper json() {
        return JSON;
    }

    /** A request line (no trailing newline). */
    public static String request(String cmd) {
        ObjectNode n = JSON.createObjectNode();
        n.put(VERSION, Wire.PROTOCOL_VERSION);
        n.put(CMD, cmd);
        return n.toString();
    }

    /** An answer object with {@code ok} set; callers add fields. */
    public static ObjectNode answer(boolean ok) {
        ObjectNode n = JSON.createObjectNode();
        n.put(VERSION, Wire.PROTOCOL_VERSION);
        n.put(OK, ok);
        return n;
    }

    public static ObjectNode error(String message) {
        return answer(false).put(ERROR, message);
    }

    /**
     * Parses a request line and returns its command.
     *
     * @throws IllegalArgumentException naming what is wrong with the line
     */
    public static String parseRequest(String line) {
        JsonNode n = parseObject(line, "request");
        JsonNode v = n.get(VERSION);
        if (v == null || !v.isInt()) {
            throw new IllegalArgumentException("request has no protocol version \"v\"");
        }
        if (v.intValue() != Wire.PROTOCOL_VERSION) {
            throw new IllegalArgumentException("protocol version " + v.intValue() + " is not supported (this supervisor speaks "
                    + Wire.PROTOCOL_VERSION + ")");
        }
        JsonNode cmd = n.get(CMD);
        if (cmd == null || !cmd.isTextual()) {
            throw new IllegalArgumentException("request has no \"cmd\"");
        }
        switch (cmd.textValue()) {
            case STATUS: case RELOAD: case STOP: case LISTENERS: case WATCH: case UPGRADE:
                return cmd.textValue();
            default:
                throw new IllegalArgumentException("unknown command '" + cmd.textValue() + "'");
        }
    }

    /** Parses an answer line. */
    public static JsonNode parseAnswer(String line) {
        return parseObject(line, "answer");
    }

    private static JsonNode parseObject(String line, String what) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("malformed " + what + ": " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("malformed " + what + ": expected a JSON object");
        }
        return n;
    }
}
