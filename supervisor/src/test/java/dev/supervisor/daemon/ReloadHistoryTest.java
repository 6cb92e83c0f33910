package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.node.ArrayNode;

import dev.supervisor.protocol.Message;

class ReloadHistoryTest {
    private static final long MS = 1_000_000L;

    @Test
    void keepsTheLastTwentyAndCountsEveryReload() {
        ReloadHistory h = new ReloadHistory(1_000);
        for (int i = 0; i < 25; i++) {
            h.requested("control", i * 1000 * MS);
            if (i % 5 == 4) {
                h.finished(false, "broken " + i, (i * 1000 + 10) * MS);
            } else {
                h.ready((i * 1000 + 300) * MS, 2 * MS, 5_000 + i);
                h.finished(true, null, (i * 1000 + 301) * MS);
            }
        }
        ArrayNode json = Message.json().createArrayNode();
        h.toJson(json, 0);
        assertEquals(ReloadHistory.KEPT, json.size());
        assertEquals(25, json.get(0).path("reload").asInt(), "newest first");
        assertEquals("failed", json.get(0).path("result").asText());
        assertEquals("broken 24", json.get(0).path("reason").asText());
        assertEquals(24_010, json.get(0).path("finished_ms").asLong());
        assertEquals(23_300, json.get(1).path("ready_ms").asLong());
        assertEquals(2000, json.get(1).path("overhead_us").asLong());
        Snapshot.Reloads t = h.totals();
        assertEquals(20, t.ok());
        assertEquals(5, t.failed());
        assertFalse(t.lastSuccessful());
        assertEquals(5_023, t.lastSuccessEpochMillis());
        // 300 ms lies in (0.25, 0.5]; 2 ms in (0.001, 0.0025]
        long[] duration = new long[ReloadHistory.DURATION_BOUNDS.length + 1];
        duration[3] = 20;
        assertArrayEquals(duration, t.duration().counts());
        assertEquals(6.0, t.duration().sum(), 1e-9);
        long[] overhead = new long[ReloadHistory.OVERHEAD_BOUNDS.length + 1];
        overhead[2] = 20;
        assertArrayEquals(overhead, t.overhead().counts());
    }

    @Test
    void mergedRequestsMakeOneReloadNamedByTheirTriggers() {
        ReloadHistory h = new ReloadHistory(0);
        assertTrue(h.totals().lastSuccessful(), "the first config counts as a good one");
        h.merged("control");
        h.merged("SIGHUP");
        h.merged("control");
        h.requested(null, 0);
        ArrayNode json = Message.json().createArrayNode();
        h.toJson(json, 0);
        assertEquals("control+SIGHUP", json.get(0).path("trigger").asText());
        assertEquals(3, json.get(0).path("merged").asInt());
        assertEquals("running", json.get(0).path("result").asText());
        assertEquals("reading the config", json.get(0).path("step").asText());
    }
}
