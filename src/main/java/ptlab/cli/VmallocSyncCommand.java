package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
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
import ptlab.hw.PagingMode;
import ptlab.kernel.VmSplit;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.report.VmallocSyncReport;
import ptlab.report.VmallocSyncReport.Entry;
import ptlab.engine.CostTable;
import ptlab.study.vmallocsync.VmallocSyncExperiment;
import ptlab.study.vmallocsync.VmallocSyncExperiment.Params;

/**
 * {@code ptlab experiment vmalloc-sync}: study 1, every strategy on the same workload. Exit 1
 * when a strategy that claims to be correct broke an invariant, or when the deliberately broken
 * one was not caught.
 */
@Command(name = "vmalloc-sync", mixinStandardHelpOptions = true,
        description = "How new kernel mappings reach every process's page tables: runs the same fork/exit, "
                + "vmalloc/vfree/ioremap, NMI and context-switch workload under each strategy and compares syncs, "
                + "faults (in NMI too), latencies in model cycles, page-table memory and invariant violations.",
        footer = {"", "Exit code 1 when a correct strategy broke an invariant. The deliberately broken "
                + "broken-no-sync is expected to be caught; in a run too small to exercise it, a note on stderr says so "
                + "(exit 0).", "", "Examples:",
                "  ptlab experiment vmalloc-sync --arch x86-64 --procs 100 --vmallocs 2000",
                "  ptlab experiment vmalloc-sync --arch x86-32-pae --sweep procs=100,1000 --out results/",
                "  ptlab experiment vmalloc-sync --arch x86-64 --strategies lazy-fault,preallocate --format json"})
public final class VmallocSyncCommand implements Callable<Integer>, Ptlab.SizesTheRun {

    static final int DEFAULT_PROCS = 1000;
    /** One NMI per CPU every 100 model cycles: beyond that a run is NMIs only and never ends. */
    static final double MAX_NMI_RATE = 10_000;

    @Option(names = "--arch", description = "x86-32, x86-32-pae, x86-64 or x86-64-la57 (required unless --merge)")
    String arch;

    @Option(names = "--strategies", split = ",",
            description = "comma-separated subset of: lazy-fault, eager-walk, eager-generation, switch-check, "
                    + "tracked-mask, preallocate, shared-top, broken-no-sync (default: all)")
    List<String> strategies;

    @Option(names = "--procs", description = "processes (default: " + DEFAULT_PROCS + "); not with --sweep")
    Integer procs;

    @Option(names = "--vmallocs", defaultValue = "20000",
            description = "vmalloc/vfree/ioremap/iounmap operations per strategy (default: ${DEFAULT-VALUE})")
    int vmallocs;

    @Option(names = "--cpus", defaultValue = "4", description = "simulated CPUs (default: ${DEFAULT-VALUE})")
    int cpus;

    @Option(names = "--nmi-rate", defaultValue = "50",
            description = "NMIs per CPU per million model cycles, 0.." + MAX_NMI_RATE + " (default: ${DEFAULT-VALUE})")
    double nmiRate;

    @Option(names = "--seed", defaultValue = "1", description = "workload seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--ram", converter = SizeConverter.class,
            description = "simulated RAM (default: 2G on x86-64, 512M on x86-32)")
    Long ram;

    @Option(names = "--vmsplit", description = "x86-32 only: 3G (default), 2G or 1G of user space")
    String vmsplit;

    @Option(names = "--top-reserve", converter = SizeConverter.class,
            description = "x86-32 only: space kept above vmalloc for fixmap/pkmap/LDT/cpu entry area, as in "
                    + "ptlab layout (default: the kernel's own)")
    Long topReserve;

    @Option(names = "--sweep", description = "run several process counts instead of --procs, e.g. "
            + "procs=100,1000,10000 (each once)")
    String sweep;

    @Option(names = "--cost-table", description = "file of 'name = cycles' lines overriding the cost table")
    Path costTable;

    @Option(names = "--jobs", description = "strategies run in parallel threads (default: the number of processors)")
    Integer jobs;

    @Option(names = "--out", paramLabel = "DIR", description = "DIR for vmalloc-sync.csv, vmalloc-sync.json and PNG "
            + "plots; created if missing and checked writable before the run")
    Path out;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Option(names = "--shard", description = "K/N: run only the runs i (procs x strategy) with i mod N = K-1; "
            + "env/N or env: K from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm)")
    String shard;

    @Option(names = "--merge", arity = "1..*", paramLabel = "DIR|FILE",
            description = "merges the --out directories (or JSON files) of all shards of one sweep into the table, "
                    + "JSON, CSV and plots the unsharded run gives")
    List<Path> merge;

    @Spec
    CommandSpec spec;

    @Override
    public String sizingOptions() {
        return "--procs, --sweep, --vmallocs, --jobs";
    }

    @Override
    public Integer call() throws IOException {
        if (merge != null) {
            return VmallocSyncMerge.run(this);
        }
        if (arch == null) {
            throw new UsageException("--arch is required (x86-32, x86-32-pae, x86-64 or x86-64-la57)");
        }
        PagingMode mode = UsageException.userInput(() -> PagingMode.fromCliName(arch));
        ShardSpec part = ShardSpec.parse(shard, System.getenv());
        List<VmallocSyncStrategy> chosen = new ArrayList<>();
        for (String name : strategies == null ? List.<String>of() : strategies) {
            VmallocSyncStrategy s = UsageException.userInput(() -> VmallocSyncStrategy.byName(name.strip()));
            if (chosen.stream().anyMatch(c -> c.name().equals(s.name()))) {
                throw new UsageException("strategy '" + s.name() + "' named twice");
            }
            chosen.add(s);
        }
        if (chosen.isEmpty()) {
            chosen.addAll(VmallocSyncStrategy.all());
        }
        VmSplit split = null;
        if (vmsplit != null) {
            if (mode.isLongMode()) {
                throw new UsageException("--vmsplit applies to x86-32 and x86-32-pae only, not " + mode.cliName());
            }
            split = UsageException.userInput(() -> VmSplit.fromCliName(vmsplit));
        }
        if (topReserve != null && mode.isLongMode()) {
            throw new UsageException("--top-reserve applies to x86-32 and x86-32-pae only, not " + mode.cliName());
        }
        if (sweep != null && procs != null) {
            throw new UsageException("--procs and --sweep both give the process count; use one");
        }
        if (!(nmiRate >= 0 && nmiRate <= MAX_NMI_RATE)) {
            throw new UsageException("--nmi-rate must be in 0.." + (long) MAX_NMI_RATE + " NMIs per CPU per million "
                    + "cycles, got " + nmiRate);
        }
        List<Integer> procCounts = sweep == null ? List.of(procs == null ? DEFAULT_PROCS : procs) : parseSweep(sweep);
        CostTable costs = costTable == null ? CostTable.defaults() : loadCosts(costTable);
        long ramBytes = ram != null ? ram : Params.defaultRam(mode);
        LayoutCommand.pageMultiple(ramBytes, "--ram");
        int threads = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
        if (threads < 1) {
            throw new UsageException("--jobs must be at least 1, got " + threads);
        }
        List<Params> runs = new ArrayList<>();
        List<String> names = new ArrayList<>();
        List<Integer> runNumbers = new ArrayList<>();   // the run's place in the whole sweep (for --merge)
        int total = 0;
        for (int n : procCounts) {
            for (VmallocSyncStrategy s : chosen) {
                if (part.owns(total)) {
                    VmSplit sp = split;
                    runs.add(UsageException.userInput(() -> new Params(mode, n, vmallocs, cpus, nmiRate, seed, ramBytes,
                            sp, topReserve)));
                    names.add(s.name());
                    runNumbers.add(total);
                }
                total++;
            }
        }
        if (out != null) {
            CliFiles.writableDir(out, "--out");   // before the run: its results must have a place to go
        }
        String syncLevel = VmallocSyncReport.syncLevelName(mode);
        boolean progress = Terminal.stderrIsTerminal();
        PrintWriter pw = spec.commandLine().getOut();
        Entry[] finished = new Entry[runs.size()];
        Interrupt onCtrlC = new Interrupt(() -> {   // Ctrl-C: the finished rows, then exit 130
            if (progress) {
                System.err.printf("\r%-70s\r", "");
            }
            List<Entry> done = new ArrayList<>();
            synchronized (finished) {
                for (Entry e : finished) {
                    if (e != null) {
                        done.add(e);
                    }
                }
            }
            pw.printf("interrupted: %d of %d runs finished%s%n", done.size(), runs.size(),
                    done.isEmpty() ? "" : "; their rows:");
            if (!done.isEmpty()) {
                pw.print(VmallocSyncReport.table(done, syncLevel));
            }
            pw.flush();
        });
        long t0 = System.nanoTime();
        List<Entry> entries = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Entry>> futures = new ArrayList<>();
            for (int i = 0; i < runs.size(); i++) {
                Params p = runs.get(i);
                String name = names.get(i);
                int slot = i;
                // a fresh strategy per run: strategies keep state
                futures.add(pool.submit(() -> {
                    Entry e = new Entry(p.procs(), VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName(name), costs));
                    synchronized (finished) {
                        finished[slot] = e;
                    }
                    return e;
                }));
            }
            for (int i = 0; i < futures.size(); i++) {
                if (progress) {
                    System.err.printf("\r%-70s", "vmalloc-sync " + mode.cliName() + " procs=" + runs.get(i).procs()
                            + ": " + names.get(i) + " (" + (i + 1) + "/" + futures.size() + ")");
                    System.err.flush();
                }
                entries.add(futures.get(i).get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Error err) {        // OutOfMemoryError: Ptlab names --procs and the heap
                throw err;
            }
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            onCtrlC.disarm();
            pool.shutdownNow();
            if (progress) {
                System.err.printf("\r%-70s\r", "");
            }
        }
        ObjectNode json = toJson(mode, chosen, procCounts, ramBytes, costs, entries);
        ObjectNode meta = Meta.provenance(spec, seed).withShard(part.label()).toJson(Json.mapper());
        meta.put("total_runs", total);
        runNumbers.forEach(meta.putArray("runs")::add);
        json.set("meta", meta);
        if (format == OutputFormat.json) {
            pw.println(Json.writePretty(json));
        } else {
            if (part.count() > 1) {
                pw.printf("shard %s: %d of the sweep's %d runs; merge the shards with --merge%n", part.label(),
                        runs.size(), total);
            }
            pw.printf("vmalloc-sync on %s: %d vmalloc ops, %d CPUs, NMI rate %s/M cycles, seed %d; latencies in model "
                    + "cycles, sync level %s%n", mode.cliName(), vmallocs, cpus, fmt(nmiRate), seed, syncLevel);
            pw.print(VmallocSyncReport.table(entries, syncLevel));
            double ev = 0;
            double wall = 0;
            for (Entry e : entries) {
                ev += e.row().events();
                wall += e.row().wallSeconds();
            }
            pw.printf("simulator: %d events, %.1f s of run time over %d thread(s) (%.0f events/s per thread); "
                    + "%.1f s wall%n", (long) ev, wall, threads, wall > 0 ? ev / wall : 0, (System.nanoTime() - t0) / 1e9);
        }
        if (out != null) {
            writeOut(out, json, entries, pw);
        }
        pw.flush();
        return exitCode(entries, spec.commandLine().getErr());
    }

    /** Writes vmalloc-sync.csv, vmalloc-sync.json and the plots (all from {@code json}'s rows). */
    void writeOut(Path dir, ObjectNode json, List<Entry> entries, PrintWriter pw) throws IOException {
        CliFiles.writableDir(dir, "--out");
        VmallocSyncReport.write(dir.resolve("vmalloc-sync.csv"), VmallocSyncReport.csv(entries));
        VmallocSyncReport.write(dir.resolve("vmalloc-sync.json"), Json.writePretty(json) + "\n");
        List<com.fasterxml.jackson.databind.JsonNode> rows = new ArrayList<>();
        json.path("rows").forEach(rows::add);
        // every plot names the parameters it shows
        com.fasterxml.jackson.databind.JsonNode p = json.path("params");
        String title = "vmalloc-sync " + json.path("arch").asText() + ", " + p.path("vmallocs").asInt() + " vmallocs, "
                + p.path("cpus").asInt() + " CPUs, NMI " + fmt(p.path("nmi_rate").asDouble()) + "/M cycles, seed "
                + p.path("seed").asLong();
        List<Path> pngs = VmallocSyncReport.plots(rows, dir, title);
        if (format == OutputFormat.text) {
            pw.println("wrote " + dir.resolve("vmalloc-sync.csv") + ", " + dir.resolve("vmalloc-sync.json")
                    + ", " + pngs.size() + " plots");
        }
    }

    /** Exit 1 when a strategy that claims to be correct broke an invariant; each case named on stderr. */
    static int exitCode(List<Entry> entries, PrintWriter err) {
        int code = Ptlab.EXIT_OK;
        for (Entry e : entries) {
            if (violationFound(e.row().broken(), e.row().violations())) {
                err.println("ptlab experiment vmalloc-sync: " + e.row().strategy() + " (procs " + e.procs()
                        + ") broke an invariant " + e.row().violations() + " time(s); the first is listed under the table");
                code = Ptlab.EXIT_VIOLATION;
            } else if (e.row().broken() && e.row().violations() == 0) {
                err.println("ptlab experiment vmalloc-sync: note: " + e.row().strategy() + " (procs " + e.procs()
                        + ") was not caught because this run never touched a vmalloc mapping missing from a "
                        + "process's page tables: too small to exercise it (try --procs 100 --vmallocs 2000)");
            }
        }
        err.flush();
        return code;
    }

    /** Ctrl-C while the runs go on: the shutdown hook prints what finished (the JVM then exits 130). */
    private static final class Interrupt {
        private final Thread hook;

        Interrupt(Runnable onInterrupt) {
            hook = new Thread(onInterrupt, "ptlab-experiment-interrupt");
            Runtime.getRuntime().addShutdownHook(hook);
        }

        void disarm() {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running and prints the finished rows
            }
        }
    }

    /**
     * Exit 1 only for a correct strategy that broke an invariant. The deliberately broken one going
     * uncaught means the run never exercised it (the walker cannot miss a fault), which is a note.
     */
    static boolean violationFound(boolean broken, long violations) {
        return !broken && violations > 0;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    static List<Integer> parseSweep(String spec) {
        if (!spec.startsWith("procs=")) {
            throw new UsageException("--sweep must look like procs=100,1000,10000, got '" + spec + "'");
        }
        List<Integer> n = new ArrayList<>();
        for (String s : spec.substring("procs=".length()).split(",", -1)) {
            int v;
            try {
                v = Integer.parseInt(s.strip());
            } catch (NumberFormatException e) {
                throw new UsageException("--sweep: '" + s + "' is not a process count");
            }
            if (v < 1) {
                throw new UsageException("--sweep: process counts must be at least 1, got " + v);
            }
            if (n.contains(v)) {
                throw new UsageException("--sweep: procs=" + v + " given twice");
            }
            n.add(v);
        }
        return n;
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

    private ObjectNode toJson(PagingMode mode, List<VmallocSyncStrategy> chosen, List<Integer> procCounts,
                                     long ramBytes, CostTable costs, List<Entry> entries) {
        ObjectNode o = Json.object();
        o.put("experiment", "vmalloc-sync");
        o.put("arch", mode.cliName());
        ObjectNode params = o.putObject("params");
        ArrayNode st = params.putArray("strategies");
        chosen.forEach(s -> st.add(s.name()));
        ArrayNode pc = params.putArray("procs");
        procCounts.forEach(pc::add);
        params.put("vmallocs", vmallocs);
        params.put("cpus", cpus);
        params.put("nmi_rate", nmiRate);
        params.put("seed", seed);
        params.put("vmsplit", vmsplit == null ? null : vmsplit);
        return fill(o, params, ramBytes, costs, entries);
    }

    private static ObjectNode fill(ObjectNode o, ObjectNode params, long ramBytes, CostTable costs, List<Entry> entries) {
        params.put("ram", ramBytes);
        ObjectNode c = params.putObject("costs");
        costs.asMap().forEach(c::put);
        ArrayNode rows = o.putArray("rows");
        for (Entry e : entries) {
            rows.add(Json.mapper().valueToTree(VmallocSyncReport.jsonRow(e)));
        }
        return o;
    }
}
