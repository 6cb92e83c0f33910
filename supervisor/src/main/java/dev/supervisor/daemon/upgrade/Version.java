package dev.supervisor.daemon.upgrade;

/** This build's version: the jar manifest's Implementation-Version ("dev" outside a jar). */
public final class Version {
    private Version() {}

    private static final String CURRENT = read();

    public static String current() {
        return CURRENT;
    }

    private static String read() {
        String v = Version.class.getPackage().getImplementationVersion();
        return v == null || v.isBlank() ? "dev" : v;
    }
}
