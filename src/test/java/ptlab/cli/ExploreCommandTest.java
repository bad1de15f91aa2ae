package ptlab.cli;

import static ptlab.cli.Cli.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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

        JsonNode j = Json.mapper().readTree(run("replay", file.toString(), "--format", "json").out());
        assertTrue(j.get("trace").size() > 5);
        assertTrue(j.get("violation").asText().startsWith("invariant 1"));
    }

    @Test
    void correctVariantExitsZeroWithJsonSummary() throws Exception {
        var r = run("explore", "tlb-stale-after-unmap", "--variant", "shootdown", "--strategy", "exhaustive",
                "--max-depth", "2", "--format", "json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.mapper().readTree(r.out());
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
        JsonNode j = Json.mapper().readTree(m.out());
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

    private static Path shard(Path dir, String name, String... extra) throws Exception {
        List<String> args = new java.util.ArrayList<>(List.of("explore", "pte-clear-vs-dirty", "--variant", "xchg",
                "--format", "json"));
        args.addAll(List.of(extra));
        if (!args.contains("--schedules")) {
            args.addAll(List.of("--schedules", "60"));
        }
        var r = run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        return Files.writeString(dir.resolve(name), r.out());
    }

    /** Issue 11, item 8: --merge refuses shards that are not exactly one sweep, naming the problem. */
    @Test
    void mergeRefusesInconsistentShards(@TempDir Path dir) throws Exception {
        Path s1 = shard(dir, "s1.json", "--shard", "1/2");
        Path s2 = shard(dir, "s2.json", "--shard", "2/2");
        Path whole = shard(dir, "whole.json");
        Path otherSeed = shard(dir, "seed.json", "--shard", "2/2", "--seed", "9");
        Path otherCount = shard(dir, "count.json", "--shard", "2/2", "--schedules", "61");
        Path interrupted = dir.resolve("int.json");
        Files.writeString(interrupted, Files.readString(s2).replace("\"interrupted\" : false", "\"interrupted\" : true"));
        Path fewer = dir.resolve("fewer.json");
        Files.writeString(fewer, Files.readString(s2).replaceFirst("\"schedules\" : 30", "\"schedules\" : 29"));
        String[][] bad = {
                {s1.toString(), s1.toString()},                 // the same shard twice
                {s1.toString()},                                // a missing shard
                {s1.toString(), whole.toString()},              // 1/1 mixed with 1/2
                {s1.toString(), otherSeed.toString()},          // another seed
                {s1.toString(), otherCount.toString()},         // another --schedules
                {s1.toString(), interrupted.toString()},        // an interrupted shard
                {s1.toString(), fewer.toString()},              // fewer schedules than its share
        };
        String[] expect = {"given twice", "missing", "2 shards", "seed", "requested_schedules", "interrupted",
                "not its share"};
        for (int i = 0; i < bad.length; i++) {
            List<String> args = new java.util.ArrayList<>(List.of("explore", "--merge"));
            args.addAll(List.of(bad[i]));
            var r = run(args.toArray(String[]::new));
            assertEquals(2, r.code(), expect[i] + ": " + r.out() + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains(expect[i]), expect[i] + ": " + r.err());
        }
        var ok = run("explore", "--merge", s1.toString(), s2.toString());
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("pte-clear-vs-dirty") && ok.out().contains("seed 1")
                && ok.out().contains("variant xchg"), ok.out());
        JsonNode m = Json.mapper().readTree(run("explore", "--merge", s1.toString(), s2.toString(), "--format", "json")
                .out());
        JsonNode w = Json.mapper().readTree(whole.toFile());
        assertEquals(w.get("schedules").asLong(), m.get("schedules").asLong());
        assertEquals(w.get("steps").asLong(), m.get("steps").asLong(), "2 shards ran exactly the unsharded schedules");
    }

    /** Issue 11, item 1: --out is checked before the search, so a finding is never lost. */
    @Test
    void unwritableOutIsRefusedBeforeTheSearch(@TempDir Path dir) {
        for (String out : new String[] {"/proc/ptlab-no", dir.toString(), ""}) {
            var r = run("explore", "pte-clear-vs-dirty", "--seed", "1", "--out", out);
            assertEquals(2, r.code(), out + ": " + r.out() + r.err());
            assertEquals("", r.out(), "no search ran");
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        var r = run("explore", "pte-clear-vs-dirty", "--max-depth", "3");
        assertEquals(2, r.code(), "--max-depth means nothing to random");
    }

    /** Issue 11, item 9: replay checks its outcome against the file. */
    @Test
    void replayThatDoesNotReproduceTheRecordedRunSaysSo(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s.json");
        assertEquals(1, run("explore", "pte-clear-vs-dirty", "--seed", "1", "--out", file.toString()).code());
        String json = Files.readString(file);

        Path edited = Files.writeString(dir.resolve("edited.json"), json.replace("\"invariant 1", "\"invariant 2"));
        var r = run("replay", edited.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("diverged from the recorded run"), r.err());

        Path other = Files.writeString(dir.resolve("other.json"), json.replace("mprotect-plain-clear", "mprotect-xchg"));
        r = run("replay", other.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("diverged"), r.err());

        Path impossible = Files.writeString(dir.resolve("cpu9.json"),
                json.replaceFirst("\"choices\" : \\[", "\"choices\" : [9, "));
        r = run("replay", impossible.toString());
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("choices[0] = 9"), r.err());

        r = run("replay", file.toString(), "--max-steps", "5");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--max-steps 5"), r.err());
        assertTrue(r.out().contains("step limit"), r.out());
        assertEquals(2, run("replay", file.toString(), "--max-steps", "0").code());
        assertEquals(1, run("replay", file.toString()).code(), "the untouched file reproduces");

        Path notJson = Files.writeString(dir.resolve("garbage.json"), "{\"format\": ptlab");
        r = run("replay", notJson.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("is not JSON") && !r.err().contains("Unexpected character"), r.err());
    }
}
