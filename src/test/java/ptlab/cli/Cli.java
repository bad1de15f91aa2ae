package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintWriter;
import java.io.StringWriter;

import com.fasterxml.jackson.databind.JsonNode;

/** Runs {@code ptlab ARGS} in process, as the launcher would, capturing exit code, stdout and stderr. */
final class Cli {

    record Run(int code, String out, String err) {
    }

    private Cli() {
    }

    static Run run(String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int code = Ptlab.execute(args, new PrintWriter(o, true), new PrintWriter(e, true));
        return new Run(code, o.toString(), e.toString());
    }

    /** Runs a command that must succeed and parses its stdout as JSON. */
    static JsonNode json(String... args) throws Exception {
        Run r = run(args);
        assertEquals(0, r.code(), r.err());
        return Json.mapper().readTree(r.out());
    }
}
