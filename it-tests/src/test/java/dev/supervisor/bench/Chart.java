package dev.supervisor.bench;

final class Chart {
    private Chart() {}

    static String svg(ReloadRun r) {
        return "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n";
    }
}
