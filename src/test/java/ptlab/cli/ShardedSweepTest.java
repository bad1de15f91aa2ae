package ptlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ptlab.engine.Schedule;

/**
 * A sweep split the way the batch systems split it: N separate JVMs, each told its index only
 * through the environment variable its engine sets (Kubernetes Indexed Job:
 * {@code JOB_COMPLETION_INDEX}, 0-based; Slurm job array: {@code SLURM_ARRAY_TASK_ID}),
 * merged, and compared with the unsharded run: same table, same rows, same violation, same
 * plots; for explore, the same schedules covered and the same first violation.
 */
class ShardedSweepTest {

    @TempDir
    Path tmp;

    private static final List<String> SWEEP = List.of("experiment", "vmalloc-sync", "--arch", "x86-64",
            "--vmallocs", "80", "--strategies", "lazy-fault,eager-walk,shared-top,broken-no-sync",
            "--sweep", "procs=3,6", "--jobs", "1");

    @Test
    void kubernetesShardsMergeIntoTheUnshardedTableAndPlots() throws Exception {
        int n = 3;
        List<Process> ps = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            List<String> a = new ArrayList<>(SWEEP);
            a.addAll(List.of("--shard", "env/" + n, "--out", tmp.resolve("shard-" + k).toString()));
            ps.add(start(a, Map.of("JOB_COMPLETION_INDEX", Integer.toString(k)), tmp.resolve("shard-" + k + ".log")));
        }
        // the unsharded run, in this JVM, while the shards run
        List<String> whole = new ArrayList<>(SWEEP);
        whole.addAll(List.of("--out", tmp.resolve("whole").toString()));
        Cli.Run w = Cli.run(whole.toArray(String[]::new));
        for (int k = 0; k < n; k++) {
            assertTrue(ps.get(k).waitFor(5, TimeUnit.MINUTES));
            // exit 1 or 0: the broken strategy is in one shard only, so only that shard reports it
            assertTrue(ps.get(k).exitValue() <= 1, Files.readString(tmp.resolve("shard-" + k + ".log")));
            assertEquals((k + 1) + "/" + n, json(tmp.resolve("shard-" + k + "/vmalloc-sync.json")).path("meta")
                    .path("shard").asText());
        }
        Cli.Run m = Cli.run("experiment", "vmalloc-sync", "--merge", tmp.resolve("shard-2").toString(),
                tmp.resolve("shard-0").toString(), tmp.resolve("shard-1").toString(), "--out", tmp.resolve("merged").toString());
        assertEquals(w.code(), m.code(), m.err());
        assertEquals(table(w.out()), table(m.out()));

        JsonNode wj = json(tmp.resolve("whole/vmalloc-sync.json"));
        JsonNode mj = json(tmp.resolve("merged/vmalloc-sync.json"));
        assertEquals(8, wj.path("rows").size());
        assertEquals(withoutWallTime(wj.path("rows")), withoutWallTime(mj.path("rows")));
        assertEquals(wj.path("params"), mj.path("params"));
        assertTrue(mj.path("rows").get(3).path("violations").asLong() > 0, "the broken strategy's violation survives");
        assertEquals(3, mj.path("meta").path("merged_shards").asInt());
        assertEquals(wj.path("meta").path("command").asText().replace(" --out " + tmp.resolve("whole"), ""),
                mj.path("meta").path("command").asText().replace(" --out " + tmp.resolve("shard-0"), ""));
        for (String png : List.of("vmalloc-latency.png", "fork-latency.png", "vmalloc-p99-vs-procs.png",
                "fork-p99-vs-procs.png")) {
            assertTrue(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("whole").resolve(png)),
                    Files.readAllBytes(tmp.resolve("merged").resolve(png))), png);
        }
        assertEquals(Files.readString(tmp.resolve("whole/vmalloc-sync.csv")).lines().map(ShardedSweepTest::noRate).toList(),
                Files.readString(tmp.resolve("merged/vmalloc-sync.csv")).lines().map(ShardedSweepTest::noRate).toList());
    }

    @Test
    void mergeRefusesInconsistentShards() throws Exception {
        List<String> a = small();
        a.addAll(List.of("--shard", "1/2", "--out", tmp.resolve("s1").toString()));
        assertEquals(0, Cli.run(a.toArray(String[]::new)).code());
        Cli.Run twice = Cli.run("experiment", "vmalloc-sync", "--merge", tmp.resolve("s1").toString(),
                tmp.resolve("s1").toString());
        assertEquals(2, twice.code());
        assertTrue(twice.err().contains("shard 1/2 given twice"), twice.err());
        Cli.Run missing = Cli.run("experiment", "vmalloc-sync", "--merge", tmp.resolve("s1").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("shard(s) 2/2 missing"), missing.err());
        List<String> b = small();
        b.addAll(List.of("--shard", "2/2", "--out", tmp.resolve("s2").toString(), "--seed", "9"));
        assertEquals(0, Cli.run(b.toArray(String[]::new)).code());
        Cli.Run other = Cli.run("experiment", "vmalloc-sync", "--merge", tmp.resolve("s1").toString(),
                tmp.resolve("s2").toString());
        assertEquals(2, other.code());
        assertTrue(other.err().contains("other parameters"), other.err());
        Cli.Run none = Cli.run("experiment", "vmalloc-sync", "--merge", tmp.resolve("nothing").toString());
        assertEquals(2, none.code());
        assertTrue(none.err().contains("no such file"), none.err());
    }

    @Test
    void slurmArrayShardsOfExploreCoverTheUnshardedSchedulesAndFindItsViolation() throws Exception {
        int n = 3;
        List<String> base = List.of("explore", "pte-clear-vs-dirty", "--schedules", "300", "--seed", "5", "--format", "json");
        List<Process> ps = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            List<String> a = new ArrayList<>(base);
            a.addAll(List.of("--shard", "env", "--out", tmp.resolve("sched-" + k + ".json").toString()));
            // Slurm: --array=1-3 gives ids 1..3 with SLURM_ARRAY_TASK_MIN=1
            ps.add(start(a, Map.of("SLURM_ARRAY_TASK_ID", Integer.toString(k + 1), "SLURM_ARRAY_TASK_MIN", "1",
                    "SLURM_ARRAY_TASK_COUNT", Integer.toString(n)), tmp.resolve("explore-" + k + ".json")));
        }
        List<String> whole = new ArrayList<>(base);
        whole.addAll(List.of("--out", tmp.resolve("sched-whole.json").toString()));
        Cli.Run w = Cli.run(whole.toArray(String[]::new));
        assertEquals(1, w.code(), w.err());
        List<Schedule> found = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            assertTrue(ps.get(k).waitFor(5, TimeUnit.MINUTES));
            JsonNode s = json(tmp.resolve("explore-" + k + ".json"));
            assertEquals((k + 1) + "/" + n, s.path("shard").asText());
            if (ps.get(k).exitValue() == 1) {
                found.add(Schedule.load(tmp.resolve("sched-" + k + ".json")));
            }
        }
        // the first violating schedule of the whole run is found by the shard that owns its index,
        // as the first of that shard (the shards' earlier schedules are the whole run's, all clean)
        Schedule first = found.stream().min(Comparator.comparingLong(Schedule::index)).orElse(null);
        assertNotNull(first);
        Schedule expected = Schedule.load(tmp.resolve("sched-whole.json"));
        assertEquals(expected.index(), first.index());
        assertEquals(expected, first);
        assertEquals(expected.violation(), first.violation());
    }

    @Test
    void shardsOfACorrectVariantCoverExactlyTheUnshardedSchedules() throws Exception {
        int n = 2;
        List<String> base = List.of("explore", "tlb-stale-after-unmap", "--variant", "munmap-shootdown",
                "--schedules", "40", "--seed", "3", "--format", "json");
        List<Process> ps = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            List<String> a = new ArrayList<>(base);
            a.addAll(List.of("--shard", "env/" + n));
            ps.add(start(a, Map.of("JOB_COMPLETION_INDEX", Integer.toString(k)), tmp.resolve("ok-" + k + ".json")));
        }
        JsonNode w = Cli.json(base.toArray(String[]::new));
        List<String> merge = new ArrayList<>(List.of("explore", "--merge", "--format", "json"));
        for (int k = 0; k < n; k++) {
            assertTrue(ps.get(k).waitFor(5, TimeUnit.MINUTES));
            assertEquals(0, ps.get(k).exitValue(), Files.readString(tmp.resolve("ok-" + k + ".json")));
            merge.add(tmp.resolve("ok-" + k + ".json").toString());
        }
        JsonNode m = Cli.json(merge.toArray(String[]::new));
        assertEquals(w.path("schedules").asLong(), m.path("schedules").asLong());
        assertEquals(w.path("steps").asLong(), m.path("steps").asLong());
        assertTrue(m.path("violation").isNull());
    }

    private static List<String> small() {
        return new ArrayList<>(List.of("experiment", "vmalloc-sync", "--arch", "x86-64", "--vmallocs", "40",
                "--strategies", "shared-top", "--sweep", "procs=2,3", "--jobs", "1"));
    }

    /** Starts {@code ptlab ARGS} in a fresh JVM with {@code env} added, output to {@code log}. */
    private static Process start(List<String> args, Map<String, String> env, Path log) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED",
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-cp", cp, "ptlab.cli.Ptlab"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false).redirectOutput(log.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(log.resolveSibling(log.getFileName() + ".err").toFile()));
        pb.environment().remove("JOB_COMPLETION_INDEX");
        pb.environment().remove("SLURM_ARRAY_TASK_ID");
        pb.environment().putAll(env);
        return pb.start();
    }

    private static JsonNode json(Path f) throws IOException {
        return Json.mapper().readTree(Files.readString(f));
    }

    /** The table lines of a text run (from the header to the violation notes), without the run's own summary lines. */
    private static List<String> table(String out) {
        return out.lines().filter(l -> !l.startsWith("vmalloc-sync on") && !l.startsWith("simulator:")
                && !l.startsWith("wrote ") && !l.startsWith("shard ")).toList();
    }

    private static JsonNode withoutWallTime(JsonNode rows) {
        JsonNode c = rows.deepCopy();
        c.forEach(r -> ((ObjectNode) r).remove("events_per_s"));
        return c;
    }

    /** A CSV line without its events_per_s column (wall-clock, differs between any two runs). */
    private static String noRate(String line) {
        String[] cells = line.split(",", -1);
        List<String> keep = new ArrayList<>(List.of(cells));
        keep.remove(keep.size() - 2);   // events_per_s is the second to last column
        return String.join(",", keep);
    }
}
