package ptlab.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

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

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (format != OutputFormat.text) {
            throw new UsageException("demo prints a text tour only; for JSON run its parts: mmu probe, layout, "
                    + "explore, experiment vmalloc-sync --format json");
        }
        PrintWriter out = spec.commandLine().getOut();
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
        return Ptlab.EXIT_OK;
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
    private static void printVmallocSyncSection(PrintWriter out) {
        out.println("== 4. Study 1: how new kernel mappings reach every page table (ptlab experiment vmalloc-sync)");
        out.println("   100 processes forking and exiting, 2000 vmalloc/vfree/ioremap operations, perf NMIs");
        out.println("   writing to a vmalloc buffer, 4 CPUs; latencies in model cycles (mails 000, 001, 003).");
        for (PagingMode mode : List.of(PagingMode.X86_32_PAE, PagingMode.X86_64)) {
            VmallocSyncExperiment.Params p = new VmallocSyncExperiment.Params(mode, 100, 2000, 4, 50, 1,
                    VmallocSyncExperiment.Params.defaultRam(mode));
            List<VmallocSyncReport.Entry> entries = VmallocSyncExperiment
                    .runAll(p, VmallocSyncStrategy.all(), CostTable.defaults()).stream()
                    .map(r -> new VmallocSyncReport.Entry(p.procs(), r)).toList();
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
}
