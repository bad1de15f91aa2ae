package ptlab.cli;

import static ptlab.cli.Cli.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

// A stuck engine (e.g. a Java monitor held across a CPU switch) fails the test instead of hanging the build.
@org.junit.jupiter.api.Timeout(value = 120, unit = java.util.concurrent.TimeUnit.SECONDS,
        threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class ExploreCommandTest {

    @Test
    void violationPrintsSavesScheduleAndExitsOne(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s.json");
        var r = run("explore", "pte-clear-vs-dirty", "--seed", "1", "--out", file.toString());
        assertEquals(1, r.code(), r.err());
        assertTrue(r.out().contains("violation: invariant 1 (no lost dirty bit)"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.equals("schedule: " + file)), r.out());
        assertTrue(Files.exists(file));

        var replay = run("replay", file.toString());
        assertEquals(1, replay.code(), replay.err());
        assertTrue(replay.out().contains("walk-cas"), replay.out());
        String last = replay.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertTrue(last.startsWith("violation: invariant 1"), last);

        JsonNode j = Json.MAPPER.readTree(run("replay", file.toString(), "--format", "json").out());
        assertTrue(j.get("trace").size() > 5);
        assertTrue(j.get("violation").asText().startsWith("invariant 1"));
    }

    @Test
    void correctVariantExitsZeroWithJsonSummary() throws Exception {
        var r = run("explore", "tlb-stale-after-unmap", "--variant", "shootdown", "--strategy", "exhaustive",
                "--max-depth", "2", "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        for (String k : new String[]{"scenario", "strategy", "schedules", "steps", "schedules_per_s", "steps_per_s",
                "violation", "schedule"}) {
            assertTrue(j.has(k), k);
        }
        assertTrue(j.get("violation").isNull());
        assertTrue(j.get("exhausted").asBoolean());
    }

    @Test
    void shardsMerge(@TempDir Path dir) throws Exception {
        for (int k = 1; k <= 2; k++) {
            var r = run("explore", "pte-clear-vs-dirty", "--variant", "xchg", "--schedules", "200", "--shard",
                    k + "/2", "--format", "json");
            assertEquals(0, r.code(), r.err());
            Files.writeString(dir.resolve("s" + k + ".json"), r.out());
        }
        var m = run("explore", "--merge", dir.resolve("s1.json").toString(), dir.resolve("s2.json").toString(),
                "--format", "json");
        assertEquals(0, m.code(), m.err());
        JsonNode j = Json.MAPPER.readTree(m.out());
        assertEquals(200, j.get("schedules").asLong());
        assertEquals(2, j.get("shards").asInt());
    }

    @Test
    void listNamesTheScenarios() {
        var r = run("explore", "--list");
        assertEquals(0, r.code());
        for (String s : new String[]{"tlb-stale-after-unmap", "pte-clear-vs-dirty", "free-pgtables-vs-walk"}) {
            assertTrue(r.out().contains(s), s);
        }
    }

    @Test
    void badInputIsOneLineAndExitTwo(@TempDir Path dir) throws Exception {
        String[][] bad = {
                {"explore", "no-such-scenario"},
                {"explore", "pte-clear-vs-dirty", "--variant", "nope"},
                {"explore", "pte-clear-vs-dirty", "--shard", "3/2"},
                {"explore", "pte-clear-vs-dirty", "--strategy", "bfs"},
                {"explore", "pte-clear-vs-dirty", "--schedules", "0"},
                {"explore"},
                {"replay", dir.resolve("missing.json").toString()},
        };
        for (String[] args : bad) {
            var r = run(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.out() + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        Path junk = dir.resolve("junk.json");
        Files.writeString(junk, "{\"format\":\"nope\"}");
        assertEquals(2, run("replay", junk.toString()).code());
    }
}
