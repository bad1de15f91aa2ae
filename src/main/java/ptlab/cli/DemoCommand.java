package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import ptlab.hw.AccessType;
import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.report.VmallocSyncReport;
import ptlab.engine.CostTable;
import ptlab.engine.Explorer;
import ptlab.engine.Scenario;
import ptlab.report.Provenance;
import ptlab.report.ReportInputs;
import ptlab.tools.Scenarios;
import ptlab.tools.MmuProbe;
import ptlab.study.vmallocsync.VmallocSyncExperiment;
import ptlab.tools.ProcessDemo;
import ptlab.tools.TlbDemo;

/** {@code ptlab demo}: the tour. Grows with each study. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Runs each part of ptlab at a small scale and prints what it shows (about a minute).",
        footer = {"", "Example:", "  ptlab demo"})
public final class DemoCommand implements Callable<Integer> {

    @Option(names = "--format", defaultValue = "text", description = "text only: the tour is for reading; each "
            + "part's own command prints JSON (mmu probe, layout, explore, experiment vmalloc-sync --format json) "
            + "(default: ${DEFAULT-VALUE})")
    OutputFormat format;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "ptlab-demo",
            description = "where the demo's results, schedule and HTML report go (default: ${DEFAULT-VALUE})")
    Path outDir;

    /** The explore run of section 6: study 1's race, found in well under a second. */
    static final String DEMO_SCENARIO = "vmalloc-sync-race";

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (format != OutputFormat.text) {
            throw new UsageException("demo prints a text tour only; for JSON run its parts: mmu probe, layout, "
                    + "explore, experiment vmalloc-sync --format json");
        }
        PrintWriter out = spec.commandLine().getOut();
        CliFiles.writableDir(outDir, "--out");   // before the tour: the report must have a place to go
        out.println("== 1. Page walks in the four x86 paging modes (SDM vol. 3, ch. 4)");
        out.println("   One user page mapped read-write; each row is one access through a fresh walk.");
        out.println();
        out.printf("   %-12s %-7s %-6s %-44s %s%n", "arch", "access", "mode", "outcome", "A bits after (top..leaf), D");
        for (PagingMode mode : PagingMode.values()) {
            for (Object[] c : List.<Object[]>of(
                    new Object[] {AccessType.READ, true, true},
                    new Object[] {AccessType.WRITE, true, true},
                    new Object[] {AccessType.WRITE, true, false},
                    new Object[] {AccessType.FETCH, false, true})) {
                AccessType access = (AccessType) c[0];
                boolean user = (Boolean) c[1];
                boolean leafWritable = (Boolean) c[2];
                MmuProbe.Result r = MmuProbe.run(request(mode, access, user, leafWritable));
                String outcome = r.fault()
                        ? String.format("#PF err=0x%02x %s", r.errorCode(), PageFaultError.describe(r.errorCode()))
                        : String.format("pa=0x%x (%s page)", r.pa(), MmuCommand.sizeName(r.pageSize()));
                out.printf("   %-12s %-7s %-6s %-44s %s D=%d%n", mode.cliName(),
                        access.name().toLowerCase() + (leafWritable ? "" : "*"), user ? "user" : "kernel",
                        outcome, java.util.Arrays.toString(r.accessed()), r.dirty());
            }
        }
        out.println();
        out.println("   * leaf mapped read-only: the write faults with P=1 and sets neither A nor D.");
        out.println("   A kernel fetch from a user page faults only with SMEP; try `ptlab mmu probe --help`.");
        out.println();
        printTlbSection(out);
        out.println();
        printProcessSection(out);
        out.println();
        printVmallocSyncSection(out);
        out.println();
        printRelocationSection(out);
        out.println();
        printExploreSection(out);
        out.println();
        printFaultLockingSection(out);
        out.println();
        Path report = ReportCommand.write(ReportInputs.scan(List.of(outDir)), outDir);
        out.println("== Report");
        out.println("   report: " + report);
        out.println("   Open it in a browser (it is one self-contained file), or step through the schedule of");
        out.println("   section 6 and try the translation explorer in the viewer: ptlab serve --data " + outDir);
        out.flush();
        return Ptlab.EXIT_OK;
    }

    /** Section 5: the explorer finds study 1's race and saves the schedule the viewer steps through. */
    private void printExploreSection(PrintWriter out) throws IOException {
        out.println("== 6. Finding a race by exploring interleavings (ptlab explore " + DEMO_SCENARIO + ")");
        Scenario sc = Scenarios.byName(DEMO_SCENARIO);
        Scenario.Variant v = sc.variant(null);
        out.println("   " + sc.description());
        Explorer.Settings settings = new Explorer.Settings("random", 1, 1000, 2, 100_000, 0, 1);
        Explorer.Summary s = Explorer.explore(sc, v.name(), settings, () -> false, null);
        out.printf("   variant %s: %d schedules, %d steps%n", v.name(), s.schedules(), s.steps());
        ObjectNode meta = Provenance.of("ptlab explore " + DEMO_SCENARIO + " --variant " + v.name()
                + " --schedules 1000 --seed 1", 1).producedBy("ptlab demo").toJson(Json.mapper());
        Path saved = null;
        if (s.schedule() != null) {
            saved = outDir.resolve("schedule-" + DEMO_SCENARIO + ".json");
            s.schedule().save(saved, meta);
            out.println("   violation: " + s.violation().describe());
            out.printf("   shrunk to %d steps with %d preemption(s); replay it: ptlab replay %s%n",
                    s.schedule().steps(), s.schedule().preemptions(), saved);
        } else {
            out.println("   no violation found");
        }
        ObjectNode summary = ExploreCommand.toJson(s, settings, sc.mode(v.name()), saved);
        summary.set("meta", meta);
        Files.writeString(outDir.resolve("explore-" + DEMO_SCENARIO + ".json"), Json.writePretty(summary) + "\n");
    }

    /** Study 1's demo rows as the DESIGN.md JSON that experiment --out writes, for the report. */
    private void writeVmallocSyncJson(PagingMode mode, VmallocSyncExperiment.Params p, List<VmallocSyncReport.Entry> entries)
            throws IOException {
        ObjectNode o = Json.object();
        o.put("experiment", "vmalloc-sync");
        o.put("arch", mode.cliName());
        ObjectNode params = o.putObject("params");
        var names = params.putArray("strategies");
        VmallocSyncStrategy.all().forEach(st -> names.add(st.name()));
        params.putArray("procs").add(p.procs());
        params.put("vmallocs", p.vmallocOps());
        params.put("cpus", p.cpus());
        params.put("nmi_rate", p.nmiRate());
        params.put("seed", p.seed());
        params.put("ram", p.ramBytes());
        var rows = o.putArray("rows");
        entries.forEach(e -> rows.add(Json.mapper().valueToTree(VmallocSyncReport.jsonRow(e))));
        o.set("meta", Provenance.of("ptlab experiment vmalloc-sync --arch " + mode.cliName() + " --procs " + p.procs()
                + " --vmallocs " + p.vmallocOps() + " --cpus " + p.cpus() + " --seed " + p.seed(), p.seed())
                .producedBy("ptlab demo").toJson(Json.mapper()));
        Path dir = outDir.resolve("vmalloc-sync-" + mode.cliName());
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("vmalloc-sync.json"), Json.writePretty(o) + "\n");
    }

    private static void printTlbSection(PrintWriter out) {
        out.println("== 2. TLB behaviour (SDM vol. 3, 4.10)");
        out.println("   One user read of one page per row, on one CPU with a 64-entry 4-way TLB and");
        out.println("   paging-structure caches. The TLB is not coherent with memory: the kernel must INVLPG.");
        out.println();
        out.printf("   %-12s %-36s %-34s %5s %6s %9s%n", "arch", "step", "outcome", "hits", "misses", "walk refs");
        for (PagingMode mode : PagingMode.values()) {
            for (TlbDemo.Step s : TlbDemo.run(mode)) {
                String outcome = s.fault()
                        ? String.format("#PF err=0x%02x %s", s.errorCode(), PageFaultError.describe(s.errorCode()))
                        : String.format("pa=0x%x", s.pa());
                out.printf("   %-12s %-36s %-34s %5d %6d %9d%n", mode.cliName(), s.what(), outcome, s.hits(),
                        s.misses(), s.walkRefs());
            }
        }
        out.println();
        out.println("   The stale hit reads memory the kernel believes unmapped; INVLPG drops the entry and");
        out.println("   the paging-structure caches, so the next access walks and faults.");
    }

    private static MmuProbe.Request request(PagingMode mode, AccessType access, boolean user, boolean leafWritable) {
        long va = mode.isLongMode() ? 0x7f00_0020_1abcL : 0x0804_9abcL;
        List<MmuProbe.Entry> path = new java.util.ArrayList<>();
        for (int level = mode.levels(); level >= 1; level--) {
            boolean pdpte = mode.isPae() && level == 3;
            boolean rw = !pdpte && (level > 1 || leafWritable);
            path.add(new MmuProbe.Entry(true, rw, !pdpte, false, false, false, false, 0, false, false, false, List.of()));
        }
        MmuProbe.Cpu cpu = new MmuProbe.Cpu(true, mode.hasNx(), true, false, false, false, 0, false, null);
        return new MmuProbe.Request(mode, cpu, va, access, user, false, path);
    }

    private static void printProcessSection(PrintWriter out) {
        out.println("== 3. A process on the kernel model (mm/memory.c, kernel/fork.c, mm/mmap.c)");
        out.println("   The parent writes every page of a 1 MiB anonymous mapping, forks, the child writes");
        out.println("   page 0 on another CPU, the parent reads it, munmaps, and both exit.");
        out.println();
        out.printf("   %-12s %6s %8s %13s %10s %4s %11s %12s %6s%n", "arch", "faults", "pt pages",
                "fork: pt/user", "child sees", "COW", "parent sees", "munmap freed", "leaked");
        for (PagingMode mode : PagingMode.values()) {
            ProcessDemo.Result r = ProcessDemo.run(mode);
            out.printf("   %-12s %6d %8d %13s %10s %4d %11s %12d %6d%n", mode.cliName(), r.faults(),
                    r.userTablePages(), r.forkTablePages() + "/" + r.forkUserPages(),
                    String.format("0x%x", r.childSees()), r.cowCopies(), String.format("0x%x", r.parentSees()),
                    r.munmapFreedTables(), r.leakedFrames());
        }
        out.println();
        out.println("   fork copies page tables, not pages (user 0); the child's write copies one page, and the");
        out.println("   parent still reads its own 0x1000. munmap frees the page tables only after the TLB flush");
        out.println("   (mmu_gather); after exit every frame is back (leaked 0). `ptlab ptdump` shows the tables.");
    }

    /** Study 1 at a small scale: the same workload under every strategy, on PAE and on x86-64. */
    private void printVmallocSyncSection(PrintWriter out) throws IOException {
        out.println("== 4. Study 1: how new kernel mappings reach every page table (ptlab experiment vmalloc-sync)");
        out.println("   100 processes forking and exiting, 2000 vmalloc/vfree/ioremap operations, perf NMIs");
        out.println("   writing to a vmalloc buffer, 4 CPUs; latencies in model cycles (mails 000, 001, 003).");
        for (PagingMode mode : List.of(PagingMode.X86_32_PAE, PagingMode.X86_64)) {
            VmallocSyncExperiment.Params p = new VmallocSyncExperiment.Params(mode, 100, 2000, 4, 50, 1,
                    VmallocSyncExperiment.Params.defaultRam(mode));
            List<VmallocSyncReport.Entry> entries = VmallocSyncExperiment
                    .runAll(p, VmallocSyncStrategy.all(), CostTable.defaults()).stream()
                    .map(r -> new VmallocSyncReport.Entry(p.procs(), r)).toList();
            writeVmallocSyncJson(mode, p, entries);
            out.println();
            out.println("   " + mode.cliName() + ":");
            String syncLevel = VmallocSyncReport.syncLevelName(mode);
            VmallocSyncReport.table(entries, syncLevel).lines().forEach(l -> out.println("   " + l));
        }
        out.println();
        out.println("   eager-walk copies an entry into every process at each vmalloc (its cost grows with the");
        out.println("   number of processes); lazy-fault copies on demand and takes faults, some inside NMIs,");
        out.println("   whose IRET reopens NMIs (mail 003); preallocate pays its page tables once at boot (the");
        out.println("   256 KiB of mail 001 on x86-64); broken-no-sync is caught by the invariant checker.");
        out.println("   Full scale and plots: ptlab experiment vmalloc-sync --arch x86-64 --procs 10000 --out DIR");
    }

    /** Study 2 at a small scale: naive's lost dirty bit found and replayed, then when moving the tables pays. */
    private static void printRelocationSection(PrintWriter out) {
        out.println("== 5. Study 2: moving live page-table pages to another NUMA node (ptlab experiment relocation)");
        out.println("   A thread writes through a translation its TLB cached clean while a kernel thread moves its");
        out.println("   pte page to node 1 with the naive protocol: copy, switch the pmd, flush, free (mail 002).");
        ptlab.engine.Scenario sc = ptlab.tools.Scenarios.byName("relocation-dirty");
        ptlab.engine.Explorer.Summary s = ptlab.engine.Explorer.explore(sc, "naive",
                ptlab.engine.Explorer.Settings.of("random", 42, 10_000, 2), () -> false, null);
        out.println();
        if (s.violation() == null) {
            out.println("   not found in " + s.schedules() + " schedules");
            return;
        }
        out.printf("   ptlab explore relocation-dirty --variant naive --seed 42: found after %d schedule(s)%n", s.schedules());
        ptlab.engine.TraceRecorder trace = new ptlab.engine.TraceRecorder();
        ptlab.engine.Explorer.replay(sc, "naive", s.schedule().choices(), ptlab.engine.Explorer.DEFAULT_MAX_STEPS, trace);
        out.println("   ptlab replay of it, the steps that matter:");
        for (ptlab.engine.TraceRecorder.Line l : trace.lines()) {
            String t = l.text();
            if (t.contains("copies pte page") || l.op().equals("walk-cas") || t.contains("pmd 0x") && l.op().equals("store")
                    || t.contains("frees pte page") || l.op().equals("ipi-send")) {
                out.println("   " + l.format());
            }
        }
        out.println("   => " + s.violation().describe());
        out.println();
        out.println("   The walker's D landed in the old copy after the copy was taken; the old page was then");
        out.println("   freed. safe merges A/D from the old copy after the flush, safe-stall clears the pmd first");
        out.println("   (walkers fault and wait), replicate keeps every copy and ORs A/D: none loses a bit.");
        out.println();
        out.println("   x86-64, 4 CPUs on 2 nodes (SLIT 10/21), threads on node 1, tables moved from node 0:");
        java.util.List<String> protocols = java.util.List.of("safe", "replicate");
        for (ptlab.study.relocation.RelocationExperiment.Workload w
                : ptlab.study.relocation.RelocationExperiment.Workload.values()) {
            var p = new ptlab.study.relocation.RelocationExperiment.Params(PagingMode.X86_64, 4, 2, w, 512, 2000, 21, 1,
                    null, 0);
            var rows = ptlab.study.relocation.RelocationExperiment.run(p, protocols, CostTable.defaults(), () -> false,
                    x -> { });
            out.println();
            out.println("   " + w.name().toLowerCase() + ":");
            ptlab.report.RelocationReport.table(rows).lines().forEach(l -> out.println("   " + l));
        }
        out.println();
        out.println("   GUPS misses the TLB on nearly every access: walk cycles per miss drop by the distance");
        out.println("   ratio (2.1) once the tables are local; a scan misses once per 64 accesses and barely");
        out.println("   changes. With threads on both nodes only replication helps, for the price of its copies.");
        out.println("   Full scale and plot: ptlab experiment relocation --arch x86-64 --out DIR");
    }

    /** Study 3 at a small scale: the four correct fault paths, writer-heavy, and one race found. */
    private static void printFaultLockingSection(PrintWriter out) {
        out.println("== 7. Study 3: page faults without the mmap lock (ptlab experiment fault-locking)");
        out.println("   Threads of one process fault on fresh memory while every fourth thread mmaps/munmaps,");
        out.println("   mprotects or brks other vmas (writer-heavy); x86-64, 32 faults per thread (mail 004).");
        out.println();
        List<ptlab.study.faultlocking.FaultLockingExperiment.Row> rows = new java.util.ArrayList<>();
        for (String path : FaultLockingCommand.DEFAULT_PATHS) {
            for (int cpus : new int[] {1, 4, 16}) {
                rows.add(ptlab.study.faultlocking.FaultLockingExperiment.run(
                        new ptlab.study.faultlocking.FaultLockingExperiment.Params(PagingMode.X86_64,
                                ptlab.study.faultlocking.Mix.WRITER_HEAVY, 32, 200, 400, 0, 1),
                        ptlab.kernel.FaultLocking.byName(path), cpus));
            }
        }
        ptlab.report.FaultLockingReport.table(rows).lines().forEach(l -> out.println("   " + l));
        ptlab.engine.Scenario sc = ptlab.tools.Scenarios.byName("fork-vs-vma-fault");
        ptlab.engine.Explorer.Summary s = ptlab.engine.Explorer.explore(sc, "per-vma-fork-unlocked",
                ptlab.engine.Explorer.Settings.of("pct", 42, 20_000, 3), () -> false, null);
        out.println();
        out.printf("   explore fork-vs-vma-fault --variant per-vma-fork-unlocked (pct): after %d schedules:%n",
                s.schedules());
        out.println("     " + (s.violation() == null ? "no violation" : s.violation().message()));
        out.println();
        out.println("   Writers hold mmap_lock for write: mmap-lock faults wait for them, speculative faults see the");
        out.println("   mm's sequence count change and fall back; per-vma faults take their own vma's lock. The");
        out.println("   6.4 fork bug (a COW fault under a vma lock during fork) is found by the explorer above.");
        out.println("   Full scale and plot: ptlab experiment fault-locking --arch x86-64 --mix writer-heavy --out DIR");
    }
}
