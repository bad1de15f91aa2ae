package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.PagingMode;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Task;

/**
 * Issue 16 item 1: the syncs walk, lock and skip as Linux v6.6 does (arch/x86/mm/fault.c
 * arch_sync_kernel_mappings on x86-32, arch/x86/mm/init_64.c sync_global_pgds_l4 on x86-64,
 * mm/vmalloc.c vmap_range_noflush). Each test fails on the model before the fix, which walked
 * only [start, end) under one pgd_lock hold, took no page_table_lock, never skipped, and did not
 * sync after a failed mapping.
 */
class KernelMappingSyncFidelityTest {

    private static Kernel kernel(PagingMode mode, VmallocSyncStrategy s) {
        return new Kernel(mode, s.configure(mode, KernelConfig.defaults().withRam(256L << 20)));
    }

    private static List<Task> processes(Kernel k, int n) {
        List<Task> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(k.createProcess());
        }
        return out;
    }

    /** x86-32 arch_sync_kernel_mappings: every pmd from start &amp; PMD_MASK up to VMALLOC_END, one pgd_lock hold each. */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32", "X86_32_PAE"})
    void x86_32TrackedMaskWalksEveryPmdUpToVmallocEndWithPgdLockPerPmdAndPageTableLockPerMm(PagingMode mode) {
        Kernel k = kernel(mode, new TrackedMask());
        Vmalloc v = new Vmalloc(k, new TrackedMask());
        List<Task> tasks = processes(k, 5);
        KernelMappingSync s = v.sync();
        long va = v.vmalloc(k.cpu(0), 4096);                     // populates a new pmd: the sync bit
        long pmds = (k.layout().vmallocEnd() - (va & -s.span())) / s.span() + 1;   // addr < VMALLOC_END: a partial last pmd too
        assertTrue(pmds > 100, "the vmalloc area spans " + pmds + " pmds");
        assertEquals(1, s.fullSyncs());
        assertEquals(pmds, s.listWalks(), "one pgd_list walk per pmd up to VMALLOC_END, not only the range's one");
        assertEquals(pmds * (1 + tasks.size()), s.lockPairs(), "pgd_lock per pmd, each mm's page_table_lock per visit");
        assertEquals(tasks.size(), s.entriesCopied(), "only the new pmd is copied: the others are none in init_mm too");
        for (Task t : tasks) {
            assertTrue(s.inSync(t.mm(), va));
        }
    }

    /** x86-64 sync_global_pgds: entries none in init_mm are skipped before pgd_lock; pgd_lock per PGDIR step. */
    @Test
    void x86_64SyncGlobalPgdsSkipsEntriesInitMmLacksAndLocksPerEntry() {
        Kernel k = kernel(PagingMode.X86_64, new TrackedMask());
        Vmalloc v = new Vmalloc(k, new TrackedMask());
        List<Task> tasks = processes(k, 3);
        KernelMappingSync s = v.sync();
        long va = v.vmalloc(k.cpu(0), 4096);
        assertEquals(1, s.listWalks(), "one p4d entry populated: one walk");
        assertEquals(1 + tasks.size(), s.lockPairs());
        long walks = s.listWalks();
        long start = va & -s.span();
        s.syncRange(start, start + 4 * s.span());                // the populated entry and three none ones
        assertEquals(walks + 1, s.listWalks(), "the three entries init_mm lacks take no pgd_lock");
    }

    /**
     * mm/vmalloc.c vmap_range_noflush: "if (mask &amp; ARCH_PAGE_TABLE_SYNC_MASK)
     * arch_sync_kernel_mappings(start, end); return err;" - a mapping that fails after populating
     * a new pmd still syncs it. An ioremap over two new pmds on PAE, with one free frame: the
     * first pte table is allocated, the second is not.
     */
    @Test
    void aMappingThatFailsAfterPopulatingANewPmdIsStillSynced() {
        Kernel k = kernel(PagingMode.X86_32_PAE, new TrackedMask());
        Vmalloc v = new Vmalloc(k, new TrackedMask());
        Task old = k.createProcess();
        KernelMappingSync s = v.sync();
        List<Long> hog = new ArrayList<>();
        for (long f; (f = k.allocator().allocFrame(0, FrameUse.KERNEL)) >= 0; ) {
            hog.add(f);
        }
        k.allocator().freeFrame(hog.remove(hog.size() - 1));      // exactly one frame left: one pte table
        long failures = v.allocFailures();
        long va = v.ioremap(k.cpu(0), 0xF_0000_0000L, 2 * s.span());
        assertEquals(0, va, "the second pte table cannot be allocated");
        assertEquals(failures + 1, v.allocFailures());
        assertEquals(1, s.fullSyncs(), "synced although vmap_range_noflush returns -ENOMEM");
        assertEquals(1, s.entriesCopied(), "the pmd populated before the failure reached the older process");
        assertEquals(1, s.generation());
        assertTrue(s.inSync(old.mm(), s.populatedEntry(0)));
        assertFalse(s.populatedInInitMm(s.populatedEntry(0) + s.span()));
    }

    /**
     * switch-check's update of the mms loaded on other CPUs is an IPI to each of them whose
     * handler catches up the mm that CPU has loaded - not the sender rewriting them - so a timed
     * run can charge the handler to the target and make the sender wait (issue 10).
     */
    @Test
    void switchCheckUpdatesOtherCpusLoadedMmsFromTheirOwnIpiHandler() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(256L << 20).withCpus(3));
        Vmalloc v = new Vmalloc(k, new SwitchCheck());
        List<Task> tasks = processes(k, 3);
        for (int c = 0; c < 3; c++) {
            v.switchTo(k.cpu(c), tasks.get(c));
        }
        KernelMappingSync s = v.sync();
        List<Integer> targets = new ArrayList<>();
        long[] va = new long[1];
        s.setCrossCall((target, fn) -> {
            targets.add(target.id());
            assertFalse(s.inSync(target.loadedMm(), k.layout().vmallocStart()), "not yet: the handler does it");
            fn.run();
            assertTrue(s.inSync(target.loadedMm(), k.layout().vmallocStart()), "the target's own loaded mm");
        });
        va[0] = v.vmalloc(k.cpu(0), 4096);
        assertEquals(List.of(1, 2), targets, "one IPI to each other CPU");
        assertEquals(2, s.ipis());
        assertTrue(s.inSync(tasks.get(0).mm(), va[0]), "the sender's own mm directly");
    }

    /**
     * x86-32 arch_sync_kernel_mappings() from PAGE_OFFSET itself: "addr >= TASK_SIZE_MAX" lets
     * the first kernel pmd in (TASK_SIZE_MAX is PAGE_OFFSET), so every pmd from there up to
     * VMALLOC_END is walked.
     */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32", "X86_32_PAE"})
    void x86_32ArchSyncFromPageOffsetWalksFromTheFirstKernelPmd(PagingMode mode) {
        Kernel k = kernel(mode, new TrackedMask());
        KernelMappingSync s = new Vmalloc(k, new TrackedMask()).sync();
        processes(k, 2);
        long pageOffset = k.layout().pageOffset();
        s.archSyncKernelMappings(pageOffset, pageOffset + 4096);
        long pmds = (k.layout().vmallocEnd() - pageOffset) / s.span() + 1;
        assertEquals(pmds, s.listWalks());
        assertEquals(pmds * 2, s.mmsWalked(), "each walk visits both listed mms");
        assertEquals(1, s.fullSyncs());
    }

    /** eager-walk: after a vmalloc every older process can use the new mapping, in every paging mode. */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void eagerWalkBringsEveryOlderProcessUpToDateInEveryMode(PagingMode mode) {
        Kernel k = kernel(mode, new EagerWalk());
        Vmalloc v = new Vmalloc(k, new EagerWalk());
        List<Task> tasks = processes(k, 3);
        KernelMappingSync s = v.sync();
        long va = v.vmalloc(k.cpu(0), 4096);
        assertEquals(3, s.entriesCopied());
        for (Task t : tasks) {
            assertTrue(s.inSync(t.mm(), va), mode.toString());
            assertEquals(v.find(va).pages()[0], k.lookup(t.mm(), va), mode.toString());
        }
        assertEquals(s.listWalks() * 3, s.mmsWalked());
    }

    /** The walk observer (the timed run's pgd_lock hold time) is told when every pgd_list walk begins and ends. */
    @Test
    void theWalkObserverSeesEveryPgdListWalkBeginAndEnd() {
        Kernel k = kernel(PagingMode.X86_32_PAE, new TrackedMask());
        Vmalloc v = new Vmalloc(k, new TrackedMask());
        processes(k, 2);
        KernelMappingSync s = v.sync();
        int[] open = new int[1];
        long[] begun = new long[1];
        long[] ended = new long[1];
        s.setWalkObserver(new KernelMappingSync.WalkObserver() {
            @Override
            public void walkBegin() {
                assertEquals(0, open[0], "walks do not nest");
                open[0]++;
                begun[0]++;
            }

            @Override
            public void walkEnd() {
                open[0]--;
                ended[0]++;
            }
        });
        v.vmalloc(k.cpu(0), 4096);
        assertTrue(s.listWalks() > 1);
        assertEquals(s.listWalks(), begun[0]);
        assertEquals(s.listWalks(), ended[0]);
    }

    /** Without a timed run's cross call, smp_call_function_single runs the handler at once: other CPUs' loaded mms are updated. */
    @Test
    void switchCheckWithTheDefaultCrossCallUpdatesTheOtherCpusLoadedMm() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(256L << 20).withCpus(2));
        Vmalloc v = new Vmalloc(k, new SwitchCheck());
        List<Task> tasks = processes(k, 2);
        v.switchTo(k.cpu(0), tasks.get(0));
        v.switchTo(k.cpu(1), tasks.get(1));
        KernelMappingSync s = v.sync();
        long va = v.vmalloc(k.cpu(0), 4096);
        assertEquals(1, s.ipis());
        assertTrue(s.inSync(tasks.get(1).mm(), va), "CPU 1's handler caught up its loaded mm");
        assertEquals(s.generation(), tasks.get(1).mm().kernelSyncGen);
    }
}
