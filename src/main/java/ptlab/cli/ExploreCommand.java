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

    @Option(names = "--schedules", defaultValue = "1000",
            description = "schedules to run (exhaustive: at most) (default: ${DEFAULT-VALUE})")
    long schedules;

    @Option(names = "--seed", defaultValue = "1", description = "seed of the random choices (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--strategy", defaultValue = "random", description = "random, pct or exhaustive (default: ${DEFAULT-VALUE})")
    String strategy;

    @Option(names = "--max-depth", description = "pct: bug depth d (default 3); exhaustive: preemption bound (default 2)")
    Integer maxDepth;

    @Option(names = "--max-steps", defaultValue = "100000", description = "step limit of one schedule (default: ${DEFAULT-VALUE})")
    int maxSteps;

    @Option(names = "--out", description = "where to save a violating schedule (default: ptlab-schedule-<scenario>-<seed>.json)")
    Path outFile;

    @Option(names = "--shard", description = "K/N: run only schedules i with i mod N = K-1; env/N or env: K from "
            + "JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)")
    String shard;

    @Option(names = "--format", defaultValue = "text", description = "text or json")
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
        Scenario sc = Scenarios.byName(args.get(0));
        Scenario.Variant v = sc.variant(variant);
        ShardSpec part = ShardSpec.parse(shard, System.getenv());
        int k = part.index();
        int n = part.count();
        int depth = maxDepth != null ? maxDepth : strategy.equals("pct") ? 3 : 2;
        Explorer.Settings settings = new Explorer.Settings(strategy, seed, schedules, depth, maxSteps, k, n);

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
            if (format == OutputFormat.text && System.console() != null && schedules >= 10_000) {
                bar = new ProgressBarBuilder().setTaskName(sc.name()).setInitialMax(schedules / n)
                        .setStyle(ProgressBarStyle.ASCII).setConsumer(
                                new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build();
            }
            ProgressBar b = bar;
            s = Explorer.explore(sc, v.name(), settings, stop::get, b == null ? null : b::stepTo);
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
                saved = outFile != null ? outFile : Path.of("ptlab-schedule-" + sc.name() + "-" + seed + ".json");
                s.schedule().save(saved, meta(part));
            }
            if (format == OutputFormat.json) {
                out.println(Json.writePretty(toJson(s, part.label(), saved).set("meta", meta(part))));
            } else {
                printText(out, s, v, saved);
            }
            out.flush();
            return s.violation() != null ? Ptlab.EXIT_VIOLATION : Ptlab.EXIT_OK;
        } finally {
            done.countDown();
        }
    }

    private static void printText(PrintWriter out, Explorer.Summary s, Scenario.Variant v, Path saved) {
        out.printf("explore %s, variant %s (%s), strategy %s, seed %d%n", s.scenario(), v.name(),
                v.broken() ? "broken" : "correct", s.strategy(), s.seed());
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
        return Meta.provenance(spec, seed).withShard(part.label()).toJson(Json.MAPPER);
    }

    static ObjectNode toJson(Explorer.Summary s, String shard, Path saved) {
        ObjectNode o = Json.object();
        o.put("scenario", s.scenario());
        o.put("variant", s.variant());
        o.put("strategy", s.strategy());
        o.put("seed", s.seed());
        o.put("shard", shard == null ? "1/1" : shard);
        o.put("schedules", s.schedules());
        o.put("steps", s.steps());
        o.put("seconds", Math.round(s.seconds() * 1000) / 1000.0);
        o.put("schedules_per_s", Math.round(s.schedulesPerSecond()));
        o.put("steps_per_s", Math.round(s.stepsPerSecond()));
        o.put("exhausted", s.exhausted());
        o.put("pruned", s.pruned());
        o.put("interrupted", s.interrupted());
        if (s.violation() == null) {
            o.putNull("violation");
            o.putNull("schedule");
        } else {
            o.put("violation", s.violation().describe());
            o.put("invariant", s.violation().invariant());
            o.put("schedule", saved.toString());
            o.put("preemptions", s.schedule().preemptions());
        }
        return o;
    }

    private Integer list(PrintWriter out) {
        if (format == OutputFormat.json) {
            var arr = Json.MAPPER.createArrayNode();
            for (Scenario sc : Scenarios.all()) {
                ObjectNode o = arr.addObject();
                o.put("scenario", sc.name());
                o.put("description", sc.description());
                var vs = o.putArray("variants");
                for (Scenario.Variant v : sc.variants()) {
                    vs.addObject().put("variant", v.name()).put("broken", v.broken()).put("description", v.description());
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
            }
        }
        out.flush();
        return Ptlab.EXIT_OK;
    }

    /** Sums shard summaries; rates add up (shards run side by side); the first violation wins. */
    private Integer merge(PrintWriter out) throws IOException {
        if (args.isEmpty()) {
            throw new UsageException("--merge needs the JSON summaries of the shards");
        }
        String scenario = null;
        String strat = null;
        long total = 0, steps = 0, sps = 0, stps = 0;
        double seconds = 0;
        JsonNode first = null;
        List<String> shards = new ArrayList<>();
        for (String f : args) {
            JsonNode n;
            try {
                n = Json.MAPPER.readTree(Files.readString(Path.of(f)));
            } catch (java.nio.file.NoSuchFileException e) {
                throw new UsageException("no such file: " + f);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new UsageException(f + " is not a JSON summary of ptlab explore --format json");
            }
            if (n == null || !n.has("scenario") || !n.has("schedules")) {
                throw new UsageException(f + " is not a JSON summary of ptlab explore --format json");
            }
            if (scenario != null && !scenario.equals(n.get("scenario").asText())) {
                throw new UsageException(f + " explores " + n.get("scenario").asText() + ", not " + scenario);
            }
            scenario = n.get("scenario").asText();
            strat = n.path("strategy").asText();
            total += n.get("schedules").asLong();
            steps += n.path("steps").asLong();
            sps += n.path("schedules_per_s").asLong();
            stps += n.path("steps_per_s").asLong();
            seconds = Math.max(seconds, n.path("seconds").asDouble());
            shards.add(n.path("shard").asText());
            if (first == null && !n.path("violation").isNull() && n.has("violation")) {
                first = n;
            }
        }
        ObjectNode o = Json.object();
        o.put("scenario", scenario);
        o.put("strategy", strat);
        o.put("shards", shards.size());
        o.put("schedules", total);
        o.put("steps", steps);
        o.put("seconds", seconds);
        o.put("schedules_per_s", sps);
        o.put("steps_per_s", stps);
        if (first == null) {
            o.putNull("violation");
            o.putNull("schedule");
        } else {
            o.put("violation", first.get("violation").asText());
            o.put("schedule", first.path("schedule").asText());
        }
        if (format == OutputFormat.json) {
            out.println(Json.writePretty(o));
        } else {
            out.printf("merged %d shards of %s (%s): %d schedules, %d steps, %d schedules/s, %d steps/s together%n",
                    shards.size(), scenario, strat, total, steps, sps, stps);
            if (first == null) {
                out.println("no violation found");
            } else {
                out.println("violation: " + first.get("violation").asText());
                out.println("schedule: " + first.path("schedule").asText());
            }
        }
        out.flush();
        return first == null ? Ptlab.EXIT_OK : Ptlab.EXIT_VIOLATION;
    }
}
