package ptlab.kernel;

import java.util.Arrays;

/**
 * struct mmu_gather (Linux v6.6 mm/mmu_gather.c, include/asm-generic/tlb.h,
 * arch/x86/include/asm/tlb.h): batches what an unmap frees so that nothing is freed before the
 * TLBs stop pointing at it.
 *
 * <pre>
 *   tlb_gather_mmu(tlb, mm)                                   inc_tlb_flush_pending(mm)
 *     per vma:  tlb_start_vma
 *       zap:            ptep_get_and_clear;  tlb_remove_tlb_entry    (range grows, cleared_ptes)
 *                       zap_huge_pmd:        tlb_remove_pmd_tlb_entry (cleared_pmds)
 *                       tlb_remove_page(page)                         (batched, not freed)
 *               tlb_end_vma:  tlb_flush_mmu_tlbonly                    <- a flush per vma (x86 has
 *                                                                         no MMU_GATHER_MERGE_VMAS)
 *     free_pgtables:  pXd_clear;  pte/pmd/pud/p4d_free_tlb -> tlb_remove_page (native x86's
 *                                 paravirt_tlb_remove_table): the table joins the page batch
 *   tlb_finish_mmu(tlb)          mm_tlb_flush_nested? -> full flush with freed_tables
 *     tlb_flush_mmu_tlbonly:  flush_tlb_mm_range(start, end, tlb_get_unmap_shift, freed_tables) <- first
 *     tlb_flush_mmu_free:     free the batch: pages put, tables freed, in the order gathered <- then
 * </pre>
 *
 * A flush happens only if something was cleared or freed (tlb_flush_mmu_tlbonly's test of
 * freed_tables / cleared_*). Its stride is the smallest level cleared (tlb_get_unmap_shift):
 * PAGE_SHIFT if any pte was cleared, else PMD_SHIFT if only huge pmds (or pte tables), and so
 * on. The batch is the gather's local bundle of {@link #MMU_GATHER_BUNDLE} entries, extended by
 * chained batch pages of {@link #MAX_GATHER_BATCH} entries (tlb_next_batch) up to
 * {@link #MAX_GATHER_BATCH_COUNT} of them; only when that is exhausted does the zap force a
 * flush-and-free midway. A huge page is one entry (tlb_remove_page_size), as in Linux. The batch
 * pages are counted, not taken from the frame allocator (a departure: docs/fidelity.md).
 *
 * <p>Invariant 2 and 3 of DESIGN.md rest on the order flush-then-free: a page or page-table page
 * is returned to the allocator only after every CPU that could hold a translation (TLB entry or
 * paging-structure cache entry) through it was flushed.
 */
public final class MmuGather {

    /** MMU_GATHER_BUNDLE: the pages struct mmu_gather holds itself before chaining a batch page. */
    public static final int MMU_GATHER_BUNDLE = 8;
    /** MAX_GATHER_BATCH for one 4 KiB batch page: (PAGE_SIZE - header) / sizeof(void *). */
    public static final int MAX_GATHER_BATCH = 510;
    /** MAX_GATHER_BATCH_COUNT = 10000 / MAX_GATHER_BATCH: batch pages one gather may chain. */
    public static final int MAX_GATHER_BATCH_COUNT = 10000 / MAX_GATHER_BATCH;

    /** Batch entry kinds, kept in the low bits of the (page-aligned) address. */
    private static final int KIND_PAGE = 0;
    private static final int KIND_HUGE = 1;       // a PMD-sized THP: HugeMemory.HPAGE_PMD_NR frames
    private static final int KIND_TABLE = 2;      // + level (PTE .. P4D)
    private static final long KIND_MASK = 0xf;

    private final Kernel k;
    final MmStruct mm;
    final Cpu cpu;
    boolean fullmm;
    long start;
    long end;
    boolean freed_tables;
    boolean cleared_ptes;
    boolean cleared_pmds;
    boolean cleared_puds;
    boolean cleared_p4ds;
    boolean need_flush_all;
    /** The batch: the local bundle, then the chained batch pages. */
    private long[] batch = new long[MMU_GATHER_BUNDLE];
    private int nr;
    /** Batch pages chained so far (tlb->batch_count); they stay chained after a flush, as in Linux. */
    private int batch_count;

    /**
     * tlb_gather_mmu(tlb, mm) for code outside mm/ that unlinks page-table pages (a page-table
     * migrator): queue them with {@link #free_table_tlb} and end with {@link #tlb_finish_mmu}.
     */
    public static MmuGather tlb_gather_mmu(Kernel k, Cpu cpu, MmStruct mm) {
        return new MmuGather(k, cpu, mm, false);
    }

    /** KernelVariant.Bug.FREE_TABLES_BEFORE_FLUSH: the broken free_pgtables order. */
    private final boolean freeTablesFirst;

    /** tlb_gather_mmu() / tlb_gather_mmu_fullmm(): also inc_tlb_flush_pending(mm). */
    MmuGather(Kernel k, Cpu cpu, MmStruct mm, boolean fullmm) {
        this.k = k;
        this.freeTablesFirst = k.variant().has(KernelVariant.Bug.FREE_TABLES_BEFORE_FLUSH);
        this.cpu = cpu;
        this.mm = mm;
        this.fullmm = fullmm;
        resetRange();
        mm.tlb_flush_pending.addAndGet(1);
    }

    /** __tlb_reset_range(). */
    private void resetRange() {
        start = -1L;     // ~0UL: empty range
        end = 0;
        freed_tables = false;
        cleared_ptes = false;
        cleared_pmds = false;
        cleared_puds = false;
        cleared_p4ds = false;
        need_flush_all = false;
    }

    /** __tlb_adjust_range(). */
    void adjustRange(long address, long size) {
        // (address == start leaves start as it is: "<=" here is an equivalent mutant; so is ">="
        // below, which stores the same end again)
        if (Long.compareUnsigned(address, start) < 0) {
            start = address;
        }
        if (Long.compareUnsigned(address + size, end) > 0) {
            end = address + size;
        }
    }

    /** tlb_remove_tlb_entry() → tlb_flush_pte_range(): a pte was cleared at {@code address}. */
    void tlb_remove_tlb_entry(long address) {
        adjustRange(address, 4096);
        cleared_ptes = true;
    }

    /** tlb_remove_pmd_tlb_entry() → tlb_flush_pmd_range(): a huge pmd was cleared. */
    void tlb_remove_pmd_tlb_entry(long address, long size) {
        adjustRange(address, size);
        cleared_pmds = true;
    }

    /** tlb_flush_pte_range(): a pte changed (mprotect) or was cleared at {@code address}; the flush will cover it. */
    void tlb_flush_pte_range(long address, long size) {
        adjustRange(address, size);
        cleared_ptes = true;
    }

    /** tlb_flush_pmd_range(): a huge pmd changed or was cleared. */
    void tlb_flush_pmd_range(long address, long size) {
        adjustRange(address, size);
        cleared_pmds = true;
    }

    /** tlb_start_vma(): nothing to do on x86 (no cache flush, VM_PFNMAP not modelled). */
    void tlb_start_vma(VmArea vma) {
    }

    /**
     * tlb_end_vma(): unless the whole mm goes, flush at every vma boundary — x86 does not select
     * MMU_GATHER_MERGE_VMAS, so the range never spans the gap to the next vma. Pages stay batched.
     */
    void tlb_end_vma(VmArea vma) {
        if (fullmm) {
            return;
        }
        tlb_flush_mmu_tlbonly();
    }

    /**
     * tlb_remove_page(): {@code pa}'s reference is dropped after the flush. Returns true when the
     * batch is exhausted and the caller must flush (after dropping the pte lock).
     */
    boolean tlb_remove_page(long pa) {
        return add(pa | KIND_PAGE);
    }

    /** tlb_remove_page_size(page, HPAGE_PMD_SIZE): a whole THP as one batch entry. */
    boolean tlb_remove_huge_page(long pa) {
        return add(pa | KIND_HUGE);
    }

    /** __tlb_remove_page_size(): add; when the active batch fills, chain the next (tlb_next_batch) or report full. */
    private boolean add(long entry) {
        batch[nr++] = entry;
        return nr == batch.length && !tlb_next_batch();
    }

    /** tlb_next_batch(): one more batch page, unless MAX_GATHER_BATCH_COUNT are chained already. */
    private boolean tlb_next_batch() {
        if (batch_count == MAX_GATHER_BATCH_COUNT) {
            return false;
        }
        batch_count++;
        batch = Arrays.copyOf(batch, MMU_GATHER_BUNDLE + batch_count * MAX_GATHER_BATCH);
        return true;
    }

    /** Batch pages this gather chained (tests). */
    int batchCount() {
        return batch_count;
    }

    /**
     * pte_free_tlb / pmd_free_tlb / pud_free_tlb / p4d_free_tlb ({@code level} is the level of
     * the table freed): note the range one level up (tlb_flush_pmd_range for a pte table, ...),
     * set freed_tables, and batch the table (native x86: tlb_remove_page), flushing and freeing
     * at once if the batch is exhausted.
     */
    public void free_table_tlb(int level, long table, long address) {
        adjustRange(address, 4096);
        switch (level) {
            case Pgtable.PTE -> cleared_pmds = true;
            case Pgtable.PMD -> cleared_puds = true;
            case Pgtable.PUD -> cleared_p4ds = true;
            default -> { }
        }
        freed_tables = true;
        if (k.mode().isPae() && level == Pgtable.PMD) {
            need_flush_all = true;     // ___pmd_free_tlb: the PDPTE registers must be reloaded
        }
        if (add(table | (KIND_TABLE + level))) {
            tlb_flush_mmu();
        }
    }

    /** tlb_flush_mmu(): flush, then free. */
    void tlb_flush_mmu() {
        if (freeTablesFirst) {
            freeTablesEarly();                 // the deliberately broken order (KernelVariant)
        }
        tlb_flush_mmu_tlbonly();
        tlb_flush_mmu_free();
    }

    /** tlb_get_unmap_shift(): the stride of the smallest level that was cleared. */
    int tlb_get_unmap_shift() {
        Pgtable pt = k.pgtable();
        if (cleared_ptes) {
            return 12;
        }
        if (cleared_pmds) {
            return pt.shift(Pgtable.PMD);
        }
        if (cleared_puds) {
            return pt.shift(Pgtable.PUD);
        }
        if (cleared_p4ds) {
            return pt.shift(Pgtable.P4D);
        }
        return 12;
    }

    /**
     * tlb_flush_mmu_tlbonly() → tlb_flush() (arch/x86/include/asm/tlb.h): nothing if nothing was
     * cleared or freed; the whole mm for a full-mm gather or need_flush_all; else the range.
     */
    void tlb_flush_mmu_tlbonly() {
        if (!(freed_tables || cleared_ptes || cleared_pmds || cleared_puds || cleared_p4ds)) {
            return;
        }
        long s = start;
        long e = end;
        int stride = tlb_get_unmap_shift();
        if (fullmm || need_flush_all) {
            s = 0;
            e = FlushTlbInfo.TLB_FLUSH_ALL;
        }
        k.tlb().flush_tlb_mm_range(cpu, mm, s, e, stride, freed_tables);
        k.interleaving().gatherFlushed(mm, s, e, stride, freed_tables);
        resetRange();
    }

    /** tlb_flush_mmu_free() → tlb_batch_pages_flush(): everything batched goes, in the order gathered. */
    void tlb_flush_mmu_free() {
        Interleaving o = k.interleaving();
        FrameAllocator a = k.allocator();
        for (int i = 0; i < nr; i++) {
            long entry = batch[i];
            long pa = entry & ~KIND_MASK;
            int kind = (int) (entry & KIND_MASK);
            if (kind == KIND_PAGE) {
                putPage(a, o, pa);
            } else if (kind == KIND_HUGE) {
                for (int j = 0; j < HugeMemory.HPAGE_PMD_NR; j++) {
                    putPage(a, o, pa + (long) j * 4096);
                }
            } else {
                a.freeFrame(pa);
                o.tableFreed(pa, kind - KIND_TABLE);
            }
        }
        nr = 0;
    }

    private static void putPage(FrameAllocator a, Interleaving o, long pa) {
        a.putPage(pa);
        o.pageFreed(pa);
    }

    /** The broken variant's early free: the batched tables go now, before the flush. */
    private void freeTablesEarly() {
        Interleaving o = k.interleaving();
        FrameAllocator a = k.allocator();
        int kept = 0;
        for (int i = 0; i < nr; i++) {
            long entry = batch[i];
            int kind = (int) (entry & KIND_MASK);
            if (kind >= KIND_TABLE) {       // a table's kind is KIND_TABLE + level >= 1: ">" is equivalent
                a.freeFrame(entry & ~KIND_MASK);
                o.tableFreed(entry & ~KIND_MASK, kind - KIND_TABLE);
            } else {
                batch[kept++] = entry;
            }
        }
        nr = kept;
    }

    /**
     * tlb_finish_mmu(): if another gather ran on this mm meanwhile (mm_tlb_flush_nested: a
     * parallel unmap under mmap_lock for read batching its own flush), flush everything, with
     * freed_tables, so no CPU keeps an entry the other gather cleared but has not flushed yet;
     * then flush and free; dec_tlb_flush_pending().
     */
    public void tlb_finish_mmu() {
        if (mm.tlb_flush_pending.get() > 1) {                 // mm_tlb_flush_nested(): a shared read
            fullmm = true;
            resetRange();      // equivalent if removed: fullmm flushes everything, whatever range and stride
            freed_tables = true;
        }
        tlb_flush_mmu();
        mm.tlb_flush_pending.addAndGet(-1);
    }
}
