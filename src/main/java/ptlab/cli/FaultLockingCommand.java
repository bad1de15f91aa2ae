package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import ptlab.engine.Explorer;
import ptlab.engine.Scenario;
import ptlab.hw.PagingMode;
import ptlab.kernel.FaultLocking;
import ptlab.kernel.KernelConfig;
import ptlab.report.FaultLockingReport;
import ptlab.study.faultlocking.FaultLockingExperiment;
import ptlab.study.faultlocking.FaultLockingExperiment.Params;
import ptlab.study.faultlocking.FaultLockingExperiment.Row;
import ptlab.study.faultlocking.Mix;
import ptlab.tools.Scenarios;

/**
 * {@code ptlab experiment fault-locking}: study 3, each fault path on the same workload at each
 * CPU count, timed; with {@code --explore}, also each path's explore scenarios. Exit 1 when a
 * path that claims to be correct broke an invariant, or (with --explore) a broken one was not
 * caught.
 */
@Command(name = "fault-locking", mixinStandardHelpOptions = true,
        description = "Page faults without the mmap lock (mail 004): mmap-lock, speculative (retry or fallback) and "
                + "per-vma fault paths on threads faulting on fresh memory while others mmap/munmap/mprotect/brk/fork; "
                + "faults per model second, speedup, retries, fallbacks, mmap_lock wait, cache-line transfers per fault, "
                + "fault and fork latency, violations.")
public final class FaultLockingCommand implements Callable<Integer> {

    static final List<String> DEFAULT_PATHS = List.of("mmap-lock", "speculative", "speculative-retry", "per-vma");

    @Option(names = "--arch", required = true, description = "x86-32, x86-32-pae, x86-64 or x86-64-la57")
    String arch;

    @Option(names = "--paths", split = ",", description = "comma-separated subset of: mmap-lock, speculative, "
            + "speculative-retry, per-vma, speculative-broken, per-vma-fork-unlocked, pte-reclaim-no-recheck "
            + "(default: the four correct ones)")
    List<String> paths;

    @Option(names = "--cpus", split = ",", defaultValue = "1,2,4,8,16,32,48,64,110,128",
            description = "CPU counts, 1..256 each (CONFIG_NR_CPUS) (default: ${DEFAULT-VALUE})")
    List<Integer> cpus;

    @Option(names = "--mix", split = ",", defaultValue = "read-mostly",
            description = "read-mostly, writer-heavy, fork-heavy, churn (comma-separated; default: ${DEFAULT-VALUE})")
    List<String> mixes;

    @Option(names = "--faults", defaultValue = "128", description = "faults per faulting thread (default: ${DEFAULT-VALUE})")
    int faults;

    @Option(names = "--vmas", defaultValue = "0", description = "extra vmas mapped before the run (fork copies them)")
    int vmas;

    @Option(names = "--line-transfer", defaultValue = "200",
            description = "cycles to move a cache line between CPUs (default: ${DEFAULT-VALUE})")
    long lineTransfer;

    @Option(names = "--clear-page", defaultValue = "400", description = "cycles to clear a new page (default: ${DEFAULT-VALUE})")
    long clearPage;

    @Option(names = "--fork-cost", split = ",",
            description = "instead of the runs: fork latency with and without dup_mmap's vma_start_write for these "
                    + "numbers of vmas, e.g. 10,100,1000,10000")
    List<Integer> forkCost;

    @Option(names = "--explore", description = "also search each path's explore scenarios: random, pct or exhaustive")
    String explore;

    @Option(names = "--schedules", defaultValue = "10000", description = "schedules per scenario with --explore")
    long schedules;

    @Option(names = "--seed", defaultValue = "1", description = "workload and search seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--jobs", description = "runs in parallel threads (default: the number of processors)")
    Integer jobs;

    @Option(names = "--out", description = "directory for fault-locking.csv, fault-locking.json and the plot")
    Path out;

    @Option(names = "--format", defaultValue = "text", description = "text or json")
    OutputFormat format;

    @Spec
    CommandSpec spec;

    /** One explore search of one path's scenario. */
    record Search(String scenario, String path, boolean broken, String strategy, long schedules, String violation) {
    }

    @Override
    public Integer call() throws IOException {
        PagingMode mode = PagingMode.fromCliName(arch);
        List<FaultLocking> chosen = new ArrayList<>();
        for (String n : paths == null ? DEFAULT_PATHS : paths) {
            FaultLocking f = FaultLocking.byName(n.strip());
            if (chosen.contains(f)) {
                throw new UsageException("path '" + f + "' named twice");
            }
            chosen.add(f);
        }
        List<Mix> mixList = new ArrayList<>();
        for (String n : mixes) {
            mixList.add(Mix.byName(n.strip()));
        }
        for (int c : cpus) {
            if (c < 1 || c > KernelConfig.NR_CPUS) {
                throw new UsageException("--cpus: each count must be 1.." + KernelConfig.NR_CPUS + " (CONFIG_NR_CPUS), got " + c);
            }
        }
        if (explore != null && !List.of("random", "pct", "exhaustive").contains(explore)) {
            throw new UsageException("--explore must be random, pct or exhaustive, got '" + explore + "'");
        }
        if (schedules < 1) {
            throw new UsageException("--schedules must be at least 1, got " + schedules);
        }
        int threads = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
        if (threads < 1) {
            throw new UsageException("--jobs must be at least 1, got " + threads);
        }
        if (out != null) {
            Files.createDirectories(out);
        }
        if (forkCost != null) {
            return forkCost(mode);
        }
        List<Params> ps = new ArrayList<>();
        List<FaultLocking> fs = new ArrayList<>();
        List<Integer> cs = new ArrayList<>();
        for (Mix mix : mixList) {
            Params p = new Params(mode, mix, faults, lineTransfer, clearPage, vmas, seed);
            for (FaultLocking f : chosen) {
                for (int c : cpus) {
                    ps.add(p);
                    fs.add(f);
                    cs.add(c);
                }
            }
        }
        boolean progress = System.console() != null && format == OutputFormat.text;
        List<Row> rows = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Row>> futures = new ArrayList<>();
            for (int i = 0; i < ps.size(); i++) {
                Params p = ps.get(i);
                FaultLocking f = fs.get(i);
                int c = cs.get(i);
                futures.add(pool.submit(() -> FaultLockingExperiment.run(p, f, c)));
            }
            for (int i = 0; i < futures.size(); i++) {
                if (progress) {
                    System.err.printf("\r%-70s", "fault-locking " + mode.cliName() + " " + ps.get(i).mix() + ": "
                            + fs.get(i) + " on " + cs.get(i) + " CPUs (" + (i + 1) + "/" + futures.size() + ")");
                    System.err.flush();
                }
                rows.add(futures.get(i).get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IllegalArgumentException iae) {
                throw iae;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
        if (progress) {
            System.err.printf("\r%-70s\r", "");
        }
        List<Search> searches = explore == null ? List.of() : explore(chosen);
        ObjectNode json = toJson(mode, chosen, mixList, rows, searches);
        PrintWriter pw = spec.commandLine().getOut();
        if (format == OutputFormat.json) {
            pw.println(Json.writePretty(json));
        } else {
            pw.printf("fault-locking on %s: %d faults per faulting thread, line transfer %d cycles, clear_page %d, "
                    + "seed %d; latencies in model cycles (10^9 per model second)%n", mode.cliName(), faults,
                    lineTransfer, clearPage, seed);
            pw.print(FaultLockingReport.table(rows));
            for (Search s : searches) {
                pw.printf("explore %s --variant %s (%s, %d schedules): %s%n", s.scenario(), s.path(), s.strategy(),
                        s.schedules(), s.violation() == null ? "no violation" : s.violation());
            }
        }
        if (out != null) {
            Files.writeString(out.resolve("fault-locking.csv"), FaultLockingReport.csv(rows));
            Files.writeString(out.resolve("fault-locking.json"), Json.writePretty(json) + "\n");
            Path png = FaultLockingReport.plot(rows, out, "fault-locking " + mode.cliName());
            if (format == OutputFormat.text) {
                pw.println("wrote " + out.resolve("fault-locking.csv") + ", " + out.resolve("fault-locking.json") + ", "
                        + png);
            }
        }
        pw.flush();
        for (Row r : rows) {
            if (!r.broken() && r.violations() > 0) {
                return Ptlab.EXIT_VIOLATION;
            }
        }
        for (Search s : searches) {
            if (s.broken() != (s.violation() != null)) {
                return Ptlab.EXIT_VIOLATION;
            }
        }
        return Ptlab.EXIT_OK;
    }

    /**
     * The cost of "fork: lock VMAs of the parent process when forking": one fork on one CPU of a
     * process with N one-page vmas, per-vma (fixed) against per-vma-fork-unlocked (6.4.0).
     */
    private int forkCost(PagingMode mode) {
        ArrayNode rows = Json.array();
        PrintWriter pw = spec.commandLine().getOut();
        if (format == OutputFormat.text) {
            pw.printf("fork with N vmas on %s, one CPU, model cycles: vma_start_write on every parent vma (the fix) "
                    + "against none (6.4.0)%n", mode.cliName());
            pw.printf("%8s  %14s  %14s  %8s%n", "vmas", "fork (fixed)", "fork (6.4.0)", "cost");
        }
        for (int n : forkCost) {
            if (n < 0) {
                throw new UsageException("--fork-cost: vma counts must not be negative, got " + n);
            }
            long fixed = FaultLockingExperiment.forkCycles(mode, FaultLocking.PER_VMA, n, lineTransfer);
            long unlocked = FaultLockingExperiment.forkCycles(mode, FaultLocking.PER_VMA_FORK_UNLOCKED, n, lineTransfer);
            double pct = 100.0 * (fixed - unlocked) / unlocked;
            if (format == OutputFormat.text) {
                pw.printf("%8d  %14d  %14d  %+7.1f%%%n", n, fixed, unlocked, pct);
            }
            ObjectNode r = rows.addObject();
            r.put("vmas", n);
            r.put("fork_cycles_fixed", fixed);
            r.put("fork_cycles_unlocked", unlocked);
            r.put("cost_percent", Math.round(pct * 10) / 10.0);
        }
        if (format == OutputFormat.json) {
            ObjectNode o = Json.object();
            o.put("experiment", "fault-locking");
            o.put("arch", mode.cliName());
            o.putObject("params").put("line_transfer", lineTransfer);
            o.set("fork_cost", rows);
            pw.println(Json.writePretty(o));
        }
        pw.flush();
        return Ptlab.EXIT_OK;
    }

    /** Every fault-locking scenario that has a variant named after a chosen path, searched. */
    private List<Search> explore(List<FaultLocking> chosen) {
        List<Search> out = new ArrayList<>();
        for (Scenario sc : Scenarios.all()) {
            if (!sc.getClass().getPackageName().endsWith("faultlocking")) {
                continue;
            }
            for (Scenario.Variant v : sc.variants()) {
                if (chosen.stream().noneMatch(f -> f.cliName().equals(v.name()))) {
                    continue;
                }
                Explorer.Summary s = Explorer.explore(sc, v.name(),
                        Explorer.Settings.of(explore, seed, schedules, explore.equals("pct") ? 3 : 2), () -> false, null);
                out.add(new Search(sc.name(), v.name(), v.broken(), explore, s.schedules(),
                        s.violation() == null ? null : s.violation().describe()));
            }
        }
        return out;
    }

    private ObjectNode toJson(PagingMode mode, List<FaultLocking> chosen, List<Mix> mixList, List<Row> rows,
                              List<Search> searches) {
        ObjectNode o = Json.object();
        o.put("experiment", "fault-locking");
        o.put("arch", mode.cliName());
        ObjectNode params = o.putObject("params");
        ArrayNode pa = params.putArray("paths");
        chosen.forEach(f -> pa.add(f.cliName()));
        ArrayNode ca = params.putArray("cpus");
        cpus.forEach(ca::add);
        ArrayNode ma = params.putArray("mixes");
        mixList.forEach(m -> ma.add(m.cliName()));
        params.put("faults", faults);
        params.put("vmas", vmas);
        params.put("line_transfer", lineTransfer);
        params.put("clear_page", clearPage);
        params.put("seed", seed);
        params.put("cycles_per_second", (long) FaultLockingExperiment.CYCLES_PER_SECOND);
        ArrayNode ra = o.putArray("rows");
        for (Row r : rows) {
            ra.add(Json.mapper().valueToTree(FaultLockingReport.columns(rows, r)));
        }
        if (!searches.isEmpty()) {
            ArrayNode ea = o.putArray("explore");
            for (Search s : searches) {
                ObjectNode e = ea.addObject();
                e.put("scenario", s.scenario());
                e.put("path", s.path());
                e.put("strategy", s.strategy());
                e.put("schedules", s.schedules());
                e.put("violation", s.violation());
            }
        }
        return o;
    }
}
