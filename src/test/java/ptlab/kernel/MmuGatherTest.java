package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;

/**
 * mmu_gather's flush structure as Linux v6.6 has it on x86: a flush at every vma boundary
 * (tlb_end_vma), chained page batches instead of a flush every 510 pages, the stride of the
 * smallest level cleared (tlb_get_unmap_shift), no flush when nothing was cleared, and a full
 * flush when another gather ran on the mm meanwhile (mm_tlb_flush_nested).
 */
class MmuGatherTest {

    /** One flush the gather sent. */
    record Flush(long start, long end, int stride, boolean freedTables) {
    }

    private final List<Flush> flushes = new ArrayList<>();
    private final List<String> events = new ArrayList<>();
    private boolean recording;

    /** This test's kernels report their gathers here (the kernel's own Interleaving hook). */
    private final Interleaving recorder = new Interleaving() {
        @Override
        public void gatherFlushed(MmStruct mm, long start, long end, int strideShift, boolean freedTables) {
            if (recording) {
                flushes.add(new Flush(start, end, strideShift, freedTables));
                events.add("flush");
            }
        }

        @Override
        public void pageFreed(long pa) {
            if (recording) {
                events.add("page");
            }
        }

        @Override
        public void tableFreed(long pa, int level) {
            if (recording) {
                events.add("table");
            }
        }
    };

    private void observe() {
        recording = true;
    }

    private static final long A = 0x4000_0000L;
    private static final int RW = PROT_READ | PROT_WRITE;
    private static final int FIXED = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

    private Kernel boot(boolean thp) {
        return new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(128L << 20).withCpus(2).withThp(thp),
                recorder, KernelVariant.CORRECT);
    }

    private static Task running(Kernel k) {
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        k.switchTo(k.cpu(1), k.cloneThread(t));
        return t;
    }

    private static void touch(Kernel k, long start, long len) {
        for (long off = 0; off < len; off += 4096) {
            assertTrue(k.writeUserLong(k.cpu(0), start + off, off + 1));
        }
    }

    /** Zap flushes only (free_pgtables' flush announces freed tables). */
    private List<Flush> zapFlushes() {
        return flushes.stream().filter(f -> !f.freedTables()).toList();
    }

    @Test
    void munmapAcrossTwoVmasFlushesAtEachVmaBoundary() {
        Kernel k = boot(false);
        Task t = running(k);
        assertEquals(A, k.mmap(t, A, 8192, RW, FIXED));
        assertEquals(A + 8192, k.mmap(t, A + 8192, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, FIXED));
        assertEquals(A + 16384, k.mmap(t, A + 16384, 4096, RW, FIXED));   // keeps the pte table
        touch(k, A, 16384);
        observe();
        assertEquals(0, k.munmap(t, A, 16384));
        assertEquals(List.of(new Flush(A, A + 8192, 12, false), new Flush(A + 8192, A + 16384, 12, false)), flushes,
                "one flush per vma, each over its own range");
        assertEquals("flush", events.get(0));
        assertEquals(List.of("flush", "flush", "page", "page", "page", "page"), events,
                "the pages are freed after both flushes, at tlb_finish_mmu");
    }

    @Test
    void pagesAreBatchedAcrossChainedBatchPagesNotFlushedEvery510() {
        Kernel k = boot(false);
        Task t = running(k);
        long len = 1200 * 4096L;                                 // > 2 batch pages, far below the 9,698 limit
        assertEquals(A, k.mmap(t, A, len, RW, FIXED));
        touch(k, A, len);
        observe();
        long ipis = k.cpu(1).ipisReceived();
        assertEquals(0, k.munmap(t, A, len));
        assertEquals(1, zapFlushes().size(), "one zap flush for 1,200 pages: " + flushes);
        assertEquals(2, k.cpu(1).ipisReceived() - ipis, "the zap flush and free_pgtables' flush");
        int firstFree = events.indexOf("page");
        assertEquals(1200, events.stream().filter("page"::equals).count());
        assertTrue(events.subList(0, firstFree).stream().allMatch("flush"::equals), "no page freed before the flushes");
    }

    @Test
    void anExhaustedBatchForcesAFlushMidway() {
        Kernel k = boot(false);
        Task t = running(k);
        int capacity = MmuGather.MMU_GATHER_BUNDLE + MmuGather.MAX_GATHER_BATCH_COUNT * MmuGather.MAX_GATHER_BATCH;
        assertEquals(9698, capacity);
        long len = (capacity + 100) * 4096L;
        assertEquals(A, k.mmap(t, A, len, RW, FIXED));
        touch(k, A, len);
        observe();
        assertEquals(0, k.munmap(t, A, len));
        List<Flush> zap = zapFlushes();
        assertEquals(2, zap.size(), "a forced flush when 19 batch pages are full, then tlb_end_vma's: " + flushes);
        int freedBeforeSecond = 0;
        for (String e : events.subList(0, events.lastIndexOf("flush"))) {
            freedBeforeSecond += e.equals("page") ? 1 : 0;
        }
        assertTrue(freedBeforeSecond >= capacity - 1, "the forced flush freed the full batch: " + freedBeforeSecond);
    }

    @Test
    void thpOnlyUnmapFlushesWithPmdStride() {
        Kernel k = boot(true);
        Task t = running(k);
        long huge = 2L << 20;
        assertEquals(A, k.mmap(t, A, 2 * huge, RW, FIXED));
        assertEquals(A + 2 * huge, k.mmap(t, A + 2 * huge, 4096, RW, FIXED));   // keeps the pmd table
        touch(k, A, 2 * huge);
        assertEquals(2, k.stats().thpFaultAlloc.get());
        observe();
        long pages = k.cpu(1).pageFlushes();
        long full = k.cpu(1).fullFlushes();
        assertEquals(0, k.munmap(t, A, 2 * huge));
        assertEquals(List.of(new Flush(A, A + 2 * huge, 21, false)), flushes, "only pmds cleared: PMD_SHIFT stride");
        assertEquals(pages + 2, k.cpu(1).pageFlushes(), "two INVLPGs, one per 2 MiB page");
        assertEquals(full, k.cpu(1).fullFlushes(), "not 1,024 pages over the ceiling: no full flush");
        assertEquals(1024, events.stream().filter("page"::equals).count(), "both huge pages' frames freed");
    }

    @Test
    void freeingOnlyAPteTableFlushesWithPmdStride() {
        Kernel k = boot(false);
        Task t = running(k);
        long pmd = 2L << 20;
        assertEquals(A, k.mmap(t, A, pmd, RW, FIXED));
        touch(k, A, 4096);
        observe();
        assertEquals(0, k.munmap(t, A, pmd));
        assertEquals(2, flushes.size(), "" + flushes);
        assertEquals(new Flush(A, A + 4096, 12, false), flushes.get(0), "the zap: one pte cleared");
        Flush tables = flushes.get(1);
        assertTrue(tables.freedTables());
        assertEquals(21, tables.stride(), "free_pgtables' flush: a pte table freed is a cleared pmd (pte_free_tlb)");
    }

    @Test
    void nothingClearedNothingFlushed() {
        Kernel k = boot(false);
        Task t = running(k);
        assertEquals(A, k.mmap(t, A, 8192, RW, FIXED));
        observe();
        long requests = k.tlb().flushRequests();
        assertEquals(0, k.munmap(t, A, 8192));
        assertEquals(requests, k.tlb().flushRequests(), "a vma never faulted: no flush");

        Task fresh = k.createProcess();                          // exit of an mm with no pages: fullmm,
        long before = k.tlb().flushRequests();                  // yet nothing cleared, nothing freed
        k.exit(fresh);
        assertEquals(before, k.tlb().flushRequests(), "exit_mmap of an empty mm sends no flush");
        assertTrue(flushes.isEmpty(), "" + flushes);
    }

    @Test
    void exitFlushesOnceForTheWholeMmNotPerVma() {
        Kernel k = boot(false);
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        assertEquals(A, k.mmap(t, A, 8192, RW, FIXED));
        assertEquals(A + 8192, k.mmap(t, A + 8192, 8192, PROT_READ | PROT_WRITE | PROT_EXEC, FIXED));
        touch(k, A, 16384);
        observe();
        k.exit(t);
        assertEquals(1, flushes.size(), "fullmm: tlb_end_vma does not flush, tlb_finish_mmu does once: " + flushes);
        assertEquals(FlushTlbInfo.TLB_FLUSH_ALL, flushes.get(0).end());
    }

    @Test
    void nestedGatherOnTheSameMmForcesAFullFlush() {
        Kernel k = boot(false);
        Task t = running(k);
        assertEquals(A, k.mmap(t, A, 4096, RW, FIXED));
        touch(k, A, 4096);
        observe();
        MmuGather outer = new MmuGather(k, k.cpu(1), t.mm(), false);   // e.g. a parallel zap under mmap_lock for read
        MmuGather inner = new MmuGather(k, k.cpu(0), t.mm(), false);
        inner.tlb_remove_tlb_entry(A);
        inner.tlb_finish_mmu();
        assertEquals(List.of(new Flush(0, FlushTlbInfo.TLB_FLUSH_ALL, 12, true)), flushes,
                "mm_tlb_flush_nested: everything, with freed_tables");
        flushes.clear();
        outer.tlb_remove_tlb_entry(A + 4096);
        outer.tlb_finish_mmu();
        assertEquals(List.of(new Flush(A + 4096, A + 8192, 12, false)), flushes, "alone again: its own range");
        assertEquals(0, t.mm().tlb_flush_pending.plainGet());
    }

    /**
     * mprotect gathers too (Linux v6.6 do_mprotect_pkey): the flush covers the entries that
     * changed, not the whole span — two touched pages of a 1,000-page vma are 3 INVLPGs on the
     * other CPU, where a flush of the whole span would pass the 33-page ceiling and flush all.
     */
    @Test
    void mprotectFlushesWhatChangedNotTheWholeSpan() {
        Kernel k = boot(false);
        Task t = running(k);
        long len = 1000 * 4096L;
        assertEquals(A, k.mmap(t, A, len, RW, FIXED));
        assertTrue(k.writeUserLong(k.cpu(0), A + 10 * 4096L, 1));
        assertTrue(k.writeUserLong(k.cpu(0), A + 12 * 4096L, 1));
        observe();
        long pages = k.cpu(1).pageFlushes();
        long full = k.cpu(1).fullFlushes();
        assertEquals(0, k.mprotect(t, A, len, PROT_READ));
        assertEquals(List.of(new Flush(A + 10 * 4096L, A + 13 * 4096L, 12, false)), flushes);
        assertEquals(pages + 3, k.cpu(1).pageFlushes(), "INVLPG of the changed span");
        assertEquals(full, k.cpu(1).fullFlushes());
        assertEquals(SIGSEGV, k.access(k.cpu(1), A + 10 * 4096L, ptlab.hw.AccessType.WRITE), "no stale writable entry");

        flushes.clear();
        assertEquals(0, k.mprotect(t, A + 500 * 4096L, 4096, PROT_READ | PROT_WRITE));
        assertTrue(flushes.isEmpty(), "nothing mapped there: nothing to flush " + flushes);
    }

    @Test
    void mprotectOfHugePmdsFlushesWithPmdStride() {
        Kernel k = boot(true);
        Task t = running(k);
        long huge = 2L << 20;
        assertEquals(A, k.mmap(t, A, 2 * huge, RW, FIXED));
        touch(k, A, 2 * huge);
        observe();
        assertEquals(0, k.mprotect(t, A, 2 * huge, PROT_READ));
        assertEquals(List.of(new Flush(A, A + 2 * huge, 21, false)), flushes);
    }

    /**
     * tlb_get_unmap_shift() (Linux v6.6 include/asm-generic/tlb.h): a gather that freed only a
     * pmd table (pmd_free_tlb: cleared_puds) flushes with PUD_SHIFT, one that freed only a pud
     * table (pud_free_tlb: cleared_p4ds) with P4D_SHIFT, 39 on 4-level paging where the p4d
     * folds into the pgd. The page-table migrator frees tables this way, with no pte cleared.
     */
    @Test
    void freeingOnlyAPmdOrPudTableFlushesWithTheStrideOneLevelUp() {
        Kernel k = boot(false);
        Task t = running(k);
        observe();
        MmuGather tlb = MmuGather.tlb_gather_mmu(k, k.cpu(0), t.mm());
        tlb.free_table_tlb(Pgtable.PMD, k.allocator().allocPageTable(0, 2), A);
        tlb.tlb_finish_mmu();
        tlb = MmuGather.tlb_gather_mmu(k, k.cpu(0), t.mm());
        tlb.free_table_tlb(Pgtable.PUD, k.allocator().allocPageTable(0, 3), A);
        tlb.tlb_finish_mmu();
        assertEquals(List.of(new Flush(A, A + 4096, 30, true), new Flush(A, A + 4096, 39, true)), flushes);
        assertEquals(List.of("flush", "table", "flush", "table"), events, "each table freed after its flush");
    }

    /**
     * tlb_remove_page_size(page, HPAGE_PMD_SIZE): a THP is one batch entry, and like a 4 KiB
     * page it may be the entry that exhausts the batch; zap_huge_pmd must then flush and free
     * at once (tlb_flush_mmu), or the next entry would have no room.
     */
    @Test
    void aThpCanBeTheEntryThatExhaustsTheBatch() {
        Kernel k = boot(false);
        Task t = running(k);
        int capacity = MmuGather.MMU_GATHER_BUNDLE + MmuGather.MAX_GATHER_BATCH_COUNT * MmuGather.MAX_GATHER_BATCH;
        long thp = k.allocator().allocHugeUser(0);
        assertTrue(thp >= 0);
        MmuGather tlb = MmuGather.tlb_gather_mmu(k, k.cpu(0), t.mm());
        for (int i = 0; i < capacity - 1; i++) {
            long pa = k.allocator().allocFrame(0, FrameUse.USER);
            assertTrue(pa >= 0, "frame " + i);
            assertFalse(tlb.tlb_remove_page(pa), "room left after entry " + i);
        }
        assertTrue(tlb.tlb_remove_huge_page(thp), "the THP took the last entry: the batch is full");
        tlb.tlb_flush_mmu();
        assertEquals(0, k.allocator().pageCount(thp));
        assertFalse(tlb.tlb_remove_huge_page(k.allocator().allocHugeUser(0)), "an emptied batch has room again");
        tlb.tlb_finish_mmu();
    }
}
