package dev.supervisor.it.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.supervisor.it.Http;
import dev.supervisor.it.SupervisorProcess;

/**
 * The example servers under {@code examples/}, as built by the reactor: each a runnable jar with
 * its dependencies in {@code target/lib/}, started as a worker the way its javadoc tells a user.
 * Every one answers {@code GET /} with {@code {"server":NAME,"generation":G,"pid":P}} and
 * {@code GET /slow?ms=N} the same after N ms, printing "slow request: answering in N ms" when
 * that request is in flight.
 */
enum JavaExample {
    SELECTOR("selector", false),
    NETTY("netty", false),
    JETTY("jetty", false),
    /** Tomcat takes its listener from fd 0 ({@code --stdin-listener}), through System.inheritedChannel(). */
    TOMCAT("tomcat", true);

    private static final ObjectMapper JSON = new ObjectMapper();

    final String id;
    final boolean stdinListener;

    JavaExample(String id, boolean stdinListener) {
        this.id = id;
        this.stdinListener = stdinListener;
    }

    /** {@code examples/ID/target/supervisor-example-ID.jar}, from the {@code examples.dir} property failsafe sets. */
    Path jar() {
        String dir = System.getProperty("examples.dir");
        if (dir == null) {
            fail("system property examples.dir is not set: run the ITs through Maven (mvn -B verify)");
        }
        Path jar = Path.of(dir, id, "target", "supervisor-example-" + id + ".jar").toAbsolutePath().normalize();
        if (!Files.isRegularFile(jar) || !Files.isDirectory(jar.resolveSibling("lib"))) {
            fail(jar + " (and lib/ beside it) is missing: build the examples first (mvn -B -q package -DskipTests)");
        }
        return jar;
    }

    /**
     * {@code JDK/bin/java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar JAR}: the JVM asked for,
     * not whatever is on PATH, with the flags of a small worker that starts fast (C1 only, serial
     * GC), since the tests start dozens of them on a 2-core machine. No flag for the library:
     * {@code supervisor run} passes what it needs.
     */
    List<String> command(Path jdk) {
        return new ArrayList<>(List.of(jdk.resolve("bin/java").toString(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar",
                jar().toString()));
    }

    /** {@code -l http=127.0.0.1:0 --ready notify}, and {@code --stdin-listener http} for Tomcat. */
    SupervisorProcess.Builder supervisor(Path controlDir, Path jdk) {
        SupervisorProcess.Builder b = SupervisorProcess.run(controlDir).javaHome(jdk).listen("http", "127.0.0.1:0").readyNotify();
        if (stdinListener) {
            b.option("--stdin-listener", "http");
        }
        return b;
    }

    /** The generation in an answer of this example (-1 for null: not under a supervisor); fails on anything else. */
    int generation(Http.Response r) {
        JsonNode body = body(r);
        return body.path("generation").isNull() ? -1 : body.path("generation").asInt();
    }

    JsonNode body(Http.Response r) {
        assertEquals(200, r.status(), "status of " + r);
        JsonNode body;
        try {
            body = JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not the example's JSON: " + r, e);
        }
        assertEquals(id, body.path("server").asText(), "answered by the " + id + " example: " + r);
        return body;
    }

    @Override
    public String toString() {
        return id;
    }
}
