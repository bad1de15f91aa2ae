package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

/**
 * What an mmu_gather flushes (mm/mmu_gather.c, arch/x86/include/asm/tlb.h, Linux v6.6): the
 * range it gathered, freed_tables when a page table went, everything when a PAE pmd went
 * (___pmd_free_tlb: need_flush_all), nothing when nothing was gathered; and a full batch (its
 * chained batch pages exhausted) is flushed and freed before the next entry is queued.
 */
class MmuGatherFlushTest {

    private static final long VA = 0x1000_0000L;

    /** The flushes and frees of one kernel, in order, as "flush start end [tables]", "page", "table L". */
    private static final class Recorder implements Interleaving {
        final List<String> events = new ArrayList<>();
        final List<long[]> flushes = new ArrayList<>();
        final List<Long> tablesFreed = new ArrayList<>();

        @Override
        public void gatherFlushed(MmStruct mm, long start, long end, boolean freedTables) {
            events.add("flush" + (freedTables ? "+tables" : ""));
            flushes.add(new long[] {start, end, freedTables ? 1 : 0});
        }

        @Override
        public void pageFreed(long pa) {
            events.add("page");
        }

        @Override
        public void tableFreed(long pa, int level) {
            events.add("table " + level);
            tablesFreed.add(pa);
        }

        long count(String event) {
            return events.stream().filter(event::equals).count();
        }
    }

    private static Kernel boot(PagingMode mode, Recorder r) {
        return new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(1), r, KernelVariant.CORRECT);
    }

    private static Task running(Kernel k) {
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        return t;
    }

    @Test
    void aMultiPageMunmapFlushesEveryPageOfTheRange() {
        Recorder r = new Recorder();
        Kernel k = boot(PagingMode.X86_64, r);
        Task t = running(k);
        assertEquals(VA, k.mmap(t, VA, 8 * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
        for (int i = 0; i < 8; i++) {
            assertTrue(k.writeUserLong(k.cpu(0), VA + i * 4096L, i));
        }
        r.flushes.clear();
        r.events.clear();
        assertEquals(0, k.munmap(t, VA + 4096, 3 * 4096L));   // pages 1..3: the pte table stays
        assertEquals(List.of("flush", "page", "page", "page"), r.events);
        assertArrayEquals(new long[] {VA + 4096, VA + 4 * 4096L, 0}, r.flushes.get(0));
        for (int i = 1; i < 4; i++) {
            assertEquals(SIGSEGV, k.access(k.cpu(0), VA + i * 4096L, AccessType.READ), "page " + i);
        }
        assertEquals(4, k.readUserLong(k.cpu(0), VA + 4 * 4096L, -1));
    }

    /** pte_free_tlb(): the freed table's address joins the range, and the flush says freed_tables. */
    @Test
    void freeingAPageTableWidensTheRangeAndAnnouncesFreedTables() {
        Recorder r = new Recorder();
        Kernel k = boot(PagingMode.X86_64, r);
        Task t = running(k);
        long table = k.allocator().allocPageTable(0, 1);
        MmuGather tlb = MmuGather.tlb_gather_mmu(k, k.cpu(0), t.mm());
        tlb.free_table_tlb(Pgtable.PTE, table, VA);
        assertEquals(FrameUse.PAGE_TABLE, k.allocator().useOf(table), "not freed before the flush");
        tlb.tlb_finish_mmu();
        assertEquals(List.of("flush+tables", "table 1"), r.events);
        assertArrayEquals(new long[] {VA, VA + 4096, 1}, r.flushes.get(0));
        assertEquals(FrameUse.FREE, k.allocator().useOf(table));
    }

    /** ___pmd_free_tlb() on PAE: the PDPTE registers hold the pmd page, so the whole TLB goes (need_flush_all). */
    @Test
    void freeingAPaePmdFlushesEverything() {
        Recorder pae = new Recorder();
        Kernel k = boot(PagingMode.X86_32_PAE, pae);
        Task t = running(k);
        long pmd = k.allocator().allocPageTable(0, Pgtable.PMD);
        MmuGather tlb = MmuGather.tlb_gather_mmu(k, k.cpu(0), t.mm());
        tlb.free_table_tlb(Pgtable.PMD, pmd, VA);
        tlb.tlb_finish_mmu();
        assertArrayEquals(new long[] {0, FlushTlbInfo.TLB_FLUSH_ALL, 1}, pae.flushes.get(0));

        Recorder x64 = new Recorder();
        Kernel k64 = boot(PagingMode.X86_64, x64);
        Task t64 = running(k64);
        long pmd64 = k64.allocator().allocPageTable(0, Pgtable.PMD);
        MmuGather tlb64 = MmuGather.tlb_gather_mmu(k64, k64.cpu(0), t64.mm());
        tlb64.free_table_tlb(Pgtable.PMD, pmd64, VA);
        tlb64.tlb_finish_mmu();
        assertArrayEquals(new long[] {VA, VA + 4096, 1}, x64.flushes.get(0), "x86-64: only the range");
    }

    @Test
    void aGatherThatGatheredNothingFlushesNothing() {
        Recorder r = new Recorder();
        Kernel k = boot(PagingMode.X86_64, r);
        Task t = running(k);
        long requests = k.tlb().flushRequests();
        MmuGather.tlb_gather_mmu(k, k.cpu(0), t.mm()).tlb_finish_mmu();
        assertEquals(List.of(), r.events);
        assertEquals(requests, k.tlb().flushRequests());
    }

    /**
     * A full batch of tables is flushed and freed before the next one is queued. Native x86
     * batches freed tables with the pages (paravirt_tlb_remove_table -> tlb_remove_page), and
     * __tlb_remove_page_size() chains batch pages (tlb_next_batch) up to MAX_GATHER_BATCH_COUNT
     * before it reports the gather full (Linux v6.6 mm/mmu_gather.c; issue 16 item 2): so the
     * early flush comes at MMU_GATHER_BUNDLE + MAX_GATHER_BATCH_COUNT * MAX_GATHER_BATCH
     * entries, not at one batch page's MAX_GATHER_BATCH.
     */
    @Test
    void aFullTableBatchIsFlushedAndFreedBeforeTheNextTable() {
        Recorder r = new Recorder();
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(128L << 20).withCpus(1), r,
                KernelVariant.CORRECT);
        Task t = running(k);
        int capacity = MmuGather.MMU_GATHER_BUNDLE + MmuGather.MAX_GATHER_BATCH_COUNT * MmuGather.MAX_GATHER_BATCH;
        int n = capacity + 1;
        long[] tables = new long[n];
        for (int i = 0; i < n; i++) {
            tables[i] = k.allocator().allocPageTable(0, 1);
            assertTrue(tables[i] >= 0, "table " + i);
        }
        MmuGather tlb = MmuGather.tlb_gather_mmu(k, k.cpu(0), t.mm());
        for (int i = 0; i < capacity - 1; i++) {
            tlb.free_table_tlb(Pgtable.PTE, tables[i], VA + i * 4096L);
        }
        assertEquals(0, r.flushes.size(), "batch pages chained, no flush: " + tlb.batchCount());
        assertEquals(MmuGather.MAX_GATHER_BATCH_COUNT, tlb.batchCount());
        tlb.free_table_tlb(Pgtable.PTE, tables[capacity - 1], VA + (capacity - 1) * 4096L);
        assertEquals(1, r.flushes.size(), "the full batch went at once");
        assertArrayEquals(new long[] {VA, VA + capacity * 4096L, 1}, r.flushes.get(0));
        assertEquals(capacity, r.count("table 1"), "every table of the full batch freed after its flush");
        tlb.free_table_tlb(Pgtable.PTE, tables[n - 1], VA + (n - 1) * 4096L);
        assertEquals(FrameUse.PAGE_TABLE, k.allocator().useOf(tables[n - 1]), "queued in the emptied batch");
        tlb.tlb_finish_mmu();
        // The last table was unlinked after the first flush: a walker may have cached it since,
        // so it is freed only after a flush of its own.
        assertEquals(2, r.flushes.size());
        assertArrayEquals(new long[] {VA + (n - 1) * 4096L, VA + n * 4096L, 1}, r.flushes.get(1));
        assertEquals(n, r.count("table 1"));
        assertEquals(FrameUse.FREE, k.allocator().useOf(tables[n - 1]));
    }

    /** exit_mmap(): tlb_gather_mmu_fullmm flushes the whole address space once, then frees. */
    @Test
    void exitFlushesTheWholeMmBeforeFreeingAnything() {
        Recorder r = new Recorder();
        Kernel k = boot(PagingMode.X86_64, r);
        Task t = running(k);
        assertEquals(VA, k.mmap(t, VA, 4 * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
        for (int i = 0; i < 4; i++) {
            assertTrue(k.writeUserLong(k.cpu(0), VA + i * 4096L, i));
        }
        r.events.clear();
        r.flushes.clear();
        k.switchTo(k.cpu(0), null);
        k.exit(t);
        assertFalse(r.flushes.isEmpty());
        assertArrayEquals(new long[] {0, FlushTlbInfo.TLB_FLUSH_ALL}, new long[] {r.flushes.get(0)[0], r.flushes.get(0)[1]});
        assertTrue(r.events.get(0).startsWith("flush"), r.events.toString());
        assertEquals(4, r.count("page"));
    }

    /** zap_huge_pmd() → tlb_remove_pmd_tlb_entry(): unmapping a whole THP flushes its 2 MiB. */
    @Test
    void munmapOfAWholeThpFlushesItsTwoMegabytes() {
        Recorder r = new Recorder();
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(1).withThp(true),
                r, KernelVariant.CORRECT);
        Task t = running(k);
        long hpage = 2L << 20;
        long a = k.mmap(t, 0, 2 * hpage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(k.cpu(0), a, 1));
        assertTrue(k.writeUserLong(k.cpu(0), a + hpage, 2));
        assertEquals(2, k.stats().thpFaultAlloc.get(), "both halves are huge pages");
        r.flushes.clear();
        assertEquals(0, k.munmap(t, a, hpage));
        assertEquals(1, r.flushes.size());
        assertArrayEquals(new long[] {a, a + hpage, 0}, r.flushes.get(0), "the pmd's range, no table freed");
        assertEquals(SIGSEGV, k.access(k.cpu(0), a + hpage - 4096, AccessType.READ), "no stale 2 MiB entry");
        assertEquals(2, k.readUserLong(k.cpu(0), a + hpage, -1));
    }

    /**
     * KernelVariant FREE_TABLES_BEFORE_FLUSH, the broken free_pgtables order: the pte, pmd and
     * pud tables of the only vma go back to the allocator, each announced with its level so the
     * checker can name it, before free_pgtables' flush; the page still goes after it.
     */
    @Test
    void theBrokenOrderFreesThePteTableBeforeTheFlush() {
        Recorder r = new Recorder();
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(1), r,
                KernelVariant.of(KernelVariant.Bug.FREE_TABLES_BEFORE_FLUSH));
        Task t = running(k);
        assertEquals(VA, k.mmap(t, VA, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
        assertTrue(k.writeUserLong(k.cpu(0), VA, 1));
        long pte = k.pgtable().table(k.pgtable().get(k.pgtable().pmd_offset(k.pgtable().pud_offset(
                k.pgtable().p4d_offset(k.pgtable().pgd_offset(t.mm(), VA), VA), VA), VA)));
        r.events.clear();
        assertEquals(0, k.munmap(t, VA, 4096));
        assertEquals(List.of("flush", "table 1", "table 2", "table 3", "flush+tables", "page"), r.events);
        // each table is announced by its own address (the batch keeps the kind in the low bits)
        assertEquals(pte, r.tablesFreed.get(0), "the pte table first");
        for (long pa : r.tablesFreed) {
            assertEquals(0, pa & 0xfff, () -> "table address 0x" + Long.toHexString(pa) + " not page-aligned");
        }
    }
}
