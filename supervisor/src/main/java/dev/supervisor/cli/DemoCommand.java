package dev.supervisor.cli;

import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import dev.supervisor.daemon.Config;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true, description = {"Run the bundled demo HTTP worker on 127.0.0.1:PORT, for a first look.",
        "curl it, then run 'supervisor reload' and watch the generation change."})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--port", paramLabel = "N", defaultValue = "8080", description = "port on 127.0.0.1 (default ${DEFAULT-VALUE}; 0 = any free one)")
    int port;

    @Mixin
    RunOptions options;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (options.listen.isEmpty()) {
            options.listen = List.of("http=127.0.0.1:" + port);
        }
        if (options.ready == null) {
            options.ready = "notify";
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(List.of("-XX:+UseSerialGC", "-Xmx32m", "-Xss256k", "-XX:TieredStopAtLevel=1", "-Xshare:auto"));
        // On the command line, so that run leaves JDK_JAVA_OPTIONS (and the launcher's note) out.
        cmd.addAll(List.of(Daemon.JAVA_WORKER_OPTIONS.split(" ")));
        cmd.addAll(List.of("-cp", libraryPath(), "dev.supervisor.demo.DemoWorker"));
        Config.Flags flags = options.flags(cmd.stream().map(a -> a.getBytes(StandardCharsets.UTF_8)).toList());
        List<String> args = spec.root().commandLine().getParseResult().originalArgs();
        return new Daemon(options, flags, CommandBytes.mainArgs(args)).run();
    }

    /** "lib/*" of the distribution (the java launcher expands it), else our own class path. */
    private static String libraryPath() {
        try {
            Path jar = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(jar)) {
                return jar.resolveSibling("*").toString();
            }
        } catch (URISyntaxException | RuntimeException e) {
            // fall back to the full class path
        }
        return System.getProperty("java.class.path");
    }
}
