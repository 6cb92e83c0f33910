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

/**
 * The Spring Boot example apps under {@code examples/spring/}, as built by the reactor: each an
 * executable Boot jar with supervisor-spring-boot-starter and the actuator inside. Each answers
 * {@code GET /} with {@code {"server":"spring-ID","generation":G,"pid":P}} and
 * {@code GET /slow?ms=N} the same after N ms, printing "slow request: answering in N ms", and
 * prints "readiness: STATE" at each change of Spring's readiness state.
 */
enum SpringExample {
    TOMCAT("tomcat"),
    JETTY("jetty"),
    WEBFLUX("webflux");

    private static final ObjectMapper JSON = new ObjectMapper();

    final String id;

    SpringExample(String id) {
        this.id = id;
    }

    /** {@code examples/spring/ID/target/supervisor-example-spring-ID.jar}, from the {@code examples.dir} property failsafe sets. */
    Path jar() {
        String dir = System.getProperty("examples.dir");
        if (dir == null) {
            fail("system property examples.dir is not set: run the ITs through Maven (mvn -B verify)");
        }
        Path jar = Path.of(dir, "spring", id, "target", "supervisor-example-spring-" + id + ".jar").toAbsolutePath().normalize();
        if (!Files.isRegularFile(jar)) {
            fail(jar + " is missing: build the examples first (mvn -B -q package -DskipTests)");
        }
        return jar;
    }

    /**
     * {@code JDK/bin/java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -jar JAR}: as a user starts a
     * Boot jar, with no flag for the library (the jar's manifest carries what it needs), plus the
     * flags of a JVM that starts fast, since the tests start dozens on a 2-core machine.
     */
    List<String> command(Path jdk) {
        return new ArrayList<>(List.of(jdk.resolve("bin/java").toString(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar",
                jar().toString()));
    }

    /** The generation in an answer of this app (-1 for null: not under a supervisor); fails on anything else. */
    int generation(Http.Response r) {
        assertEquals(200, r.status(), "status of " + r);
        JsonNode body;
        try {
            body = JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not the example's JSON: " + r, e);
        }
        assertEquals("spring-" + id, body.path("server").asText(), "answered by the spring-" + id + " example: " + r);
        return body.path("generation").isNull() ? -1 : body.path("generation").asInt();
    }

    @Override
    public String toString() {
        return "spring-" + id;
    }
}
