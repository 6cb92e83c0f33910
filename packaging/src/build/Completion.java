import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import picocli.AutoComplete;
import picocli.CommandLine;

/**
 * Writes the bash completion script from the CLI's own picocli model, every command in it. Run at
 * package time in source-file mode, with the distribution's jars: {@code java -cp 'lib/*' Completion.java OUT}.
 */
public final class Completion {
    public static void main(String[] args) throws Exception {
        CommandLine cl = (CommandLine) Class.forName("dev.supervisor.Main").getMethod("commandLine").invoke(null);
        Path out = Path.of(args[0]);
        Files.createDirectories(out.getParent());
        Files.writeString(out, AutoComplete.bash("supervisor", cl), StandardCharsets.UTF_8);
    }

    private Completion() {}
}
