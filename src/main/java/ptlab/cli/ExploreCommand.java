package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import ptlab.engine.Explorer;
import ptlab.engine.Scenario;
import ptlab.hw.PagingMode;
import ptlab.tools.Scenarios;

/**
 * {@code ptlab explore}: searches a scenario's interleavings for invariant violations. On the
 * first one: prints it, shrinks and saves the schedule, prints {@code schedule: <path>} on a
 * line of its own, exits 1. {@code --shard K/N} runs every N-th schedule starting at K (for
 * Slurm arrays and k8s indexed Jobs); {@code --merge} combines their JSON summaries.
 */
@Command(name = "explore", mixinStandardHelpOptions = true,
        description = "Searches the interleavings of a scenario for invariant violations (DESIGN.md, invariants 1-6).",
        footer = {"", "Examples:",
                "  ptlab explore --list",
                "  ptlab explore pte-clear-vs-dirty --schedules 1000 --seed 1",
                "  ptlab explore tlb-stale-after-unmap --variant shootdown --strategy exhaustive --max-depth 2",
                "  ptlab explore vmalloc-sync-race --variant tracked-mask --arch x86-32-pae",
                "  ptlab explore pte-clear-vs-dirty --shard 3/8 --format json > shard3.json",
                "  ptlab explore --merge shard*.json"})
public final class ExploreCommand implements Callable<Integer> {

    @Parameters(arity = "0..*", paramLabel = "SCENARIO | FILES",
            description = "the scenario to explore; with --merge, the JSON summaries to combine")
    List<String> args = new ArrayList<>();

    @Option(names = "--list", description = "names the scenarios and their variants")
    boolean list;

    @Option(names = "--merge", description = "combines the --format json summaries of shards")
    boolean merge;

    @Option(names = "--variant", description = "protocol variant (default: the scenario's first, see --list)")
    String variant;

    @Option(names = "--arch", description = "paging mode the scenario's machines are built in: x86-32, x86-32-pae, "
            + "x86-64 or x86-64-la57 (default: the variant's first mode, see --list); a mode the variant cannot run "
            + "in is refused")
    String arch;

    @Option(names = "--schedules", defaultValue = "1000",
            description = "schedules to run (exhaustive: at most) (default: ${DEFAULT-VALUE})")
    long schedules;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the random choices (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--strategy", defaultValue = "random", description = "random, pct or exhaustive (default: ${DEFAULT-VALUE})")
    String strategy;

    @Option(names = "--max-depth", description = "pct: bug depth d (default 3); exhaustive: preemption bound "
            + "(default 2); not for random")
    Integer maxDepth;

    @Option(names = "--max-steps", defaultValue = "100000", description = "step limit of one schedule (default: ${DEFAULT-VALUE})")
    int maxSteps;

    @Option(names = "--out", paramLabel = "FILE", description = "FILE to save a violating schedule in, checked "
            + "writable before the search; missing parent directories are created "
            + "(default: ptlab-schedule-<scenario>-<seed>.json in the current directory)")
    Path outFile;

    @Option(names = "--shard", description = "K/N: run only schedules i with i mod N = K-1; env/N or env: K from "
            + "JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)")
    String shard;

    @Option(names = "--jobs", defaultValue = "1", paramLabel = "N", description = "worker threads for random and pct "
            + "search (default: ${DEFAULT-VALUE}); the schedules, counts and findings are the same for every N")
    int jobs;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (list) {
            return list(out);
        }
        if (merge) {
            return merge(out);
        }
        if (args.size() != 1) {
            throw new UsageException("give one scenario (see ptlab explore --list), got " + args.size());
        }
        Scenario named = UsageException.userInput(() -> Scenarios.byName(args.get(0)));
        Scenario.Variant v = UsageException.userInput(() -> named.variant(variant));
        Scenario sc = arch == null ? named : UsageException.userInput(
                () -> Scenario.inMode(named, v.name(), PagingMode.fromCliName(arch)));
        // K/N, or K from the batch system's index (Kubernetes, Slurm): see ShardSpec
        ShardSpec part = ShardSpec.parse(shard, System.getenv());
        int k = part.index();
        int n = part.count();
        if (maxDepth != null && strategy.equals("random")) {
            throw new UsageException("--max-depth applies to pct (bug depth) and exhaustive (preemption bound), "
                    + "not to random");
        }
        if (jobs < 1 || jobs > 256) {
            throw new UsageException("--jobs must be 1..256, got " + jobs);
        }
        if (jobs > 1 && strategy.equals("exhaustive")) {
            throw new UsageException("--jobs applies to random and pct; exhaustive search is one depth-first traversal");
        }
        int depth = maxDepth != null ? maxDepth : strategy.equals("pct") ? 3 : 2;
        int shardIndex = k;
        int shardCount = n;
        Explorer.Settings settings = UsageException.userInput(() -> new Explorer.Settings(strategy, seed, schedules,
                depth, maxSteps, shardIndex, shardCount));
        // where a violation's schedule goes, checked before the search so that a finding is never lost
        Path saveTo = CliFiles.writableFile(outFile != null ? outFile
                : Path.of("ptlab-schedule-" + sc.name() + "-" + seed + ".json"), "--out");

        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch done = new CountDownLatch(1);
        Thread hook = new Thread(() -> {   // Ctrl-C: stop between schedules, print what was done
            stop.set(true);
            try {
                done.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        ProgressBar bar = null;
        Explorer.Summary s;
        try {
            if (Terminal.stderrIsTerminal() && schedules >= 10_000) {   // stderr only: stdout may be a file
                bar = new ProgressBarBuilder().setTaskName(sc.name()).setInitialMax(schedules / n)
                        .setStyle(ProgressBarStyle.ASCII).setConsumer(
                                new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build();
            }
            ProgressBar b = bar;
            s = Explorer.explore(sc, v.name(), settings, jobs, stop::get, b == null ? null : b::stepTo);
        } finally {
            if (bar != null) {
                bar.close();
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it waits for `done`
            }
        }
        try {
            Path saved = null;
            if (s.schedule() != null) {
                saved = save(s, saveTo, meta(part));
            }
            if (format == OutputFormat.json) {
                out.println(Json.writePretty(toJson(s, settings, sc.mode(v.name()), saved).put("jobs", jobs)
                        .set("meta", meta(part))));
            } else {
                printText(out, s, v, sc.mode(v.name()), saved);
            }
            out.flush();
            return s.violation() != null ? Ptlab.EXIT_VIOLATION : Ptlab.EXIT_OK;
        } finally {
            done.countDown();
        }
    }

    /**
     * Saves the violating schedule. The file was checked writable before the search; should the
     * write fail anyway (a disk that filled up meanwhile), the schedule goes to stderr so that the
     * finding is not lost, and the violation is still reported.
     */
    private Path save(Explorer.Summary s, Path file, ObjectNode meta) {
        try {
            s.schedule().save(file, meta);
            return file;
        } catch (IOException e) {
            PrintWriter err = spec.commandLine().getErr();
            err.println("ptlab explore: cannot save the schedule to " + CliFiles.describe(e)
                    + "; here it is, save it as a .json file for ptlab replay:");
            err.println(Json.write(s.schedule().toJson()));
            err.flush();
            return Path.of("-");
        }
    }

    private static void printText(PrintWriter out, Explorer.Summary s, Scenario.Variant v, PagingMode mode,
                                  Path saved) {
        out.printf("explore %s, variant %s (%s), strategy %s, seed %d, arch %s%n", s.scenario(), v.name(),
                v.broken() ? "broken" : "correct", s.strategy(), s.seed(), mode.cliName());
        out.printf("schedules %d, steps %d in %.2f s: %.0f schedules/s, %.0f steps/s%n", s.schedules(), s.steps(),
                s.seconds(), s.schedulesPerSecond(), s.stepsPerSecond());
        if (s.strategy().equals("exhaustive")) {
            out.printf("search %s; %d runs pruned by sleep sets%n", s.exhausted() ? "complete" : "not complete",
                    s.pruned());
        }
        if (s.truncated() > 0) {
            out.printf("%d schedules hit the step limit%n", s.truncated());
        }
        if (s.interrupted()) {
            out.println("interrupted: the counts above are what ran");
        }
        if (s.violation() == null) {
            out.println("no violation found");
            return;
        }
        out.println("violation: " + s.violation().describe());
        out.printf("shrunk: %d listed choices, %d steps, %d preemption(s) (schedule %d, schedule seed %d)%n",
                s.schedule().choices().length, s.schedule().steps(), s.schedule().preemptions(),
                s.schedule().index(), s.schedule().scheduleSeed());
        out.println("schedule: " + saved);
    }

    /** Provenance of what this run writes: its command line, seed, ptlab version and shard. */
    private ObjectNode meta(ShardSpec part) {
        return Meta.provenance(spec, seed).withShard(part.label()).toJson(Json.mapper());
    }

    static ObjectNode toJson(Explorer.Summary s, Explorer.Settings settings, PagingMode mode, Path saved) {
        ObjectNode o = Json.object();
        o.put("scenario", s.scenario());
        o.put("variant", s.variant());
        o.put("arch", mode.cliName());
        o.put("strategy", s.strategy());
        o.put("seed", s.seed());
        o.put("shard", (settings.shardIndex() + 1) + "/" + settings.shardCount());
        o.put("requested_schedules", settings.schedules());
        o.put("max_depth", settings.maxDepth());
        o.put("max_steps", settings.maxSteps());
        o.put("schedules", s.schedules());
        o.put("steps", s.steps());
        o.put("seconds", Math.round(s.seconds() * 1000) / 1000.0);
        o.put("schedules_per_s", Math.round(s.schedulesPerSecond()));
        o.put("steps_per_s", Math.round(s.stepsPerSecond()));
        o.put("exhausted", s.exhausted());
        o.put("pruned", s.pruned());
        o.put("truncated", s.truncated());
        o.put("interrupted", s.interrupted());
        var checks = o.putObject("checks");                   // evaluations of each invariant's check
        var checked = o.putObject("checked_schedules");       // schedules in which it ran at least once
        for (int inv = 1; inv <= ptlab.engine.Violation.INVARIANTS; inv++) {
            checks.put(ptlab.engine.Violation.key(inv), s.checks(inv));
            checked.put(ptlab.engine.Violation.key(inv), s.checkedSchedules(inv));
        }
        if (s.violation() == null) {
            o.putNull("violation");
            o.putNull("schedule");
        } else {
            o.put("violation", s.violation().describe());
            o.put("invariant", s.violation().invariant());
            o.put("schedule", saved.toString());
            o.put("schedule_index", s.schedule().index());
            o.put("preemptions", s.schedule().preemptions());
        }
        return o;
    }

    private Integer list(PrintWriter out) {
        if (format == OutputFormat.json) {
            var arr = Json.array();
            for (Scenario sc : Scenarios.all()) {
                ObjectNode o = arr.addObject();
                o.put("scenario", sc.name());
                o.put("description", sc.description());
                var vs = o.putArray("variants");
                for (Scenario.Variant v : sc.variants()) {
                    ObjectNode vo = vs.addObject().put("variant", v.name()).put("broken", v.broken())
                            .put("description", v.description());
                    var arches = vo.putArray("arches");
                    sc.modes(v.name()).forEach(m -> arches.add(m.cliName()));
                }
            }
            out.println(Json.writePretty(arr));
        } else {
            for (Scenario sc : Scenarios.all()) {
                out.printf("%s%n    %s%n", sc.name(), sc.description());
                for (Scenario.Variant v : sc.variants()) {
                    out.printf("    --variant %-24s %-8s %s%n", v.name(), v.broken() ? "broken" : "correct",
                            v.description());
                }
                out.printf("    %s%n", archLine(sc));
            }
        }
        out.flush();
        return Ptlab.EXIT_OK;
    }

    /**
     * "--arch x86-32, x86-32-pae, x86-64, x86-64-la57 (first: x86-64)", and the variants whose
     * modes differ from the default variant's listed after it.
     */
    static String archLine(Scenario sc) {
        String first = sc.variants().get(0).name();
        List<PagingMode> common = sc.modes(first);
        StringBuilder sb = new StringBuilder("--arch ").append(names(common));
        java.util.Map<String, List<String>> others = new java.util.LinkedHashMap<>();
        for (Scenario.Variant v : sc.variants()) {
            List<PagingMode> ms = sc.modes(v.name());
            if (!ms.equals(common)) {
                others.computeIfAbsent(names(ms), k -> new ArrayList<>()).add(v.name());
            }
        }
        others.forEach((modes, vs) -> sb.append("; ").append(vs.size() > 3 ? vs.size() + " variants"
                : String.join(", ", vs)).append(": ").append(modes));
        return sb.toString();
    }

    private static String names(List<PagingMode> ms) {
        return String.join(", ", ms.stream().map(PagingMode::cliName).toList());
    }

    /** The keys that must agree between the shards of one sweep. */
    private static final List<String> SWEEP_KEYS = List.of("scenario", "variant", "strategy", "seed",
            "requested_schedules", "max_depth", "max_steps");

    /**
     * Combines the JSON summaries of the shards of ONE sweep. Refused (exit 2, naming the problem):
     * a file that is not such a summary, shards of different sweeps (scenario, variant, strategy,
     * seed, --schedules, --max-depth, --max-steps or shard count differ), the same shard twice, a
     * missing shard, an interrupted shard, a shard that ran fewer schedules than its share without
     * a violation. Counts add up; rates add up (shards run side by side); the violation of the
     * lowest schedule index wins, which is the one an unsharded run would have found.
     */
    private Integer merge(PrintWriter out) {
        if (args.isEmpty()) {
            throw new UsageException("--merge needs the JSON summaries of the shards");
        }
        JsonNode ref = null;
        String refFile = null;
        int shardCount = 0;
        java.util.Map<Integer, String> seen = new java.util.TreeMap<>();
        long total = 0, steps = 0, sps = 0, stps = 0;
        double seconds = 0;
        JsonNode first = null;
        for (String f : args) {
            JsonNode n = readSummary(f);
            if (ref == null) {
                ref = n;
                refFile = f;
            }
            for (String key : SWEEP_KEYS) {
                if (!n.get(key).equals(ref.get(key))) {
                    throw new UsageException(f + " is not a shard of the same sweep as " + refFile + ": " + key + " "
                            + n.get(key) + " vs " + ref.get(key));
                }
            }
            if (!n.path("arch").equals(ref.path("arch"))) {   // absent in summaries from before --arch
                throw new UsageException(f + " is not a shard of the same sweep as " + refFile + ": arch "
                        + n.path("arch") + " vs " + ref.path("arch"));
            }
            ShardSpec recorded;
            try {
                recorded = ShardSpec.parse(n.get("shard").asText(), java.util.Map.of());   // a summary records K/N
            } catch (UsageException e) {
                throw new UsageException(f + ": \"shard\" must be K/N, got " + n.get("shard"));
            }
            int[] kn = {recorded.index() + 1, recorded.count()};
            if (shardCount == 0) {
                shardCount = kn[1];
            } else if (kn[1] != shardCount) {
                throw new UsageException(f + " is shard " + kn[0] + "/" + kn[1] + ", but " + refFile + " splits the "
                        + "sweep into " + shardCount + " shards");
            }
            if (seen.containsKey(kn[0])) {
                throw new UsageException("shard " + kn[0] + "/" + kn[1] + " given twice: " + seen.get(kn[0]) + " and " + f);
            }
            seen.put(kn[0], f);
            boolean found = !n.path("violation").isNull();
            if (n.path("interrupted").asBoolean()) {
                throw new UsageException(f + ": shard " + kn[0] + "/" + kn[1] + " was interrupted after "
                        + n.get("schedules").asLong() + " schedules; run it again");
            }
            long share = share(n.get("requested_schedules").asLong(), kn[0] - 1, kn[1]);
            if (!found && n.get("schedules").asLong() != share) {
                throw new UsageException(f + ": shard " + kn[0] + "/" + kn[1] + " ran " + n.get("schedules").asLong()
                        + " schedules, not its share of " + share);
            }
            total += n.get("schedules").asLong();
            steps += n.path("steps").asLong();
            sps += n.path("schedules_per_s").asLong();
            stps += n.path("steps_per_s").asLong();
            seconds = Math.max(seconds, n.path("seconds").asDouble());
            if (found && (first == null
                    || n.path("schedule_index").asLong() < first.path("schedule_index").asLong())) {
                first = n;
            }
        }
        List<Integer> missing = new ArrayList<>();
        for (int k = 1; k <= shardCount; k++) {
            if (!seen.containsKey(k)) {
                missing.add(k);
            }
        }
        if (!missing.isEmpty()) {
            int nShards = shardCount;
            throw new UsageException((missing.size() > 1 ? "shards " : "shard ") + String.join(", ",
                    missing.stream().map(k -> k + "/" + nShards).toList()) + " missing (" + seen.size() + " of "
                    + nShards + " given)");
        }
        ObjectNode o = Json.object();
        for (String key : SWEEP_KEYS) {
            o.set(key, ref.get(key));
        }
        if (ref.has("arch")) {
            o.set("arch", ref.get("arch"));
        }
        o.put("shards", shardCount);
        o.put("schedules", total);
        o.put("steps", steps);
        o.put("seconds", seconds);
        o.put("schedules_per_s", sps);
        o.put("steps_per_s", stps);
        o.put("complete", first == null);
        if (first == null) {
            o.putNull("violation");
            o.putNull("schedule");
        } else {
            o.put("violation", first.get("violation").asText());
            o.put("schedule", first.path("schedule").asText());
            o.put("schedule_index", first.path("schedule_index").asLong());
        }
        if (format == OutputFormat.json) {
            out.println(Json.writePretty(o));
        } else {
            out.printf("merged %d shards of explore %s, variant %s, strategy %s, seed %d: %d schedules, %d steps, "
                            + "%d schedules/s, %d steps/s together%n", shardCount, ref.get("scenario").asText(),
                    ref.get("variant").asText(), ref.get("strategy").asText(), ref.get("seed").asLong(), total, steps,
                    sps, stps);
            if (first == null) {
                out.println("no violation found: all " + total + " schedules ran");
            } else {
                out.println("violation: " + first.get("violation").asText());
                out.println("schedule: " + first.path("schedule").asText());
            }
        }
        out.flush();
        return first == null ? Ptlab.EXIT_OK : Ptlab.EXIT_VIOLATION;
    }

    /** How many of schedules 0..requested-1 have i mod n == k. */
    static long share(long requested, int k, int n) {
        return requested <= k ? 0 : (requested - k + n - 1) / n;
    }

    private static JsonNode readSummary(String f) {
        String text = CliFiles.readText(f, 1 << 20);
        JsonNode n;
        try {
            n = Json.mapper().readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UsageException(f + " is not JSON (expected a summary of ptlab explore --format json)");
        }
        if (n == null || !n.isObject() || !n.has("scenario") || !n.has("schedules")) {
            throw new UsageException(f + " is not a JSON summary of ptlab explore --format json");
        }
        for (String key : SWEEP_KEYS) {
            if (!n.hasNonNull(key)) {
                throw new UsageException(f + " lacks \"" + key + "\" (a summary of an older ptlab? run the shard again)");
            }
        }
        if (!n.hasNonNull("shard") || !n.path("schedules").canConvertToLong()) {
            throw new UsageException(f + " lacks \"shard\" or \"schedules\"");
        }
        return n;
    }
}
