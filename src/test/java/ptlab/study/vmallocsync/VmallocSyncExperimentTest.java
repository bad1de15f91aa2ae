package ptlab.study.vmallocsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.EagerGeneration;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.engine.CostTable;
import ptlab.study.vmallocsync.VmallocSyncExperiment.Params;
import ptlab.study.vmallocsync.VmallocSyncExperiment.Row;

/** Issue 6, "What must come out": each assertion on a small run with a fixed seed (seconds). */
class VmallocSyncExperimentTest {

    static Params params(PagingMode mode, int procs, int ops) {
        return new Params(mode, procs, ops, 4, 100, 7, Params.defaultRam(mode));
    }

    static Map<String, Row> runAll(Params p) {
        Map<String, Row> rows = new HashMap<>();
        for (Row r : VmallocSyncExperiment.runAll(p, VmallocSyncStrategy.all(), CostTable.defaults())) {
            rows.put(r.strategy(), r);
        }
        return rows;
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void everyStrategyButTheBrokenOneKeepsInvariant4AndTheBrokenOneIsCaught(PagingMode mode) {
        Map<String, Row> rows = runAll(params(mode, 100, 1500));
        for (Row r : rows.values()) {
            if (r.broken()) {
                assertTrue(r.violations() > 0, r.strategy() + " must be caught");
                assertTrue(r.firstViolation().contains("oops") || r.firstViolation().contains("lacks"), r.firstViolation());
            } else {
                assertEquals(0, r.violations(), r.strategy() + ": " + r.firstViolation());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void lazyFaultHasTheCheapestVmallocAndFaultsAlsoInNmi(PagingMode mode) {
        Map<String, Row> rows = runAll(params(mode, 100, 1500));
        Row lazy = rows.get("lazy-fault");
        assertTrue(lazy.vmallocFaults() > 0);
        assertTrue(lazy.faultsInNmi() > 0, "NMIs touch vmalloc memory, so some faults are taken in NMI context");
        assertTrue(lazy.nestedNmiHazards() > 0 && lazy.nestedNmiHazards() <= lazy.faultsInNmi(),
                "a handler that faulted ran with NMIs open after the fault's IRET");
        assertTrue(lazy.nestedNmis() <= lazy.nestedNmiHazards(), "an NMI nests only inside an opened window");
        assertEquals(0, lazy.fullSyncs());
        for (String syncing : List.of("eager-walk", "eager-generation", "tracked-mask", "switch-check")) {
            Row r = rows.get(syncing);
            assertTrue(lazy.vmallocLatencyP50() <= r.vmallocLatencyP50(), syncing);
            // the workloads diverge a little (faults shift the CPUs' clocks), hence 2% slack;
            // eager-walk pays for a pgd_list walk on every vmalloc and must be clearly dearer
            double slack = syncing.equals("eager-walk") ? 1.0 : 1.02;
            assertTrue(lazy.vmallocLatency().getMean() < r.vmallocLatency().getMean() * slack,
                    syncing + ": " + lazy.vmallocLatency().getMean() + " vs " + r.vmallocLatency().getMean());
        }
        for (Row r : rows.values()) {
            // tracked-mask keeps x86-32's vmalloc_fault() for its race window (TrackedMask), rarely taken
            if (!r.strategy().equals("lazy-fault") && !r.strategy().equals("tracked-mask")) {
                assertEquals(0, r.faultsInNmi(), r.strategy());
                assertEquals(0, r.nestedNmiHazards(), r.strategy());
            }
        }
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void preallocateNeverFaultsNorSyncsAndCostsWhatLayoutReports(PagingMode mode) {
        Params p = params(mode, 100, 1500);
        Row r = VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName("preallocate"), CostTable.defaults());
        assertEquals(0, r.vmallocFaults());
        assertEquals(0, r.fullSyncs());
        assertEquals(0, r.entriesCopied());
        assertEquals(0, r.violations());
        KernelLayout l = KernelLayout.of(mode, null, p.ramBytes(), null);
        assertEquals(l.preallocBytes(), r.bootTableBytes());
        if (mode == PagingMode.X86_64) {
            assertEquals(256L << 10, r.bootTableBytes(), "mail 001: 256 KB on 4-level x86-64");
        }
    }

    @Test
    void preallocateOnPaeWithMail001sSplitAndRamReportsAPtePagePerVmallocPmd() {
        // Mail 001's machine: 1G split, 512 MiB of RAM, 8 MiB reserved at the top: 1536 kernel
        // pmds - 256 direct map - 4 hole - 4 top = 1272 vmalloc pmds, one pte page each.
        Params p = new Params(PagingMode.X86_32_PAE, 50, 500, 2, 100, 7, 512L << 20, ptlab.kernel.VmSplit.VMSPLIT_1G,
                8L << 20);
        Row r = VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName("preallocate"), CostTable.defaults());
        assertEquals(1272L * 4096, r.bootTableBytes());
        assertEquals(0, r.fullSyncs());
        assertEquals(0, r.vmallocFaults());
        assertEquals(0, r.violations());
        // With the kernel's own top reserve (10 MiB here) one pmd fewer is vmalloc.
        Params own = new Params(PagingMode.X86_32_PAE, 50, 500, 2, 100, 7, 512L << 20, ptlab.kernel.VmSplit.VMSPLIT_1G,
                null);
        Row o = VmallocSyncExperiment.run(own, VmallocSyncStrategy.byName("preallocate"), CostTable.defaults());
        KernelLayout l = KernelLayout.of(PagingMode.X86_32_PAE, ptlab.kernel.VmSplit.VMSPLIT_1G, 512L << 20, null);
        assertEquals(l.vmallocEntries() * 4096, o.bootTableBytes());
    }

    @Test
    void eagerWalkSyncCostGrowsLinearlyWithProcesses() {
        long[] procs = {500, 1000, 2000, 4000};
        double[] walk = new double[procs.length];
        long[] p50 = new long[procs.length];
        for (int i = 0; i < procs.length; i++) {
            Row r = VmallocSyncExperiment.run(params(PagingMode.X86_64, (int) procs[i], 600),
                    VmallocSyncStrategy.byName("eager-walk"), CostTable.defaults());
            assertTrue(r.fullSyncs() > 250, "a walk for every vmalloc");
            double perSync = (double) r.mmsWalked() / r.fullSyncs();
            // every pgd on pgd_list: the live processes plus dead ones a lazy CPU still holds
            assertTrue(perSync >= procs[i] * 0.9 && perSync <= procs[i] + 8, procs[i] + " -> " + perSync);
            walk[i] = (double) r.walkCycles() / r.fullSyncs();
            p50[i] = r.vmallocLatencyP50();
        }
        for (int i = 1; i < procs.length; i++) {
            double expect = (double) procs[i] / procs[0];
            assertEquals(expect, walk[i] / walk[0], expect * 0.1, "cycles of one pgd_list walk: " + Arrays.toString(walk));
            assertTrue(p50[i] > p50[i - 1], "vmalloc p50 grows with processes: " + Arrays.toString(p50));
        }
    }

    @Test
    void generationCounterFullSyncsNeverExceedThePopulatableTopLevelEntries() {
        Params p = params(PagingMode.X86_64, 100, 1500);
        Row r = VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName("eager-generation"), CostTable.defaults());
        KernelLayout l = KernelLayout.of(PagingMode.X86_64, null, p.ramBytes(), null);
        assertTrue(r.fullSyncs() >= 1 && r.fullSyncs() <= l.vmallocEntries(), "full syncs " + r.fullSyncs());
        assertEquals(0, r.violations());
    }

    @Test
    void generationCounterBoundHoldsWhenEveryVmallocPgdEntryGetsPopulated() {
        // 512 GiB ioremaps (1 GiB leaves, no memory behind them) fill the 32 TiB vmalloc area one
        // pgd entry at a time: the worst case for the generation counter.
        EagerGeneration g = new EagerGeneration();
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults());
        Vmalloc v = new Vmalloc(k, g);
        List<Task> procs = new java.util.ArrayList<>();
        procs.add(k.createProcess());
        for (int i = 0; i < 20; i++) {
            procs.add(k.fork(procs.get(i)));
        }
        long span = 512L << 30;
        int mapped = 0;
        while (v.ioremap(k.cpu(0), 1L << 40, span - (1L << 30)) != 0) {
            mapped++;
        }
        KernelLayout l = k.layout();
        assertEquals(l.vmallocEntries(), mapped, "one area per pgd entry until the area is full");
        assertEquals(l.vmallocEntries(), v.sync().generation());
        assertEquals(v.sync().generation(), v.sync().fullSyncs(), "one full sync per populated entry");
        assertTrue(v.sync().fullSyncs() <= l.kernelEntriesAtSyncLevel(), "mail 000: at most 255 times per boot");
        for (Task t : procs) {
            for (int i = 0; i < v.sync().generation(); i++) {
                assertTrue(v.sync().inSync(t.mm(), v.sync().populatedEntry(i)));
            }
        }
    }

    @Test
    void switchCheckChargesTheContextSwitchAndSharedTopReportsTheNonPaeLimit() {
        Map<String, Row> rows = runAll(params(PagingMode.X86_32, 100, 1500));
        assertTrue(rows.get("switch-check").switchOverhead() > 0);
        assertEquals(0, rows.get("eager-walk").switchOverhead());
        Row shared = rows.get("shared-top");
        assertEquals(4L << 20, shared.vmallocLimit());
        assertTrue(shared.vmallocFailures() > 0, "allocations beyond 4 MiB fail and are counted");
    }

    /**
     * Nested NMIs come from real nesting: with NMIs arriving far apart none can land in a
     * handler's window, with NMIs arriving back to back many do; no formula ties them to the
     * faults taken in NMI context.
     */
    @Test
    void nestedNmisAreCountedFromNMIsThatReallyArriveInsideTheWindow() {
        PagingMode mode = PagingMode.X86_64;
        Row sparse = VmallocSyncExperiment.run(new Params(mode, 50, 1500, 4, 1, 7, Params.defaultRam(mode)),
                VmallocSyncStrategy.byName("lazy-fault"), CostTable.defaults());
        Row dense = VmallocSyncExperiment.run(new Params(mode, 50, 1500, 4, 300, 7, Params.defaultRam(mode)),
                VmallocSyncStrategy.byName("lazy-fault"), CostTable.defaults());
        assertTrue(dense.faultsInNmi() > 0);
        assertTrue(dense.nestedNmis() > 0, "an NMI every ~3,300 cycles lands in some windows: " + dense.nestedNmis());
        assertEquals(0, sparse.nestedNmis(), "one NMI per million cycles never lands in a window of a few thousand");
    }

    /**
     * A failed vmalloc is a failure, not a 0-cycle latency (issue 10): shared-top on x86-32 has
     * 4 MiB of vmalloc space, so most allocations of this run fail; the latency histogram holds
     * exactly the ones that succeeded.
     */
    @Test
    void failedVmallocsAreCountedAndNotRecordedAsLatencies() {
        Params p = new Params(PagingMode.X86_32, 200, 3000, 4, 50, 3, Params.defaultRam(PagingMode.X86_32));
        Row r = VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName("shared-top"), CostTable.defaults());
        assertTrue(r.vmallocFailures() > r.vmallocAttempts() / 2, r.vmallocFailures() + " of " + r.vmallocAttempts());
        assertEquals(r.vmallocAttempts() - r.vmallocFailures(), r.vmallocLatency().getTotalCount());
        assertTrue(r.vmallocLatency().getMinValue() > 0);
    }

    /**
     * fork's pgd_lock hold is measured (pgd_ctor's copies under the lock), and on PAE a fork that
     * arrives while arch_sync_kernel_mappings() walks pmd after pmd waits for one pmd's walk:
     * the tracked-mask fork p99 stays far below its longest sync.
     */
    @Test
    void forkWaitsForOnePmdWalkNotForTheWholeArchSyncKernelMappings() {
        Row r = VmallocSyncExperiment.run(params(PagingMode.X86_32_PAE, 300, 3000),
                VmallocSyncStrategy.byName("tracked-mask"), CostTable.defaults());
        assertTrue(r.pgdListWalks() > 100 * r.fullSyncs(), "a walk per pmd up to VMALLOC_END: " + r.pgdListWalks());
        assertTrue(r.vmallocLatencyMax() > 10 * r.forkLatencyP99(),
                "vmalloc max " + r.vmallocLatencyMax() + " vs fork p99 " + r.forkLatencyP99());
        Row shared = VmallocSyncExperiment.run(params(PagingMode.X86_32_PAE, 300, 3000),
                VmallocSyncStrategy.byName("shared-top"), CostTable.defaults());
        assertTrue(r.forkLatencyP50() > shared.forkLatencyP50(),
                "unshared kernel pmds: pgd_ctor copies a pmd page per kernel PDPTE under pgd_lock");
    }

    @Test
    void sameSeedSameNumbers() {
        Params p = params(PagingMode.X86_32_PAE, 60, 800);
        Row a = VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName("tracked-mask"), CostTable.defaults());
        Row b = VmallocSyncExperiment.run(p, VmallocSyncStrategy.byName("tracked-mask"), CostTable.defaults());
        assertEquals(a.modelCycles(), b.modelCycles());
        assertEquals(a.entriesCopied(), b.entriesCopied());
        assertEquals(a.vmallocLatencyP99(), b.vmallocLatencyP99());
    }
}
