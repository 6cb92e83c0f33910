package dev.supervisor.spring;

import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Under supervisor, {@code server.port} and {@code management.server.port} are the ports of the
 * listeners the servers will serve on, ahead of every other source: Boot then reports the real
 * port, and creates the actuator's own server exactly when it has a listener of its own. The
 * servers never bind these ports; the customizers hand them the inherited sockets.
 */
public final class SupervisorEnvironmentPostProcessor implements EnvironmentPostProcessor {
    static final String SOURCE = "supervisor";

    @Override
    public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
        if (!SupervisorListeners.activated()) {
            return;
        }
        Map<String, Object> ports = new LinkedHashMap<>();
        ports.put("server.port", SupervisorListeners.port(SupervisorListeners.web(environment)));
        String management = SupervisorListeners.management(environment);
        if (management != null) {
            ports.put("management.server.port", SupervisorListeners.port(management));
        }
        environment.getPropertySources().addFirst(new MapPropertySource(SOURCE, ports));
    }
}
