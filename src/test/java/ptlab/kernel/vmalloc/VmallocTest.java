package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.PteBits;
import ptlab.hw.WalkResult;
import ptlab.kernel.Cpu;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;
import ptlab.kernel.VmSplit;

class VmallocTest {

    static Kernel kernel(PagingMode mode, VmallocSyncStrategy s) {
        return kernel(mode, s, ptlab.kernel.KernelVariant.CORRECT);
    }

    static Kernel kernel(PagingMode mode, VmallocSyncStrategy s, ptlab.kernel.KernelVariant variant) {
        return new Kernel(mode, s.configure(mode, KernelConfig.defaults().withRam(256L << 20)),
                ptlab.kernel.Interleaving.NONE, variant);
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void vmallocMapsEveryPageInInitMmAndVfreeUnmapsAndFreesThem(PagingMode mode) {
        Kernel k = kernel(mode, new EagerWalk());
        Vmalloc v = new Vmalloc(k, new EagerWalk());
        long before = k.allocator().inUse(FrameUse.KERNEL);
        long va = v.vmalloc(k.cpu(0), 5 * 4096 + 1);
        assertNotEquals(0, va);
        assertEquals(k.layout().vmallocStart() & -4096, va & -4096);
        Vmalloc.VmStruct vm = v.find(va);
        assertEquals(6, vm.pages().length);
        assertEquals(before + 6, k.allocator().inUse(FrameUse.KERNEL));
        for (int i = 0; i < 6; i++) {
            assertEquals(vm.pages()[i], k.lookup(k.initMm(), va + i * 4096L));
        }
        assertEquals(-1, k.lookup(k.initMm(), va + 6 * 4096L), "the guard page stays unmapped");
        long pte = k.leafEntry(k.initMm(), va);
        assertTrue((pte & PteBits.G) != 0 && (pte & PteBits.US) == 0 && (pte & PteBits.RW) != 0, "PAGE_KERNEL");
        v.vfree(k.cpu(0), va);
        assertEquals(-1, k.lookup(k.initMm(), va));
        assertEquals(before, k.allocator().inUse(FrameUse.KERNEL));
    }

    /**
     * sync_global_pgds reads one entry from every pgd on pgd_list, gathered 64 at a time when no
     * hook acts at an access, one by one when one does (the engine's scheduling points): both
     * must visit every listed pgd, holes skipped, copy the entry into each that lacks it, and
     * read as many entries.
     */
    @ParameterizedTest(name = "hook acts at each access {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void eagerWalkCopiesIntoEveryPgdOnTheListGatheredOrOneByOne(boolean actingHook) {
        Kernel k = kernel(PagingMode.X86_64, new EagerWalk());
        Vmalloc v = new Vmalloc(k, new EagerWalk());
        java.util.List<Task> tasks = new java.util.ArrayList<>();
        for (int i = 0; i < 150; i++) {
            tasks.add(k.createProcess());
        }
        for (int i = 149; i >= 0; i -= 5) {
            k.exit(tasks.remove(i));                             // holes; 120 left: 64 + 56
        }
        KernelMappingSync s = v.sync();
        long va = k.layout().vmallocStart();
        assertFalse(s.populatedInInitMm(va), "the first vmalloc populates a new sync-level entry");
        long[] loads = new long[1];
        k.memory().setAccessHook(new ptlab.hw.PhysicalMemory.AccessHook() {
            @Override
            public void beforeAccess(int op, long pa) {
                loads[0] += op == ptlab.hw.PhysicalMemory.OP_LOAD ? 1 : 0;
            }

            @Override
            public boolean onlyCounts() {
                return !actingHook;
            }

            @Override
            public void beforeAccesses(int op, int n) {
                loads[0] += op == ptlab.hw.PhysicalMemory.OP_LOAD ? n : 0;
            }
        });
        long copiedBefore = s.entriesCopied();
        long walksBefore = s.listWalks();
        s.syncRange(va, va + 4096);                              // nothing to copy yet: init_mm has none
        assertEquals(1, loads[0], "sync_global_pgds_l4 reads init_mm's entry, finds it none and skips it");
        assertEquals(walksBefore, s.listWalks(), "... without taking pgd_lock or walking pgd_list");
        assertEquals(0, s.entriesCopied() - copiedBefore);
        v.vmalloc(k.cpu(0), 4096);
        assertEquals(tasks.size(), s.entriesCopied() - copiedBefore, "one copy per listed pgd");
        for (Task t : tasks) {
            assertTrue(s.inSync(t.mm(), va));
        }
        loads[0] = 0;
        long pairs = s.lockPairs();
        s.syncRange(va, va + 4096);                              // everything in sync: a walk that copies nothing
        k.memory().setAccessHook(null);
        assertEquals(1L + tasks.size(), loads[0], "init_mm's entry once, then each listed pgd's entry once");
        assertEquals(1L + tasks.size(), s.lockPairs() - pairs, "pgd_lock once, each mm's page_table_lock once");
        assertEquals(tasks.size(), s.entriesCopied() - copiedBefore, "the second walk copied nothing");
        assertEquals(2L * tasks.size(), s.mmsWalked(), "two walks over the listed mms");
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void theHardwareWalkerSeesVmallocMemoryThroughAProcessPgd(PagingMode mode) {
        Kernel k = kernel(mode, new EagerWalk());
        Vmalloc v = new Vmalloc(k, new EagerWalk());
        Task t = k.createProcess();
        Cpu cpu = k.cpu(0);
        v.switchTo(cpu, t);
        long va = v.vmalloc(cpu, 4096);
        WalkResult w = new WalkResult();
        assertTrue(cpu.mmu().translate(va + 8, AccessType.WRITE, false, false, w), "supervisor write");
        assertEquals(v.find(va).pages()[0] + 8, w.pa);
        assertFalse(cpu.mmu().translate(va, AccessType.READ, true, false, w), "user access to kernel memory faults");
    }

    @ParameterizedTest(name = "skip flush {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void theLazyPurgeFlushKeepsAReusedRangeFromHittingAStaleGlobalTlbEntry(boolean skipFlush) {
        Kernel k = kernel(PagingMode.X86_64, new Preallocate(), skipFlush
                ? ptlab.kernel.KernelVariant.of(ptlab.kernel.KernelVariant.Bug.SKIP_FLUSH) : ptlab.kernel.KernelVariant.CORRECT);
        Vmalloc v = new Vmalloc(k, new Preallocate());
        Cpu cpu = k.cpu(1);
        WalkResult w = new WalkResult();
        long a = v.vmalloc(k.cpu(0), 4096);
        long oldFrame = v.find(a).pages()[0];
        assertTrue(cpu.mmu().translate(a, AccessType.READ, false, false, w));   // CPU1 caches the global entry
        v.vfree(k.cpu(0), a);
        long reused = k.allocator().allocFrame(0, FrameUse.KERNEL);             // someone else gets the old page
        assertEquals(oldFrame, reused);
        v.areas().purge();                                                      // the one batched flush
        long b = v.vmalloc(k.cpu(0), 4096);
        assertEquals(a, b, "the purged range is reused");
        assertNotEquals(oldFrame, v.find(b).pages()[0]);
        assertTrue(cpu.mmu().translate(b, AccessType.READ, false, false, w));
        if (skipFlush) {
            assertEquals(oldFrame, w.pa, "without the flush CPU1 still reads the freed page");
        } else {
            assertEquals(v.find(b).pages()[0], w.pa);
        }
    }

    @Test
    void ioremapUsesPudAndPmdLeavesOnX86_64() {
        Kernel k = kernel(PagingMode.X86_64, new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        long gib = 1L << 30;
        long va = v.ioremap(k.cpu(0), 1L << 40, gib + (2L << 20));
        assertEquals(0, va & (gib - 1), "aligned for a pud leaf");
        assertEquals(2, v.hugeMappings(), "one 1 GiB and one 2 MiB leaf");
        assertEquals((1L << 40) + 12345, k.lookup(k.initMm(), va + 12345));
        assertEquals((1L << 40) + gib + 4096, k.lookup(k.initMm(), va + gib + 4096));
        assertTrue((k.leafEntry(k.initMm(), va) & PteBits.PCD) != 0, "uncached");
        v.iounmap(k.cpu(0), va);
        assertEquals(-1, k.lookup(k.initMm(), va));
    }

    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32", "X86_32_PAE"})
    void x86_32GivesUpHugeIoremapBecauseItsPmdIsTheSyncLevel(PagingMode mode) {
        Kernel k = kernel(mode, new TrackedMask());
        Vmalloc v = new Vmalloc(k, new TrackedMask());
        long va = v.ioremap(k.cpu(0), 0xC000_0000L, 8L << 20);
        assertNotEquals(0, va);
        assertEquals(0, v.hugeMappings());
        int[] level = new int[1];
        k.pgtable().walk(k.initMm(), va, level);
        assertEquals(Pgtable.PTE, level[0]);
        assertEquals(0xC000_0000L + (5L << 20), k.lookup(k.initMm(), va + (5L << 20)));
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void pgtblModMaskHasTheSyncBitExactlyWhenASyncLevelEntryIsPopulated(PagingMode mode) {
        Kernel k = kernel(mode, new TrackedMask());
        Vmalloc v = new Vmalloc(k, new TrackedMask());
        KernelMappingSync s = v.sync();
        int g0 = s.generation();
        v.vmalloc(k.cpu(0), 4096);
        assertEquals(g0 + 1, s.generation(), "the first vmalloc populates one sync-level entry");
        v.vmalloc(k.cpu(0), 4096);
        assertEquals(g0 + 1, s.generation(), "the second lands under the same entry");
        assertEquals(1, s.fullSyncs(), "tracked-mask synced once");
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void populateReportsTheModifiedLevels(PagingMode mode) {
        Kernel k = kernel(mode, new Preallocate());
        Vmalloc v = new Vmalloc(k, new BrokenNoSync());
        long page = k.allocator().allocFrame(0, FrameUse.KERNEL);
        long va = k.layout().vmallocStart() + (16L << 20) & -(4L << 20);
        int first = v.populateOutsideVmalloc(k.cpu(0), va, new long[] {page});
        int second = v.populateOutsideVmalloc(k.cpu(0), va + 4096, new long[] {page});
        int syncBit = v.sync().archPageTableSyncMask();
        assertTrue((first & syncBit) != 0, "a new table under a none sync-level entry: " + first);
        assertTrue((first & (1 << Pgtable.PTE)) != 0);
        assertEquals(1 << Pgtable.PTE, second, "only a pte written the second time");
        assertEquals(page, k.lookup(k.initMm(), va + 4096));
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void lazyFaultCopiesTheEntryAnOlderProcessLacks(PagingMode mode) {
        Kernel k = kernel(mode, new LazyFault());
        Vmalloc v = new Vmalloc(k, new LazyFault());
        Task old = k.createProcess();
        long va = v.vmalloc(k.cpu(0), 4096);
        KernelMappingSync s = v.sync();
        assertFalse(s.inSync(old.mm(), va));
        assertTrue(v.kernelFault(old.mm(), va));
        assertTrue(s.inSync(old.mm(), va));
        assertEquals(1, s.vmallocFaults());
        assertFalse(v.kernelFault(old.mm(), va + (64L << 20) * 4), "no mapping there: a real oops");
        Task young = k.fork(old);
        assertTrue(s.inSync(young.mm(), va), "pgd_ctor copies init_mm's entries");
    }

    @Test
    void preallocateCostsWhatLayoutReportsOnX86_64() {
        Kernel k = kernel(PagingMode.X86_64, new Preallocate());
        Preallocate p = new Preallocate();
        new Vmalloc(k, p);
        assertEquals(256L << 10, p.bootTableBytes());
        assertEquals(k.layout().preallocBytes(), p.bootTableBytes());
    }

    @Test
    void preallocateOnPaeWithMail001sConfigurationCostsOnePtePagePerVmallocPmd() {
        KernelConfig cfg = KernelConfig.defaults().withRam(512L << 20).withVmSplit(VmSplit.VMSPLIT_1G);
        Preallocate p = new Preallocate();
        Kernel k = new Kernel(PagingMode.X86_32_PAE, p.configure(PagingMode.X86_32_PAE, cfg));
        new Vmalloc(k, p);
        KernelLayout l = k.layout();
        assertEquals(l.preallocBytes(), p.bootTableBytes());
        assertEquals(l.vmallocEntries() * 4096, p.bootTableBytes());
        // mail 001's 1272 uses an 8 MiB top reserve; the kernel's own derivation reserves a little more
        assertEquals(1272, KernelLayout.of(PagingMode.X86_32_PAE, VmSplit.VMSPLIT_1G, 512L << 20, 8L << 20).preallocPages());
        assertTrue(Math.abs(l.vmallocEntries() - 1272) <= 2, "got " + l.vmallocEntries());
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void sharedTopLimitsVmallocToOneTopLevelEntry(PagingMode mode) {
        SharedTop s = new SharedTop();
        Kernel k = kernel(mode, s);
        Vmalloc v = new Vmalloc(k, s);
        long limit = v.areas().end() - v.areas().start();
        if (mode == PagingMode.X86_32) {
            assertEquals(4L << 20, limit, "mail 003: 4 MB of vmalloc without PAE");
            assertEquals(0, v.vmalloc(k.cpu(0), 5L << 20));
            assertEquals(1, v.allocFailures());
        } else if (mode.isPae()) {
            assertTrue(k.arch().sharedKernelPmd());
            assertEquals(k.layout().vmallocSize(), limit);
        } else {
            assertEquals(mode.entrySpan(mode.levels()), limit);
        }
        Task t = k.createProcess();
        long va = v.vmalloc(k.cpu(0), 4096);
        assertTrue(v.sync().inSync(t.mm(), va), "nothing to sync: the entry is shared");
        assertEquals(k.lookup(k.initMm(), va), k.lookup(t.mm(), va));
    }

    /**
     * shared-top's vmalloc space is the first whole top-level entry inside VMALLOC_START ..
     * VMALLOC_END: aligned to the entry, not below the area, not one entry too far, and inside
     * the area on every layout (SharedTop.vmallocRange relies on that).
     */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32", "X86_64", "X86_64_LA57"})
    void sharedTopUsesTheFirstWholeTopLevelEntryOfTheVmallocArea(PagingMode mode) {
        long span = mode.entrySpan(mode.levels());
        VmSplit[] splits = mode.isLongMode() ? new VmSplit[] {null} : VmSplit.values();
        for (VmSplit split : splits) {
            for (long ram : new long[] {64L << 20, 256L << 20, 2L << 30}) {
                KernelLayout l = KernelLayout.of(mode, split, ram, null);
                long[] r = new SharedTop().vmallocRange(l);
                String what = mode + " " + split + " " + (ram >> 20) + " MiB";
                assertEquals(0, r[0] & (span - 1), what + ": entry aligned");
                assertTrue(Long.compareUnsigned(r[0], l.vmallocStart()) >= 0, what + ": not below VMALLOC_START");
                assertTrue(Long.compareUnsigned(r[0] - l.vmallocStart(), span) < 0, what + ": the first whole entry");
                assertEquals(span, r[1] - r[0], what);
                assertTrue(Long.compareUnsigned(r[1] - 1, l.vmallocEnd()) <= 0, what + ": inside VMALLOC_END");
            }
        }
    }

    /**
     * shared-top populates its one top-level entry at boot (one table: the next level's page),
     * before the first process, so pgd_ctor copies it into every pgd; on PAE the kernel pmds
     * themselves are shared (SHARED_KERNEL_PMD) and nothing is allocated.
     */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void sharedTopPopulatesItsEntryAtBootWithOneTableExceptOnPae(PagingMode mode) {
        SharedTop s = new SharedTop();
        Kernel k = kernel(mode, s);
        Vmalloc v = new Vmalloc(k, s);
        if (mode.isPae()) {
            assertEquals(0, s.bootTableBytes());
            assertEquals(0, v.sync().generation());
            return;
        }
        assertEquals(4096, s.bootTableBytes());
        assertTrue(v.sync().populatedInInitMm(v.areas().start()));
        assertEquals(1, v.sync().generation());
        Task t = k.createProcess();
        assertTrue(v.sync().inSync(t.mm(), v.areas().end() - 4096), "pgd_ctor copied the populated entry");
    }

    /** The frames a test leaves free: all others are taken (and kept) by the returned hog. */
    private static java.util.List<Long> leaveFree(Kernel k, int frames) {
        java.util.List<Long> hog = new java.util.ArrayList<>();
        for (long f; (f = k.allocator().allocFrame(0, FrameUse.KERNEL)) >= 0; ) {
            hog.add(f);
        }
        for (int i = 0; i < frames; i++) {
            k.allocator().freeFrame(hog.remove(hog.size() - 1));
        }
        return hog;
    }

    /** __vmalloc_area_node() failing half way: the pages it got go back, so does the address range (lazily). */
    @Test
    void aVmallocThatRunsOutOfFramesGivesBackThePagesItTookAndItsRange() {
        Kernel k = kernel(PagingMode.X86_64, new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        leaveFree(k, 2);
        long kernelFrames = k.allocator().inUse(FrameUse.KERNEL);
        assertEquals(0, v.vmalloc(k.cpu(0), 3 * 4096));
        assertEquals(1, v.allocFailures());
        assertEquals(kernelFrames, k.allocator().inUse(FrameUse.KERNEL), "the two pages it got were freed");
        assertEquals(0, v.areas().busyAreas());
        assertEquals(1, v.areas().lazyAreas(), "the range is freed, lazily: free_vmap_area()");
        assertEquals(0, v.liveAreas());
        assertEquals(0, v.pagesMapped());
    }

    /**
     * vmap_pages_range() failing with -ENOMEM for a page table: vmalloc unmaps what it mapped,
     * frees its pages and its range, and counts a failure; nothing stays mapped.
     */
    @Test
    void aVmallocWhosePageTableCannotBeAllocatedUnmapsAndFreesEverything() {
        Kernel k = kernel(PagingMode.X86_64, new LazyFault());
        Vmalloc v = new Vmalloc(k, new LazyFault());
        leaveFree(k, 2);                               // the page and the pud; no pmd
        long kernelFrames = k.allocator().inUse(FrameUse.KERNEL);
        long tables = k.allocator().inUse(FrameUse.PAGE_TABLE);
        long start = v.areas().start();
        assertEquals(0, v.vmalloc(k.cpu(0), 4096));
        assertEquals(1, v.allocFailures());
        assertEquals(kernelFrames, k.allocator().inUse(FrameUse.KERNEL), "the page was freed");
        assertEquals(tables + 1, k.allocator().inUse(FrameUse.PAGE_TABLE), "kernel tables are never freed");
        assertEquals(-1, k.lookup(k.initMm(), start));
        assertEquals(0, v.areas().busyAreas());
        assertEquals(1, v.areas().lazyAreas());
        assertNull(v.find(start));
    }

    /** vfree/vunmap/iounmap of an address that is not that kind of area is a bug, named with the call and address. */
    @Test
    void freeingAnAreaWithTheWrongCallIsRefusedNamingTheCall() {
        Kernel k = kernel(PagingMode.X86_64, new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        long page = k.allocator().allocFrame(0, FrameUse.KERNEL);
        long mapped = v.vmap(k.cpu(0), new long[] {page});
        long allocated = v.vmalloc(k.cpu(0), 4096);
        long io = v.ioremap(k.cpu(0), 1L << 40, 4096);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> v.vfree(k.cpu(0), mapped));
        assertEquals(String.format("vfree(0x%x): no such vmalloc area", mapped), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> v.vunmap(k.cpu(0), allocated));
        assertEquals(String.format("vunmap(0x%x): no such vmap area", allocated), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> v.iounmap(k.cpu(0), allocated));
        assertEquals(String.format("iounmap(0x%x): no such ioremap area", allocated), e.getMessage());
        assertEquals(3, v.liveAreas(), "nothing was removed");
        v.vunmap(k.cpu(0), mapped);
        assertEquals(FrameUse.KERNEL, k.allocator().useOf(page), "vunmap leaves the frame to its owner");
        assertEquals(-1, k.lookup(k.initMm(), mapped));
        v.vfree(k.cpu(0), allocated);
        v.iounmap(k.cpu(0), io);
        assertEquals(0, v.liveAreas());
        assertEquals(3, v.pagesMapped());
    }

    /** is_vmalloc_addr(): [start, end) of the range this layer allocates from, nothing either side. */
    @Test
    void isVmallocAddrIsTheAllocatorsRangeExactly() {
        Kernel k = kernel(PagingMode.X86_64, new LazyFault());
        Vmalloc v = new Vmalloc(k, new LazyFault());
        long start = v.areas().start();
        long end = v.areas().end();
        assertTrue(v.isVmallocAddr(start));
        assertTrue(v.isVmallocAddr(end - 1));
        assertFalse(v.isVmallocAddr(start - 1));
        assertFalse(v.isVmallocAddr(end));
    }

    /**
     * Only a fault of a process's mm on a vmalloc address is the strategy's: init_mm has every
     * kernel entry, and an address outside the vmalloc area is a real oops.
     */
    @Test
    void onlyAProcessFaultOnAVmallocAddressGoesToTheStrategy() {
        Kernel k = kernel(PagingMode.X86_64, new LazyFault());
        Vmalloc v = new Vmalloc(k, new LazyFault());
        Task old = k.createProcess();
        long va = v.vmalloc(k.cpu(0), 4096);
        assertFalse(v.kernelFault(k.initMm(), va), "init_mm");
        assertFalse(v.kernelFault(null, va), "no mm (a kernel thread with no borrowed mm)");
        assertEquals(0, v.sync().vmallocFaults());
        assertTrue(v.kernelFault(old.mm(), va));
        assertEquals(1, v.sync().vmallocFaults());
    }

    /**
     * switch-check's hook runs on a real switch_mm only: not when the task is already running on
     * that CPU (its loaded mm is kept current by the IPIs), and not for idle (no task, lazy TLB).
     */
    @Test
    void switchCheckRunsOnlyWhenAnotherTaskIsSwitchedIn() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(256L << 20).withCpus(2));
        Vmalloc v = new Vmalloc(k, new SwitchCheck());
        Task t = k.createProcess();
        v.switchTo(k.cpu(0), t);
        v.vmalloc(k.cpu(0), 4096);
        assertEquals(1, t.mm().kernelSyncGen);
        t.mm().kernelSyncGen = 0;                       // as if behind: only a real switch may catch it up
        v.switchMmHook(k.cpu(0), t);
        assertEquals(0, t.mm().kernelSyncGen, "already running here: no switch_mm");
        v.switchTo(k.cpu(0), null);                     // idle: nothing to bring up to date
        v.switchTo(k.cpu(1), t);
        assertEquals(1, t.mm().kernelSyncGen, "switched in on CPU 1: caught up");
    }

    /** Without X86_FEATURE_GBPAGES ioremap uses no pud leaf: 2 MiB pmd leaves only. */
    @Test
    void ioremapWithoutGbpagesUsesPmdLeavesOnly() {
        Preallocate s = new Preallocate();
        Kernel k = new Kernel(PagingMode.X86_64, s.configure(PagingMode.X86_64,
                KernelConfig.defaults().withRam(256L << 20).withGbpages(false)));
        Vmalloc v = new Vmalloc(k, s);
        long gib = 1L << 30;
        long va = v.ioremap(k.cpu(0), 1L << 40, gib);
        assertEquals(0, va & ((2L << 20) - 1), "aligned for a pmd leaf");
        assertEquals(512, v.hugeMappings());
        assertEquals((1L << 40) + gib - 1, k.lookup(k.initMm(), va + gib - 1));
        int[] level = new int[1];
        k.pgtable().walk(k.initMm(), va, level);
        assertEquals(Pgtable.PMD, level[0]);
    }

    /** ioremap of an unaligned physical address returns the address of that byte, and iounmap takes it back. */
    @Test
    void ioremapOfAnUnalignedAddressKeepsTheOffsetInThePage() {
        Kernel k = kernel(PagingMode.X86_64, new Preallocate());
        Vmalloc v = new Vmalloc(k, new Preallocate());
        long phys = 0xFED0_0123L;
        long va = v.ioremap(k.cpu(0), phys, 0x1000);       // crosses into a second page
        assertEquals(0x123, va & 0xFFF);
        assertEquals(phys, k.lookup(k.initMm(), va));
        assertEquals(phys + 0xFFF, k.lookup(k.initMm(), va + 0xFFF));
        assertEquals(2 * 4096, v.find(va & -4096).size());
        v.iounmap(k.cpu(0), va);
        assertEquals(-1, k.lookup(k.initMm(), va));
        assertEquals(0, v.liveAreas());
    }
}
