package dev.supervisor.spring;

import java.time.Duration;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.http.client.ReactorResourceFactory;

/**
 * The actuator's own server (the child context Boot creates for {@code management.server.port})
 * serves on the management listener. Boot applies a context's customizers only to its own web
 * server, so these are registered in the child context, as Boot's own management customizers are.
 */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
@Conditional(OnSupervisorCondition.class)
public class SupervisorManagementContextConfiguration {
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.tomcat.TomcatWebServerFactory", "org.apache.coyote.http11.Http11NioProtocol"})
    @ConditionalOnWebApplication
    static class Tomcat {
        @Bean
        TomcatListenerCustomizer supervisorManagementTomcatCustomizer(Environment env) {
            return new TomcatListenerCustomizer(SupervisorListeners.management(env));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.jetty.ConfigurableJettyWebServerFactory",
            "org.eclipse.jetty.server.ServerConnector"})
    @ConditionalOnWebApplication
    static class Jetty {
        @Bean
        JettyListenerCustomizer supervisorManagementJettyCustomizer(Environment env) {
            return new JettyListenerCustomizer(SupervisorListeners.management(env));
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {"org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory",
            "reactor.netty.http.HttpResources"})
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    static class Netty {
        @Bean
        NettyOwedConnections supervisorManagementNettyOwedConnections(Environment env) {
            return new NettyOwedConnections(env.getProperty("spring.lifecycle.timeout-per-shutdown-phase", Duration.class, Duration.ofSeconds(30)));
        }

        @Bean
        NettyListenerCustomizer supervisorManagementNettyCustomizer(Environment env, ObjectProvider<ReactorResourceFactory> resources,
                // the application context has one too
                @Qualifier("supervisorManagementNettyOwedConnections") NettyOwedConnections owed) {
            return new NettyListenerCustomizer(SupervisorListeners.management(env), resources, owed);
        }
    }
}
