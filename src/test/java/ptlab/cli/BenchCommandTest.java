package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;

class BenchCommandTest {

    private static int run(StringWriter out, StringWriter err, String... args) {
        return Ptlab.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void walkJsonHasPositiveNumbers() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = run(out, err, "bench", "walk", "--format", "json", "--seconds", "0.3");
        assertEquals(Ptlab.EXIT_OK, rc, err.toString());
        JsonNode o = Json.mapper().readTree(out.toString());
        for (String key : new String[] {"tlb_hit_ns", "walk4_ns", "walk5_ns", "random_1g_ns", "translations_per_s"}) {
            assertTrue(o.has(key), "missing " + key + " in " + o);
            assertTrue(o.get(key).isNumber(), key + " is not a number: " + o);
            assertTrue(o.get(key).doubleValue() > 0, key + " must be positive: " + o);
        }
    }

    @Test
    void walkTextNamesEveryFigure() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(Ptlab.EXIT_OK, run(out, err, "bench", "walk", "--seconds", "0.3"), err.toString());
        for (String key : new String[] {"walk4_ns", "walk5_ns", "random_1g_ns", "translations_per_s", "tlb_hit_ns"}) {
            assertTrue(out.toString().contains(key), out.toString());
        }
    }

    @Test
    void badSecondsIsUsageError() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(Ptlab.EXIT_BAD_INPUT, run(out, err, "bench", "walk", "--seconds", "0"));
        assertTrue(err.toString().contains("--seconds"), err.toString());
    }
}
