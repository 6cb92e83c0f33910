package dev.supervisor.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

final class Scale {
    private Scale() {}

    static ObjectNode listeners(Bench b) {
        throw new UnsupportedOperationException("later");
    }

    static ObjectNode workers(Bench b) {
        throw new UnsupportedOperationException("later");
    }

    static ObjectNode held(Bench b) {
        throw new UnsupportedOperationException("later");
    }

    static ObjectNode storm(Bench b) {
        throw new UnsupportedOperationException("later");
    }

    static void markdown(JsonNode scenarios, StringBuilder md) {
    }
}
