package dev.supervisor.spring;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;

import dev.supervisor.worker.Activation;

/**
 * Ready and drain, in Spring's terms. Ready: once Spring publishes {@link ApplicationReadyEvent}
 * (the context is up and the runners have run), so the old generation drains only when this one
 * really serves. Drain (the drain signal or the supervisor's message): readiness goes to
 * REFUSING_TRAFFIC, the context closes (the web server's graceful shutdown: stop accepting, finish
 * what is in flight within {@code spring.lifecycle.timeout-per-shutdown-phase}), and the JVM exits
 * with Spring's exit code.
 */
final class SupervisorLifecycle implements ApplicationListener<ApplicationReadyEvent> {
    private static final Log LOG = LogFactory.getLog(SupervisorLifecycle.class);

    @Override
    public void onApplicationEvent(ApplicationReadyEvent event) {
        // Only the application's own context, not the actuator's child context.
        ConfigurableApplicationContext context = event.getApplicationContext();
        if (context.getParent() != null) {
            return;
        }
        Activation.onDrain(() -> {
            // The signal's thread must not block: closing waits for the requests in flight.
            Thread t = new Thread(() -> drain(context), "supervisor-drain");
            t.start();
        });
        Activation.ready();
        LOG.info("Ready: told the supervisor");
    }

    private static void drain(ConfigurableApplicationContext context) {
        // Closing publishes REFUSING_TRAFFIC, then stops the web server gracefully.
        LOG.info("Draining: closing the application context");
        System.exit(SpringApplication.exit(context));
    }
}
