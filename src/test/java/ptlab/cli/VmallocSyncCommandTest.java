package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VmallocSyncCommandTest {

    static final List<String> KEYS = List.of("strategy", "full_syncs", "entries_copied", "vmalloc_faults",
            "faults_in_nmi", "nested_nmi_hazards", "vmalloc_latency_p50", "vmalloc_latency_p99", "fork_latency_p50",
            "fork_latency_p99", "page_table_bytes", "violations");

    @Test
    void jsonHasTheContractKeysForEveryStrategy() throws Exception {
        Cli.Run r = Cli.run("experiment", "vmalloc-sync", "--arch", "x86-64", "--procs", "50",
                "--vmallocs", "400", "--jobs", "1", "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.mapper().readTree(r.out());
        assertEquals("vmalloc-sync", j.get("experiment").asText());
        assertEquals("x86-64", j.get("arch").asText());
        assertEquals(50, j.get("params").get("procs").get(0).asInt());
        assertEquals(8, j.get("rows").size());
        for (JsonNode row : j.get("rows")) {
            for (String k : KEYS) {
                assertTrue(row.has(k), row.get("strategy") + " lacks " + k);
            }
        }
        assertEquals("broken-no-sync", j.get("rows").get(7).get("strategy").asText());
        assertTrue(j.get("rows").get(7).get("violations").asLong() > 0);
    }

    @Test
    void textTableCsvJsonAndPlotsWithASweep(@TempDir Path dir) throws Exception {
        Cli.Run r = Cli.run("experiment", "vmalloc-sync", "--arch", "x86-32-pae",
                "--strategies", "lazy-fault,eager-walk", "--sweep", "procs=20,40", "--vmallocs", "300",
                "--out", dir.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("lazy-fault") && r.out().contains("eager-walk") && r.out().contains("pmd copied"),
                r.out());
        List<String> csv = Files.readAllLines(dir.resolve("vmalloc-sync.csv"));
        assertEquals(5, csv.size(), "header and 2 strategies x 2 process counts");
        assertTrue(csv.get(0).startsWith("strategy,procs,full_syncs,entries_copied"));
        JsonNode j = Json.mapper().readTree(dir.resolve("vmalloc-sync.json").toFile());
        assertEquals(4, j.get("rows").size());
        for (String png : List.of("vmalloc-latency.png", "fork-latency.png", "vmalloc-p99-vs-procs.png",
                "fork-p99-vs-procs.png")) {
            assertTrue(Files.size(dir.resolve(png)) > 1000, png);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"--arch=x86-99", "--strategies=lazy-fault,nope", "--procs=0", "--cpus=65",
        "--nmi-rate=-1", "--sweep=cpus=1", "--sweep=procs=10,x", "--format=xml", "--strategies=lazy-fault,lazy-fault",
        "--jobs=0", "--top-reserve=8M", "--nmi-rate=1e12", "--sweep=procs=5,5", "--sweep=procs=5", "--ram=12345"})
    void badOptionsGiveOneLineAndExit2(String bad) {
        String[] args = bad.startsWith("--arch")
                ? new String[] {"experiment", "vmalloc-sync", bad}
                : new String[] {"experiment", "vmalloc-sync", "--arch", "x86-64", "--vmallocs", "10", "--procs", "5", bad};
        Cli.Run r = Cli.run(args);
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void exitCodeIsOneOnlyForACorrectStrategyThatBroke() {
        assertTrue(VmallocSyncCommand.violationFound(false, 1));
        assertFalse(VmallocSyncCommand.violationFound(true, 0));
        assertFalse(VmallocSyncCommand.violationFound(true, 3));
        assertFalse(VmallocSyncCommand.violationFound(false, 0));
        // broken-no-sync alone, caught as it must be: exit 0
        Cli.Run r = Cli.run("experiment", "vmalloc-sync", "--arch", "x86-32",
                "--strategies", "broken-no-sync", "--procs", "20", "--vmallocs", "300");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("deliberately broken"), r.out());
        assertEquals("", r.err());
    }

    /**
     * Issue 11, item 11: in a run this small broken-no-sync is either caught (its oops listed,
     * not a violation: exit 0) or not exercised at all, which is a note on stderr saying so -
     * never exit 1. Which one depends on whether any CPU happens to read an area through a pgd
     * that lacks its entry (the engine's interleaving of four CPUs, issue 10; the flush
     * delivery of issue 16).
     */
    @Test
    void aSmallRunCatchesTheBrokenStrategyOrSaysItIsTooSmall() {
        Cli.Run r = Cli.run("experiment", "vmalloc-sync", "--arch", "x86-64", "--procs", "2", "--vmallocs", "100",
                "--strategies", "lazy-fault,broken-no-sync", "--jobs", "1");
        assertEquals(0, r.code(), r.out() + r.err());
        boolean caught = r.out().contains("deliberately broken");
        boolean noted = r.err().contains("broken-no-sync") && r.err().contains("too small");
        assertTrue(caught != noted, "caught or noted, not both: " + r.out() + r.err());
    }

    /** Issue 11, item 12: --procs 1 is valid input (it used to fail with Random's "bound must be positive"). */
    @Test
    void oneProcessRuns() {
        Cli.Run r = Cli.run("experiment", "vmalloc-sync", "--arch", "x86-64", "--procs", "1", "--vmallocs", "200",
                "--strategies", "lazy-fault", "--jobs", "1");
        assertEquals(0, r.code(), r.out() + r.err());
    }

    @Test
    void outIsCheckedBeforeTheRun(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        for (String out : new String[] {"/proc/ptlab-no", file.toString(), ""}) {
            Cli.Run r = Cli.run("experiment", "vmalloc-sync", "--arch", "x86-64", "--procs", "10", "--vmallocs",
                    "100000000", "--out", out);
            assertEquals(2, r.code(), out + ": " + r.out() + r.err());
            assertEquals("", r.out(), "nothing ran");
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains("--out"), r.err());
        }
    }

    @Test
    void topReserveGivesMail001sPaeMachine() throws Exception {
        var j = Cli.json("experiment", "vmalloc-sync", "--arch", "x86-32-pae", "--vmsplit", "1G", "--ram", "512M",
                "--top-reserve", "8M", "--strategies", "preallocate", "--procs", "10", "--vmallocs", "50",
                "--format", "json");
        assertEquals(1272L * 4096, j.get("rows").get(0).get("boot_table_bytes").asLong(),
                "a pte page for each of mail 001's 1272 vmalloc pmds");
    }
}
