package dev.supervisor.spring;

import java.time.Duration;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.http.client.ReactorResourceFactory;

/**
 * Serves on the supervisor's listener and ties readiness and drain to Spring's lifecycle; does
 * nothing unless the app was socket-activated. One customizer per embedded server, each through
 * Boot's own extension point for it, so every {@code server.*} setting still applies.
 */
@AutoConfiguration
@Conditional(OnSupervisorCondition.class)
public class SupervisorAutoConfiguration {
    @Bean
    static SupervisorLifecycle supervisorLifecycle() {
        return new SupervisorLifecycle();
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.tomcat.TomcatWebServerFactory", "org.apache.coyote.http11.Http11NioProtocol"})
    @ConditionalOnWebApplication
    static class Tomcat {
        @Bean
        TomcatListenerCustomizer supervisorTomcatCustomizer(Environment env) {
            return new TomcatListenerCustomizer(SupervisorListeners.web(env));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.jetty.ConfigurableJettyWebServerFactory",
            "org.eclipse.jetty.server.ServerConnector"})
    @ConditionalOnWebApplication
    static class Jetty {
        @Bean
        JettyListenerCustomizer supervisorJettyCustomizer(Environment env) {
            return new JettyListenerCustomizer(SupervisorListeners.web(env));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory",
            "reactor.netty.http.HttpResources"})
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    static class Netty {
        @Bean
        NettyOwedConnections supervisorNettyOwedConnections(Environment env) {
            return new NettyOwedConnections(env.getProperty("spring.lifecycle.timeout-per-shutdown-phase", Duration.class, Duration.ofSeconds(30)));
        }

        @Bean
        NettyListenerCustomizer supervisorNettyCustomizer(Environment env, ObjectProvider<ReactorResourceFactory> resources, NettyOwedConnections owed) {
            return new NettyListenerCustomizer(SupervisorListeners.web(env), resources, owed);
        }
    }
}
