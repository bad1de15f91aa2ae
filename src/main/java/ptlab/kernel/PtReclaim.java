package ptlab.kernel;

import static ptlab.kernel.Pgtable.PMD;
import static ptlab.kernel.Pgtable.PTE;

import ptlab.hw.PhysicalMemory;

/**
 * madvise(MADV_DONTNEED) with empty page-table reclaim (Linux v6.13 mm/pt_reclaim.c,
 * "mm: reclaim empty user page table pages", Qi Zheng 2024): zap the range, and when that left
 * a pte table with no entry, unlink it from its pmd and free it after the TLB flush — all under
 * mmap_lock held only for read. So faults under a vma lock (or the mmap_lock for read) may be
 * walking to that table right now: they must re-check the pmd after taking the PTL, which is
 * why {@code pte_offset_map_rw_nolock()} hands back the pmd value it used.
 *
 * <pre>
 *   try_to_free_pte():  pml = pmd_lock(); ptl = pte lock (nested)
 *                       pmd unchanged and all 512 (1024) ptes none → pmd_clear()
 *                       unlock both; pte_free_tlb() → freed after tlb_finish_mmu()'s flush
 * </pre>
 */
final class PtReclaim {

    private final Kernel k;
    private final Pgtable pt;

    PtReclaim(Kernel k) {
        this.k = k;
        this.pt = k.pgtable();
    }

    /** 0, or -ENOMEM when [start, start+len) is not inside one vma. Returns via {@code freed[0]} the tables freed. */
    int madvise_dontneed(Cpu cpu, MmStruct mm, long start, long len, long[] freed) {
        long end = start + Mmap.pageAlign(len);
        mm.mmap_lock.down_read();
        try {
            VmArea vma = mm.mm_mt.vma_lookup(start);
            if (vma == null || Long.compareUnsigned(end, vma.vm_end()) > 0) {
                return -Errno.ENOMEM;
            }
            MmuGather tlb = new MmuGather(k, cpu, mm, false);
            k.mm().unmap_page_range(tlb, vma, start, end);          // zap_page_range_single()
            for (long a = start & pt.mask(PMD); Long.compareUnsigned(a, end) < 0; a += pt.size(PMD)) {
                if (try_to_free_pte(tlb, mm, a)) {
                    freed[0]++;
                }
            }
            tlb.tlb_finish_mmu();                                    // flush, then free the tables
            return 0;
        } finally {
            mm.mmap_lock.up_read();
        }
    }

    private boolean try_to_free_pte(MmuGather tlb, MmStruct mm, long addr) {
        int[] level = new int[1];
        long pmdp = pmdEntry(mm, addr, level);
        if (pmdp < 0) {
            return false;
        }
        long pmdval = pt.get(pmdp);
        if (pt.none(PMD, pmdval) || pt.leaf(PMD, pmdval)) {
            return false;
        }
        SpinLock pml = pt.pmd_lockptr(mm, pmdp);
        pml.lock();
        long table = pt.table(pmdval);
        SpinLock ptl = pt.ptlock(table);
        boolean free = false;
        if (ptl != pml) {
            ptl.lock();                                              // spin_lock_nested(ptl, SINGLE_DEPTH_NESTING)
        }
        if (pt.get(pmdp) == pmdval && empty(table)) {
            pt.clear(PMD, pmdp);                                     // pmdp_get_lockless() readers now see none
            free = true;
        }
        if (ptl != pml) {
            ptl.unlock();
        }
        pml.unlock();
        if (free) {
            tlb.free_table_tlb(PTE, table, addr);
            mm.decPgtables(PTE);
        }
        return free;
    }

    private boolean empty(long table) {
        int eb = pt.entryBytes();
        for (long p = table; p < table + PhysicalMemory.PAGE_SIZE; p += eb) {
            if (!pt.none(PTE, pt.get(p))) {
                return false;
            }
        }
        return true;
    }

    /** The pmd entry for addr, or -1 if an upper level is missing. */
    private long pmdEntry(MmStruct mm, long addr, int[] level) {
        long p = pt.pgd_offset(mm, addr);
        for (int l = Pgtable.PGD; l > PMD; l--) {
            long e = pt.get(p);
            if (pt.none(l, e) || pt.leaf(l, e)) {
                return -1;
            }
            p = pt.offset(l - 1, p, addr);
        }
        return p;
    }
}
