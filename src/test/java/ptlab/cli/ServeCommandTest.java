package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ptlab serve}'s refusals before it listens: each one line on stderr, exit 2. */
class ServeCommandTest {

    @TempDir
    Path tmp;

    @Test
    void aMissingDataDirectoryIsExit2() {
        Cli.Run r = Cli.run("serve", "--data", tmp.resolve("nope").toString());
        assertEquals(2, r.code());
        assertEquals("ptlab serve: --data " + tmp.resolve("nope") + " is not a readable directory", r.err().strip());
    }

    @Test
    void aPortOutOfRangeIsExit2() {
        Cli.Run r = Cli.run("serve", "--data", tmp.toString(), "--port", "70000");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--port must be 0..65535, got 70000"), r.err());
    }

    @Test
    void aPortInUseIsExit2() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Cli.Run r = Cli.run("serve", "--data", tmp.toString(), "--port", Integer.toString(taken.getLocalPort()));
            assertEquals(2, r.code());
            assertTrue(r.err().startsWith("ptlab serve: cannot listen on 127.0.0.1:" + taken.getLocalPort()), r.err());
            assertEquals(1, r.err().lines().count());
        }
    }
}
