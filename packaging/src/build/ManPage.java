import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;

import dev.supervisor.daemon.Config;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * Writes supervisor(1socket) from the CLI's own picocli model, so that the man page lists exactly the
 * options the code has. Run at package time in source-file mode, with the distribution's jars:
 * {@code java -cp 'lib/*' ManPage.java OUT VERSION}. The parts the model does not hold (exit codes,
 * signals, environment, files) follow DESIGN.md and the launcher.
 */
public final class ManPage {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        String version = args.length > 1 ? args[1] : "dev";
        // The CLI's own command line, every command in it; interpolated as --help is (help option names, default values).
        CommandLine cl = (CommandLine) Class.forName("dev.supervisor.Main").getMethod("commandLine").invoke(null);
        cl.setUsageHelpWidth(10_000); // a synopsis on one line, never wrapped inside a word
        CommandSpec root = cl.getCommandSpec();
        String date = System.getenv("SOURCE_DATE_EPOCH") == null ? LocalDate.now().toString()
                : LocalDate.ofEpochDay(Long.parseLong(System.getenv("SOURCE_DATE_EPOCH")) / 86400).toString();

        StringBuilder m = new StringBuilder();
        m.append(".\\\" Generated at package time by packaging/src/build/ManPage.java from the picocli model.\n");
        m.append(".TH SUPERVISOR 1socket \"").append(date).append("\" \"supervisor ").append(esc(version)).append("\" \"User Commands\"\n");
        m.append(".SH NAME\nsupervisor \\- ").append(esc(String.join(" ", root.usageMessage().description()))).append('\n');

        m.append(".SH SYNOPSIS\n");
        for (Map.Entry<String, CommandLine> sub : root.subcommands().entrySet()) {
            m.append(".B supervisor ").append(sub.getKey()).append("\n.RI \"").append(esc(synopsis(sub.getValue().getCommandSpec())))
                    .append("\"\n.br\n");
        }
        m.append(".B supervisor\n.RB [ \\-\\-help | \\-\\-version ]\n");

        m.append(".SH DESCRIPTION\n");
        m.append("supervisor binds listening sockets once and hands duplicates of them to worker processes the way\n"
                + "systemd socket activation does: fds 3.., \\fBLISTEN_FDS\\fR, \\fBLISTEN_PID\\fR, \\fBLISTEN_FDNAMES\\fR.\n"
                + "On \\fBreload\\fR it starts a new generation of workers on the same sockets, waits until they are\n"
                + "ready, and only then tells the old generation to drain, so that no connection is refused or lost.\n"
                + "Any server that accepts LISTEN_FDS works unchanged; Java workers use the supervisor-protocol library.\n");

        m.append(".SH COMMANDS\n");
        for (Map.Entry<String, CommandLine> sub : root.subcommands().entrySet()) {
            CommandSpec spec = sub.getValue().getCommandSpec();
            m.append(".SS ").append(sub.getKey()).append('\n');
            m.append(esc(String.join("\n", spec.usageMessage().description()))).append('\n');
            for (PositionalParamSpec p : spec.positionalParameters()) {
                if (!p.hidden()) {
                    m.append(".TP\n.I ").append(esc(p.paramLabel())).append('\n').append(esc(String.join(" ", p.description()))).append('\n');
                }
            }
            for (OptionSpec o : spec.options()) {
                if (o.hidden()) {
                    continue;
                }
                m.append(".TP\n");
                List<String> names = List.of(o.names());
                for (int i = 0; i < names.size(); i++) {
                    m.append(i == 0 ? "" : ", ").append("\\fB").append(esc(names.get(i))).append("\\fR");
                }
                if (o.typeInfo().isBoolean()) {
                    m.append('\n');
                } else {
                    m.append(" \\fI").append(esc(o.paramLabel())).append("\\fR\n");
                }
                String text = String.join(" ", o.description());
                if (o.defaultValue() != null) {
                    text = text.replace("${DEFAULT-VALUE}", o.defaultValue());
                }
                m.append(esc(text)).append('\n');
            }
        }
        m.append(".SS options of supervisor itself\n");
        for (OptionSpec o : root.options()) {
            m.append(".TP\n");
            List<String> names = List.of(o.names());
            for (int i = 0; i < names.size(); i++) {
                m.append(i == 0 ? "" : ", ").append("\\fB").append(esc(names.get(i))).append("\\fR");
            }
            m.append('\n').append(esc(String.join(" ", o.description()))).append('\n');
        }

        // The keys from the table the parser itself checks a config file against.
        m.append(".SH CONFIG FILE\n"
                + "\\fB\\-\\-config\\fR \\fIFILE\\fR is a JSON object (UTF\\-8, at most " + Config.MAX_CONFIG_BYTES + " bytes, a regular file)"
                + " with the settings of \\fBrun\\fR; a flag given on the command line overrides its key."
                + " The file is read again on every reload; a file that cannot be read or is not valid fails that reload,"
                + " and the running generation keeps serving. An unknown key is an error. The keys:\n");
        for (Config.Key k : Config.KEYS) {
            m.append(".TP\n\\fB\"").append(esc(k.name)).append("\"\\fR: \\fI").append(esc(k.value)).append("\\fR\n")
                    .append(esc(k.description)).append('\n');
        }
        m.append(".PP\nFor example:\n.nf\n")
                .append(esc("{\"listen\": [\"http=:8080\"], \"command\": [\"python3\", \"app.py\"], \"workers\": 4,\n"
                        + " \"ready\": \"notify\", \"env\": {\"APP_ENV\": \"production\"}}"))
                .append("\n.fi\n");

        m.append(".SH SIGNALS\n"
                + "To \\fBsupervisor run\\fR: \\fBHUP\\fR reloads; \\fBTERM\\fR and \\fBINT\\fR stop gracefully (every generation drains,\n"
                + "then exit 0); a second \\fBTERM\\fR or \\fBINT\\fR during a graceful stop kills the workers at once;\n"
                + "\\fBUSR2\\fR upgrades in place, as \\fBsupervisor upgrade\\fR (same pid, sockets and workers; see \\fBUPGRADE\\fR).\n"
                + "\\fBQUIT\\fR stays the JVM's thread dump.\n");
        m.append(".SH UPGRADE\n"
                + "\\fBsupervisor upgrade\\fR (or \\fBUSR2\\fR) makes the running supervisor execute the launcher it was started by"
                + " again, in the same process: the pid, the listening sockets, the control socket and the running workers stay; its"
                + " state crosses the exec in a memory file. First the new installation is run in a check mode (it must start, load"
                + " what the daemon loads and read the state's format); if that fails, nothing changes and \\fBupgrade\\fR exits 1"
                + " with the reason. Under systemd: \\fBsystemctl kill \\-s USR2 supervisor@\\fIINSTANCE\\fR, or"
                + " \\fBsupervisor upgrade \\-\\-control /run/supervisor/\\fIINSTANCE\\fB/control.sock\\fR; installing a newer package"
                + " upgrades every running instance this way.\n");
        m.append(".SH EXIT STATUS\n"
                + ".TP\n.B 0\nsuccess; for \\fBrun\\fR, after a graceful stop\n"
                + ".TP\n.B 1\n\\fBreload\\fR: the new generation failed and the old one still serves; \\fBupgrade\\fR: the upgrade"
                + " failed and the old image still runs (the reason is on stderr)\n"
                + ".TP\n.B 2\n\\fBreload\\fR, \\fBupgrade\\fR, \\fBstatus\\fR, \\fBstop\\fR: no supervisor answers at the control socket\n"
                + ".TP\n.B 64\nbad usage or configuration\n"
                + ".TP\n.B 69\na listener could not be bound (port in use, permission)\n"
                + ".TP\n.B 70\ninternal error; also no Java 17 or newer runtime found by the launcher\n");
        m.append(".SH ENVIRONMENT\n"
                + ".TP\n.B SUPERVISOR_CONTROL\nthe control socket when \\fB\\-\\-control\\fR is not given;"
                + " else \\fI$XDG_RUNTIME_DIR/supervisor\\-UID/supervisor.sock\\fR, or under \\fI/tmp\\fR without \\fBXDG_RUNTIME_DIR\\fR\n"
                + ".TP\n.B JAVA_HOME\nthe Java runtime (17 or newer) to run on; when unset, the \\fBjava\\fR on \\fBPATH\\fR\n"
                + ".TP\n.B SUPERVISOR_JAVA_OPTS\nmore JVM options, after the launcher's own (e.g. \\fB\\-Xmx256m\\fR)\n"
                + ".TP\n.B SUPERVISOR_CDS\n\\fBoff\\fR: run without a class\\-data sharing archive, and make none\n"
                + ".TP\n.B SUPERVISOR_CACHE_DIR\nwhere the launcher keeps one class\\-data sharing archive per JDK, made in the background"
                + " on the first run with that JDK; default \\fB$CACHE_DIRECTORY\\fR (systemd's \\fBCacheDirectory=\\fR), else"
                + " \\fI$XDG_CACHE_HOME/supervisor\\fR (\\fI~/.cache/supervisor\\fR without \\fBXDG_CACHE_HOME\\fR); not writable: no archive\n"
                + ".TP\n.B LISTEN_FDS\\fR, \\fBLISTEN_PID\\fR, \\fBLISTEN_FDNAMES\\fR, \\fBNOTIFY_SOCKET\nwhat every worker gets; see"
                + " \\fBsd_listen_fds\\fR(3) and \\fBsd_notify\\fR(3)\n");
        m.append(".SH FILES\n"
                + ".TP\n.I /lib/systemd/system/supervisor@.service\\fR, \\fI/lib/systemd/system/supervisor@.socket\n"
                + "an example pair: the socket unit binds port 80 (as root) and passes it as the listener \\fBhttp\\fR;"
                + " the service runs \\fBsupervisor run \\-\\-config /etc/supervisor/\\fIINSTANCE\\fB.json\\fR as \\fBType=notify\\fR"
                + " and reloads with \\fBsystemctl reload\\fR\n"
                + ".TP\n.I /usr/share/doc/socket\\-supervisor/DESIGN.md\nthe contract: flags, environment, exit codes, reload steps, control socket\n"
                + ".TP\n.I /usr/share/doc/socket\\-supervisor/examples/gunicorn.conf.py\n"
                + "hooks that make gunicorn send \\fBREADY=1\\fR once every worker has loaded the app, not when its arbiter starts\n");
        m.append(".SH EXAMPLE\n.nf\n"
                + "supervisor run \\-l web=:8080 \\-\\-ready notify \\-\\- gunicorn \\-c gunicorn.conf.py \\-w 4 app:app\n"
                + "supervisor reload\nsupervisor upgrade\nsupervisor status \\-\\-json\nsupervisor stop\n.fi\n");
        m.append(".SH SEE ALSO\n\\fBsystemd.socket\\fR(5), \\fBsystemd.service\\fR(5), \\fBsd_listen_fds\\fR(3), \\fBsd_notify\\fR(3)\n");

        Files.createDirectories(out.getParent());
        Files.writeString(out, m.toString(), StandardCharsets.UTF_8);
    }

    private static String synopsis(CommandSpec spec) {
        String s = new CommandLine.Help(spec, CommandLine.Help.defaultColorScheme(CommandLine.Help.Ansi.OFF)).synopsis(0);
        s = s.replaceAll("\\s+", " ").trim();
        String prefix = spec.qualifiedName() + " ";
        return s.startsWith(prefix) ? s.substring(prefix.length()) : s;
    }

    /** roff: backslashes, hyphens (a plain - may be typeset as a hyphen), and a leading dot or quote. */
    private static String esc(String s) {
        String r = s.replace("\\", "\\e").replace("-", "\\-");
        StringBuilder b = new StringBuilder();
        for (String line : r.split("\n", -1)) {
            if (b.length() > 0) {
                b.append('\n');
            }
            b.append(line.startsWith(".") || line.startsWith("'") ? "\\&" + line : line);
        }
        return b.toString();
    }

    private ManPage() {}

    static {
        // keep picocli from consulting the terminal for colors while generating
        System.setProperty("picocli.ansi", "false");
    }
}
