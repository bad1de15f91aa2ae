package ptlab.kernel;

/**
 * struct mmu_gather (mm/mmu_gather.c, include/asm-generic/tlb.h): batches what an unmap frees
 * so that nothing is freed before the TLBs stop pointing at it.
 *
 * <pre>
 *   tlb_gather_mmu(tlb, mm)
 *     zap:            ptep_get_and_clear;  tlb_remove_tlb_entry  (range grows)
 *                     tlb_remove_page(page)                     (page batched, not freed)
 *     free_pgtables:  pXd_clear;           pte/pmd/pud/p4d_free_tlb -> tlb_remove_table
 *   tlb_finish_mmu(tlb)
 *     tlb_flush_mmu_tlbonly:  flush_tlb_mm_range(start, end, freed_tables)   <- first
 *     tlb_flush_mmu_free:     free the tables, put_page the pages            <- then
 * </pre>
 *
 * Invariant 2 and 3 of DESIGN.md rest on this order: a page or page-table page is returned to
 * the allocator only after every CPU that could hold a translation (TLB entry or paging-structure
 * cache entry) through it was flushed. A full batch forces the same flush-then-free early.
 */
public final class MmuGather {

    /** MAX_GATHER_BATCH for one 4 KiB batch page: (PAGE_SIZE - header) / sizeof(void *). */
    public static final int MAX_GATHER_BATCH = 510;

    private final Kernel k;
    final MmStruct mm;
    final Cpu cpu;
    final boolean fullmm;
    long start;
    long end;
    boolean freed_tables;
    boolean need_flush_all;
    int stride_shift = 12;
    private final long[] pages = new long[MAX_GATHER_BATCH];
    private int nrPages;
    private final long[] tables = new long[MAX_GATHER_BATCH];
    private final int[] tableLevels = new int[MAX_GATHER_BATCH];
    private int nrTables;

    /**
     * tlb_gather_mmu(tlb, mm) for code outside mm/ that unlinks page-table pages (a page-table
     * migrator): queue them with {@link #free_table_tlb} and end with {@link #tlb_finish_mmu}.
     */
    public static MmuGather tlb_gather_mmu(Kernel k, Cpu cpu, MmStruct mm) {
        return new MmuGather(k, cpu, mm, false);
    }

    /** KernelVariant.Bug.FREE_TABLES_BEFORE_FLUSH: the broken free_pgtables order. */
    private final boolean freeTablesFirst;

    /** tlb_gather_mmu() / tlb_gather_mmu_fullmm(). */
    MmuGather(Kernel k, Cpu cpu, MmStruct mm, boolean fullmm) {
        this.k = k;
        this.freeTablesFirst = k.variant().has(KernelVariant.Bug.FREE_TABLES_BEFORE_FLUSH);
        this.cpu = cpu;
        this.mm = mm;
        this.fullmm = fullmm;
        resetRange();
    }

    private void resetRange() {
        start = -1L;     // ~0UL: empty range
        end = 0;
        freed_tables = false;
        need_flush_all = false;
    }

    /** __tlb_adjust_range(). */
    void adjustRange(long address, long size) {
        // (address == start leaves start as it is: "<=" here is an equivalent mutant)
        if (Long.compareUnsigned(address, start) < 0) {
            start = address;
        }
        if (Long.compareUnsigned(address + size, end) > 0) {
            end = address + size;
        }
    }

    /** tlb_remove_tlb_entry(): a pte was cleared at {@code address}. */
    void tlb_remove_tlb_entry(long address) {
        adjustRange(address, 4096);
    }

    /** tlb_remove_pmd_tlb_entry(): a huge pmd was cleared. */
    void tlb_remove_pmd_tlb_entry(long address, long size) {
        adjustRange(address, size);
        stride_shift = Math.max(stride_shift, 12);
    }

    /**
     * tlb_remove_page(): {@code pa}'s reference is dropped after the flush. Returns true when the
     * batch is full and the caller must {@link #tlb_flush_mmu} (after dropping the pte lock).
     */
    boolean tlb_remove_page(long pa) {
        pages[nrPages++] = pa;
        return nrPages == MAX_GATHER_BATCH;
    }

    /** pte_free_tlb / pmd_free_tlb / pud_free_tlb / p4d_free_tlb → tlb_remove_table(). */
    public void free_table_tlb(int level, long table, long address) {
        adjustRange(address, 4096);
        freed_tables = true;
        if (k.mode().isPae() && level == Pgtable.PMD) {
            need_flush_all = true;     // ___pmd_free_tlb: the PDPTE registers must be reloaded
        }
        if (nrTables == MAX_GATHER_BATCH) {
            tlb_flush_mmu();
        }
        tables[nrTables] = table;
        tableLevels[nrTables] = level;
        nrTables++;
    }

    /** tlb_flush_mmu(): flush, then free. */
    void tlb_flush_mmu() {
        if (freeTablesFirst) {
            freeTables();                      // the deliberately broken order (KernelVariant)
        }
        tlb_flush_mmu_tlbonly();
        tlb_flush_mmu_free();
    }

    /** tlb_flush_mmu_tlbonly() → tlb_flush() (arch/x86/include/asm/tlb.h). */
    void tlb_flush_mmu_tlbonly() {
        // start == end never happens (every range added is at least a page): "<=" is equivalent
        boolean any = fullmm || need_flush_all || Long.compareUnsigned(start, end) < 0;
        if (!any) {
            return;
        }
        long s = start;
        long e = end;
        if (fullmm || need_flush_all) {
            s = 0;
            e = FlushTlbInfo.TLB_FLUSH_ALL;
        }
        k.tlb().flush_tlb_mm_range(cpu, mm, s, e, stride_shift, freed_tables);
        k.interleaving().gatherFlushed(mm, s, e, freed_tables);
        resetRange();
    }

    /** tlb_flush_mmu_free(): tlb_table_flush + tlb_batch_pages_flush. */
    void tlb_flush_mmu_free() {
        freeTables();
        Interleaving o = k.interleaving();
        FrameAllocator a = k.allocator();
        for (int i = 0; i < nrPages; i++) {
            a.putPage(pages[i]);
            o.pageFreed(pages[i]);
        }
        nrPages = 0;
    }

    /** tlb_table_flush(): the batched page-table pages go back to the allocator. */
    private void freeTables() {
        Interleaving o = k.interleaving();
        FrameAllocator a = k.allocator();
        for (int i = 0; i < nrTables; i++) {
            a.freeFrame(tables[i]);
            o.tableFreed(tables[i], tableLevels[i]);
        }
        nrTables = 0;
    }

    /** tlb_finish_mmu(). */
    public void tlb_finish_mmu() {
        tlb_flush_mmu();
    }
}
