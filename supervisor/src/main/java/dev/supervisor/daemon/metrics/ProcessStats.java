package dev.supervisor.daemon.metrics;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The supervisor's own process, for the standard {@code process_*} metrics: read from /proc/self
 * and the JDK's ProcessHandle (which reads /proc/self/stat), without JMX. A value that cannot be
 * read is NaN.
 */
record ProcessStats(double cpuSeconds, double startTimeSeconds, double residentBytes, double virtualBytes, double openFds, double maxFds) {

    static ProcessStats read() {
        ProcessHandle.Info info = ProcessHandle.current().info();
        double cpu = info.totalCpuDuration().map(d -> d.toNanos() / 1e9).orElse(Double.NaN);
        double start = info.startInstant().map(i -> i.toEpochMilli() / 1e3).orElse(Double.NaN);
        double rss = Double.NaN;
        double vsize = Double.NaN;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = kib(line);
                } else if (line.startsWith("VmSize:")) {
                    vsize = kib(line);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux, or a format we do not know: NaN
        }
        double fds = 0;
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path ignored : d) {
                fds++;
            }
            fds--; // the directory stream's own fd
        } catch (IOException e) {
            fds = Double.NaN;
        }
        double maxFds = Double.NaN;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                    maxFds = soft.equals("unlimited") ? Double.POSITIVE_INFINITY : Double.parseDouble(soft);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // NaN
        }
        return new ProcessStats(cpu, start, rss, vsize, fds, maxFds);
    }

    /** "VmRSS:\t   70312 kB" in bytes. */
    private static double kib(String line) {
        String[] f = line.trim().split("\\s+");
        return Double.parseDouble(f[1]) * 1024;
    }
}
