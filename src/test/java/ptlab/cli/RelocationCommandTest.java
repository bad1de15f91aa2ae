package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

class RelocationCommandTest {

    private static final String[] SMALL = {"--pages", "128", "--accesses", "200", "--schedules", "40"};

    private static String[] args(String... more) {
        String[] a = new String[4 + SMALL.length + more.length];
        a[0] = "experiment";
        a[1] = "relocation";
        a[2] = "--arch";
        a[3] = "x86-64";
        System.arraycopy(SMALL, 0, a, 4, SMALL.length);
        System.arraycopy(more, 0, a, 4 + SMALL.length, more.length);
        return a;
    }

    @Test
    void jsonHasTheContractKeys() throws Exception {
        JsonNode j = Cli.json(args("--protocols", "naive,replicate", "--format", "json"));
        assertEquals("relocation", j.get("experiment").asText());
        assertEquals("x86-64", j.get("arch").asText());
        assertEquals(21, j.get("params").get("remote_distance").asInt());
        assertEquals(4, j.get("rows").size());
        JsonNode naive = j.get("rows").get(0);
        for (String k : new String[]{"protocol", "placement", "violations", "schedules", "migration_cycles", "ipis",
            "pages_moved", "extra_bytes", "walk_cycles_per_miss_before", "walk_cycles_per_miss_after",
            "run_cycles_before", "run_cycles_after", "speedup"}) {
            assertTrue(naive.has(k), k);
        }
        assertEquals(1, naive.get("violations").asInt());
        assertTrue(j.get("rows").get(1).get("extra_bytes").asLong() > 0);
    }

    @Test
    void outWritesCsvJsonAndThePlot(@TempDir Path dir) throws Exception {
        Cli.Run r = Cli.run(args("--protocols", "safe", "--explore", "none", "--out", dir.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("safe"), r.out());
        assertTrue(Files.readString(dir.resolve("relocation.csv")).startsWith("protocol,placement,"));
        assertTrue(Files.size(dir.resolve("relocation.json")) > 100);
        assertTrue(Files.size(dir.resolve("relocation-runtime-vs-ratio.png")) > 1000);
    }

    @Test
    void badInputIsExitTwoWithOneLine() {
        for (String[] bad : new String[][]{{"--protocols", "nope"}, {"--workload", "stream"}, {"--nodes", "1"},
            {"--explore", "dfs"}, {"--remote-distance", "5"}}) {
            Cli.Run r = Cli.run(args(bad));
            assertEquals(2, r.code(), String.join(" ", bad) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
    }

    /** A workload that does not fit the simulated machine is bad input naming the option, not an internal error. */
    @Test
    void aWorkloadTooLargeForTheMachineIsExitTwo() {
        Cli.Run r = Cli.run("experiment", "relocation", "--arch", "x86-32-pae", "--pages", "800000", "--protocols",
                "naive", "--explore", "none");
        assertEquals(2, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("--pages"), r.err());
    }
}
