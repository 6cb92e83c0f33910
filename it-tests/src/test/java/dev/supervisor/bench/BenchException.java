package dev.supervisor.bench;

/** Something the benchmark needed did not happen: a server did not start, a line never came. */
final class BenchException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BenchException(String message) {
        super(message);
    }

    BenchException(String message, Throwable cause) {
        super(message, cause);
    }
}
