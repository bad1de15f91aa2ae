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

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ptlab.engine.CostTable;
import ptlab.engine.NodeDistance;
import ptlab.hw.PagingMode;
import ptlab.report.RelocationReport;
import ptlab.study.relocation.RelocationExperiment;
import ptlab.study.relocation.RelocationExperiment.Params;
import ptlab.study.relocation.RelocationExperiment.Row;
import ptlab.study.relocation.RelocationExperiment.Workload;
import ptlab.study.relocation.RelocationProtocol;

/**
 * {@code ptlab experiment relocation}: study 2, moving a live process's page tables to the
 * NUMA node its threads run on. Exit 1 when a protocol that claims to be correct broke an
 * invariant, or when the deliberately broken one was explored and not caught.
 */
@Command(name = "relocation", mixinStandardHelpOptions = true,
        description = "Moving live page-table pages between NUMA nodes (mail 002): per protocol, violations found by "
                + "the explorer, migration cost, walk cycles per TLB miss and run time before/after, pages moved, "
                + "replica memory.")
public final class RelocationCommand implements Callable<Integer> {

    @Option(names = "--arch", required = true, description = "x86-32, x86-32-pae, x86-64 or x86-64-la57")
    String arch;

    @Option(names = "--protocols", split = ",",
            description = "comma-separated subset of: naive, safe, safe-stall, replicate (default: all)")
    List<String> protocols;

    @Option(names = "--cpus", defaultValue = "4", description = "simulated CPUs (default: ${DEFAULT-VALUE})")
    int cpus;

    @Option(names = "--nodes", defaultValue = "2", description = "NUMA nodes (default: ${DEFAULT-VALUE})")
    int nodes;

    @Option(names = "--workload", defaultValue = "gups",
            description = "gups (random read-modify-write, TLB-miss heavy) or scan (sequential, TLB-friendly)")
    String workload;

    @Option(names = "--pages", defaultValue = "4096", description = "data pages of the process (default: ${DEFAULT-VALUE})")
    int pages;

    @Option(names = "--accesses", defaultValue = "20000",
            description = "memory accesses per thread per timed phase (default: ${DEFAULT-VALUE})")
    int accesses;

    @Option(names = "--remote-distance", defaultValue = "21",
            description = "SLIT distance between nodes, local being 10 (default: ${DEFAULT-VALUE})")
    int remote;

    @Option(names = "--explore", defaultValue = "random",
            description = "random, pct, exhaustive (2 CPUs, 2 preemptions) or none (default: ${DEFAULT-VALUE})")
    String explore;

    @Option(names = "--schedules", defaultValue = "1000", description = "schedules to explore (default: ${DEFAULT-VALUE})")
    long schedules;

    @Option(names = "--seed", defaultValue = "1", description = "workload and exploration seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--cost-table", description = "file of 'name = cycles' lines overriding the cost table")
    Path costTable;

    @Option(names = "--out", description = "directory for relocation.csv, relocation.json and relocation-runtime-vs-ratio.png")
    Path out;

    @Option(names = "--format", defaultValue = "text", description = "text or json")
    OutputFormat format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PagingMode mode = UsageException.userInput(() -> PagingMode.fromCliName(arch));
        List<String> chosen = new ArrayList<>();
        for (String name : protocols == null ? List.<String>of() : protocols) {
            String n = UsageException.userInput(() -> RelocationProtocol.byName(name.strip())).name();
            if (chosen.contains(n)) {
                throw new UsageException("protocol '" + n + "' named twice");
            }
            chosen.add(n);
        }
        if (chosen.isEmpty()) {
            RelocationProtocol.all().forEach(p -> chosen.add(p.name()));
        }
        Workload w = switch (workload) {
            case "gups" -> Workload.GUPS;
            case "scan" -> Workload.SCAN;
            default -> throw new UsageException("--workload must be gups or scan, got '" + workload + "'");
        };
        if (!List.of("random", "pct", "exhaustive", "none").contains(explore)) {
            throw new UsageException("--explore must be random, pct, exhaustive or none, got '" + explore + "'");
        }
        if (schedules < 1) {
            throw new UsageException("--schedules must be at least 1, got " + schedules);
        }
        if (remote < NodeDistance.LOCAL) {
            throw new UsageException("--remote-distance must be at least " + NodeDistance.LOCAL + ", got " + remote);
        }
        Params p = UsageException.userInput(() -> new Params(mode, cpus, nodes, w, pages, accesses, remote, seed,
                explore.equals("none") ? null : explore, schedules));
        CostTable costs = costTable == null ? CostTable.defaults() : loadCosts(costTable);
        if (out != null) {
            CliFiles.writableDir(out, "--out");   // before the run: its results must have a place to go
        }
        boolean progress = Terminal.stderrIsTerminal();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch done = new CountDownLatch(1);
        Thread hook = new Thread(() -> {   // Ctrl-C: stop between runs, print what was done
            stop.set(true);
            try {
                done.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        PrintWriter pw = spec.commandLine().getOut();
        try {
            long t0 = System.nanoTime();
            List<Row> rows = RelocationExperiment.run(p, chosen, costs, stop::get, what -> {
                if (progress) {
                    System.err.printf("\r%-70s", "relocation " + mode.cliName() + ": " + what);
                    System.err.flush();
                }
            });
            double[] ratios = {1.0, 1.5, 2.1, 3.0, 4.0};
            double[][] sweep = null;
            if (out != null && !stop.get()) {
                if (progress) {
                    System.err.printf("\r%-70s", "relocation " + mode.cliName() + ": distance sweep for the plot");
                }
                int[] remotes = new int[ratios.length];
                for (int i = 0; i < ratios.length; i++) {
                    remotes[i] = (int) Math.round(ratios[i] * NodeDistance.LOCAL);
                }
                sweep = RelocationExperiment.ratioSweep(p.withAccesses(Math.max(2, accesses / 2)), chosen, remotes,
                        costs, stop::get);
            }
            if (progress) {
                System.err.printf("\r%-70s\r", "");
            }
            ObjectNode json = toJson(mode, chosen, p, costs, rows);
            json.set("meta", Meta.of(spec, seed));   // the report's provenance line
            if (format == OutputFormat.json) {
                pw.println(Json.writePretty(json));
            } else {
                pw.printf("relocation on %s: %s, %d CPUs, %d nodes (distance %d/%d), %d pages, %d accesses per thread "
                                + "and phase; exploration %s x %d (seed %d); cycles are model cycles%n", mode.cliName(),
                        workload, cpus, nodes, NodeDistance.LOCAL, remote, pages, accesses, explore, schedules, seed);
                pw.print(RelocationReport.table(rows));
                pw.printf("%.1f s wall%n", (System.nanoTime() - t0) / 1e9);
                if (stop.get()) {
                    pw.println("interrupted: the rows above are what ran");
                }
            }
            if (out != null) {
                Files.writeString(out.resolve("relocation.csv"), RelocationReport.csv(rows));
                Files.writeString(out.resolve("relocation.json"), Json.writePretty(json) + "\n");
                if (sweep != null && !stop.get()) {
                    RelocationReport.plot(out, "relocation " + mode.cliName() + " " + workload + ": run time after the move",
                            chosen, ratios, sweep);
                }
                if (format == OutputFormat.text) {
                    pw.println("wrote " + out.resolve("relocation.csv") + ", " + out.resolve("relocation.json")
                            + (sweep != null && !stop.get() ? ", " + out.resolve("relocation-runtime-vs-ratio.png") : ""));
                }
            }
            pw.flush();
            for (Row r : rows) {
                boolean explored = r.schedules() > 0;
                if ((!r.broken() && r.violations() > 0) || (r.broken() && explored && r.violations() == 0)) {
                    return Ptlab.EXIT_VIOLATION;
                }
            }
            return Ptlab.EXIT_OK;
        } catch (RelocationExperiment.TooLarge e) {
            throw new UsageException(e.getMessage());
        } finally {
            done.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it waited for `done`
            }
        }
    }

    private static CostTable loadCosts(Path file) {
        CliFiles.readText(file.toString(), 1 << 20);   // readable UTF-8 text, or a message naming the file
        return UsageException.userInput(() -> {
            try {
                return CostTable.load(file);
            } catch (IOException e) {
                throw new UsageException("cannot read cost table " + CliFiles.describe(e));
            }
        });
    }

    private ObjectNode toJson(PagingMode mode, List<String> chosen, Params p, CostTable costs, List<Row> rows) {
        ObjectNode o = Json.object();
        o.put("experiment", "relocation");
        o.put("arch", mode.cliName());
        ObjectNode params = o.putObject("params");
        ArrayNode pr = params.putArray("protocols");
        chosen.forEach(pr::add);
        params.put("cpus", p.cpus());
        params.put("nodes", p.nodes());
        params.put("workload", workload);
        params.put("pages", p.pages());
        params.put("accesses", p.accesses());
        params.put("local_distance", NodeDistance.LOCAL);
        params.put("remote_distance", p.remote());
        params.put("explore", explore);
        params.put("schedules", p.schedules());
        params.put("seed", p.seed());
        ObjectNode c = params.putObject("costs");
        costs.asMap().forEach(c::put);
        ArrayNode rs = o.putArray("rows");
        for (Row r : rows) {
            rs.add(Json.mapper().valueToTree(RelocationReport.columns(r)));
        }
        return o;
    }
}
