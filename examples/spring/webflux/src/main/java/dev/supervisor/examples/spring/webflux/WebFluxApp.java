package dev.supervisor.examples.spring.webflux;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.event.EventListener;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import reactor.core.publisher.Mono;

/**
 * A plain Spring Boot WebFlux app on Reactor Netty; with supervisor-spring-boot-starter on its
 * class path it serves on the supervisor's listener, and as usual on {@code server.port}
 * elsewhere. {@code GET /} answers at once, {@code GET /slow?ms=N} after N ms.
 *
 * <pre>
 * supervisor run -l http=127.0.0.1:8080 --ready notify -- java -jar supervisor-example-spring-webflux.jar
 * </pre>
 */
@SpringBootApplication
@RestController
public class WebFluxApp {
    public static void main(String[] args) {
        SpringApplication.run(WebFluxApp.class, args);
    }

    @GetMapping("/")
    public Map<String, Object> hello() {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("server", "spring-webflux");
        String generation = System.getenv("SUPERVISOR_GENERATION");
        body.put("generation", generation == null ? null : Integer.valueOf(generation));
        body.put("pid", ProcessHandle.current().pid());
        return body;
    }

    @GetMapping("/slow")
    public Mono<Map<String, Object>> slow(@RequestParam(name = "ms", defaultValue = "1000") long ms) {
        System.out.println("slow request: answering in " + ms + " ms");
        return Mono.delay(Duration.ofMillis(ms)).map(x -> hello());
    }

    @EventListener
    public void readiness(AvailabilityChangeEvent<ReadinessState> event) {
        System.out.println("readiness: " + event.getState());
    }
}
