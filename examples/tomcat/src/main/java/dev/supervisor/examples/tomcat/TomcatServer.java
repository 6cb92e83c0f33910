package dev.supervisor.examples.tomcat;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

import org.apache.catalina.connector.Connector;
import org.apache.catalina.core.StandardContext;
import org.apache.catalina.core.StandardService;
import org.apache.catalina.startup.Tomcat;

import dev.supervisor.worker.Activation;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

/**
 * An embedded Tomcat 11 on the listener that supervisor places on its fd 0 ({@code --stdin-listener}),
 * which Tomcat takes with {@code useInheritedChannel} (through {@code System.inheritedChannel()}:
 * Tomcat has no way to take any other channel). {@code GET /} answers at once,
 * {@code GET /slow?ms=N} after N ms.
 *
 * <pre>
 * supervisor run -l http=127.0.0.1:8080 --stdin-listener http --ready notify -- java -jar supervisor-example-tomcat.jar
 * </pre>
 *
 * On drain it closes the inherited channel (stops accepting; the connections still queued are
 * the next generation's), then stops Tomcat gracefully: what is in flight is answered with
 * {@code Connection: close}, and Tomcat waits for its connections to close.
 */
public final class TomcatServer {
    /** How long a graceful stop waits for open connections. */
    static final long DRAIN_MILLIS = 10_000;
    /** Tomcat's loggers that report the accept the drain interrupts; held, so that the levels set on them stay. */
    private static final Logger ACCEPTOR_LOG = Logger.getLogger("org.apache.tomcat.util.net.Acceptor");
    private static final Logger ENDPOINT_LOG = Logger.getLogger("org.apache.tomcat.util.net.NioEndpoint");

    public static void main(String[] args) throws Exception {
        keepStdoutAndStderr();
        CountDownLatch drain = new CountDownLatch(1);
        Activation.onDrain(drain::countDown);                  // supervisor: told to drain

        Tomcat tomcat = new Tomcat();
        Path base = Files.createTempDirectory("tomcat"); // this process's own: generations overlap
        tomcat.setBaseDir(base.toString());
        Connector http = new Connector();
        http.setProperty("useInheritedChannel", "true");       // supervisor: fd 0 (--stdin-listener http)
        http.setProperty("bindOnInit", "false");  // so that a graceful stop ends the acceptor before it waits
        tomcat.setConnector(http);
        ((StandardService) tomcat.getService()).setGracefulStopAwaitMillis(DRAIN_MILLIS);
        StandardContext root = (StandardContext) tomcat.addContext("", null);
        root.setClearReferencesThreadLocals(false); // leak hunting for redeployed webapps: nothing to redeploy here
        root.setClearReferencesRmiTargets(false);
        Tomcat.addServlet(root, "hello", new Hello());
        root.addServletMappingDecoded("/*", "hello");
        tomcat.start();
        Activation.ready();                                    // supervisor: now serving
        System.out.println("serving " + System.inheritedChannel());

        drain.await();
        // Tomcat never closes an inherited channel, and its acceptor thread waits in accept() on
        // it: close it here, so that the acceptor stops taking connections, and let Tomcat stop
        // only once the acceptor has handed over what it took (a connection it takes while Tomcat
        // stops is dropped). The acceptor then reports the accept that the close interrupted:
        // that report is expected, and is the sign that it is done.
        CountDownLatch acceptorDone = new CountDownLatch(1);
        ACCEPTOR_LOG.setFilter(report -> {
            acceptorDone.countDown();
            return false;
        });
        ENDPOINT_LOG.setLevel(Level.SEVERE); // "Failed to unlock acceptor": there is nothing left to unlock
        System.inheritedChannel().close();
        acceptorDone.await(DRAIN_MILLIS, TimeUnit.MILLISECONDS);
        System.out.println("draining: stopped accepting");
        tomcat.stop();
        tomcat.destroy();
        deleteTree(base);
        System.out.println("drained: exiting");
    }

    /**
     * Closing {@code System.inheritedChannel()} makes the JDK point fds 0, 1 and 2 at /dev/null
     * (inetd style: there they are the connection). Under supervisor, 1 and 2 are the log: write
     * to copies of them instead, set before anything logs, so that the drain is not silent.
     */
    static void keepStdoutAndStderr() {
        try {
            System.setOut(new PrintStream(new FileOutputStream("/proc/self/fd/1", true), true));
            System.setErr(new PrintStream(new FileOutputStream("/proc/self/fd/2", true), true));
        } catch (IOException e) {
            System.err.println("stdout and stderr go silent after the drain: " + e);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static final class Hello extends HttpServlet {
        private static final long serialVersionUID = 1L;

        @Override
        protected void doGet(HttpServletRequest request, HttpServletResponse response) throws IOException {
            if (request.getRequestURI().equals("/slow")) {
                String ms = request.getParameter("ms");
                long millis = ms == null ? 1000 : Long.parseLong(ms);
                System.out.println("slow request: answering in " + millis + " ms");
                try {
                    Thread.sleep(millis); // a servlet's slow work holds its thread
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            response.setContentType("application/json");
            response.getWriter().write(hello());
        }
    }

    /** {"server":"tomcat","generation":G,"pid":P}: G is supervisor's generation number. */
    static String hello() {
        String generation = System.getenv("SUPERVISOR_GENERATION");
        return "{\"server\":\"tomcat\",\"generation\":" + (generation == null ? "null" : generation) + ",\"pid\":"
                + ProcessHandle.current().pid() + "}";
    }
}
