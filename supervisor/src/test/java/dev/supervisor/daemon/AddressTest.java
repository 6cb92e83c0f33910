package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AddressTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "tcp://127.0.0.1:8080 | tcp://127.0.0.1:8080",
        "127.0.0.1:8080       | tcp://127.0.0.1:8080",
        ":8080                | tcp://:8080",
        "tcp://:0             | tcp://:0",
        "[::1]:8080           | tcp://[::1]:8080",
        "tcp://[::]:80        | tcp://[::]:80",
        "localhost:65535      | tcp://localhost:65535",
        "udp://127.0.0.1:53   | udp://127.0.0.1:53",
        "udp://[::1]:5353     | udp://[::1]:5353",
        "udp://:9999          | udp://:9999",
        "unix:/run/app.sock   | unix:/run/app.sock",
        "unix:///run/app.sock | unix:/run/app.sock",
        "unix:rel/app.sock    | unix:rel/app.sock",
        "unix:////0           | unix:////0",
    })
    void parsesEveryForm(String text, String canonical) {
        assertEquals(canonical, Address.parse(text).toString());
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '|', value = {
        "''                    | empty address",
        "8080                  | no port",
        "http://x:80           | unknown address form 'http://x:80'",
        "127.0.0.1:            | port '' is not a number",
        "127.0.0.1:http        | port 'http' is not a number",
        "127.0.0.1:65536       | port 65536 is out of range",
        "127.0.0.1:-1          | port '-1' is not a number",
        "::1:8080              | needs brackets",
        "[::1]8080             | expected [V6ADDR]:PORT",
        "[127.0.0.1]:80        | is not an IPv6 address",
        "[::1                  | expected [V6ADDR]:PORT",
        "unix:                 | has no path",
        "my host:80            | is not a host name",
    })
    void refusesBadInput(String text, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Address.parse(text));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @org.junit.jupiter.api.Test
    void refusesUnixPathLongerThanTheKernelTakes() {
        String path = "/tmp/" + "x".repeat(103);
        assertEquals(108, path.length());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Address.parse("unix:" + path));
        assertTrue(e.getMessage().contains("the kernel allows at most 107"), e.getMessage());
        assertEquals("unix:" + path.substring(1), Address.parse("unix:" + path.substring(1)).toString());
    }
}
