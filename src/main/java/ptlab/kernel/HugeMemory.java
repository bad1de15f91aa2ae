package ptlab.kernel;

import static ptlab.kernel.Pgtable.PMD;
import static ptlab.kernel.VmFault.VM_FAULT_FALLBACK;

import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;

/**
 * mm/huge_memory.c (Linux v6.6): transparent huge pages for anonymous memory, mapped by one pmd (2 MiB) on
 * x86-64 and la57 when {@link KernelConfig#thp()} is on.
 *
 * <p>Reference counting: each of the 512 frames of a huge page carries its own refcount, one per
 * mapping of it (pmd or pte). Splitting a pmd into 512 ptes therefore changes no refcount, and
 * a partial munmap frees exactly the 4 KiB frames it unmaps — the model's version of
 * split_huge_page()/deferred split. The allocator merges the block back when all are free.
 *
 * <p>Not modelled: the huge zero page, the deposited pte table (pgtable_trans_huge_deposit:
 * Linux preallocates the table a later split needs; here the split allocates it and can fail
 * with -ENOMEM), khugepaged collapse, and PUD-sized THP.
 */
final class HugeMemory {

    static final int HPAGE_PMD_NR = 512;

    private final Kernel k;
    private final Pgtable pt;
    private final FrameAllocator alloc;
    private final KernelStats stats;
    private final boolean enabled;
    private final long hpageSize;

    HugeMemory(Kernel k) {
        this.k = k;
        this.pt = k.pgtable();
        this.alloc = k.allocator();
        this.stats = k.stats();
        this.enabled = k.config().thp() && k.mode().isLongMode();
        this.hpageSize = pt.size(PMD);
    }

    boolean enabled() {
        return enabled;
    }

    /** pmd_trans_huge(): a user pmd mapping a huge page (present or invalidated during a split). */
    boolean pmd_trans_huge(long pmd) {
        return enabled && (pmd & PteBits.PS) != 0 && pt.present(PMD, pmd);
    }

    /** thp_vma_allowable_order() + the alignment check of do_huge_pmd_anonymous_page(). */
    boolean thp_vma_allowable(VmArea vma, long address) {
        if (!enabled || (vma.vm_flags() & (VmArea.VM_NOHUGEPAGE | VmArea.VM_SHARED)) != 0) {
            return false;
        }
        long haddr = address & -hpageSize;
        return Long.compareUnsigned(haddr, vma.vm_start()) >= 0
                && Long.compareUnsigned(haddr + hpageSize, vma.vm_end()) <= 0;
    }

    /** do_huge_pmd_anonymous_page(): a zeroed 2 MiB page behind one pmd, or VM_FAULT_FALLBACK. */
    int do_huge_pmd_anonymous_page(Cpu cpu, VmArea vma, long pmdp, long address) {
        MmStruct mm = vma.vm_mm;
        long page = alloc.allocHugeUser(cpu.node());                      // vma_alloc_folio(GFP_TRANSHUGE)
        if (page < 0) {
            stats.thpFaultFallback.incrementAndGet();
            return VM_FAULT_FALLBACK;
        }
        vma.anon_vma_prepare();
        long entry = pt.pfn_pmd_huge(page, vma.vm_page_prot);
        if ((vma.vm_flags() & VmArea.VM_WRITE) != 0) {
            entry = Pgtable.pte_mkwrite(Pgtable.pte_mkdirty(entry));
        }
        SpinLock ptl = pt.pmd_lockptr(mm, pmdp);
        ptl.lock();
        if (!pt.none(PMD, pt.get(pmdp))) {
            ptl.unlock();
            putHugePage(page);
            stats.raced.incrementAndGet();
            return 0;
        }
        pt.set(pmdp, entry);                                             // set_pmd_at()
        mm.addRss(HPAGE_PMD_NR);
        ptl.unlock();
        stats.thpFaultAlloc.incrementAndGet();
        return 0;
    }

    private void putHugePage(long page) {
        for (int i = 0; i < HPAGE_PMD_NR; i++) {
            alloc.putPage(page + (long) i * PhysicalMemory.PAGE_SIZE);
        }
    }

    /** huge_pmd_set_accessed(). */
    void huge_pmd_set_accessed(VmArea vma, long pmdp, long orig, boolean write) {
        SpinLock ptl = pt.pmd_lockptr(vma.vm_mm, pmdp);
        ptl.lock();
        if (pt.get(pmdp) == orig) {
            long entry = Pgtable.pte_mkyoung(write ? Pgtable.pte_mkdirty(orig) : orig);
            if (!pt.setAccessFlags(pmdp, entry, write)) {
                stats.spurious.incrementAndGet();
            }
        }
        ptl.unlock();
    }

    /**
     * do_huge_pmd_wp_page(): reuse the huge page if this pmd is its only user; otherwise split the
     * pmd and return VM_FAULT_FALLBACK so the pte path copies just the 4 KiB written (Linux since 5.8).
     */
    int do_huge_pmd_wp_page(Cpu cpu, VmArea vma, long pmdp, long address, long orig) {
        SpinLock ptl = pt.pmd_lockptr(vma.vm_mm, pmdp);
        ptl.lock();
        if (pt.get(pmdp) != orig) {
            ptl.unlock();
            stats.raced.incrementAndGet();
            return 0;
        }
        long page = pt.pmd_huge_page(orig);
        boolean exclusive = true;
        for (int i = 0; i < HPAGE_PMD_NR && exclusive; i++) {
            exclusive = alloc.pageCount(page + (long) i * PhysicalMemory.PAGE_SIZE) == 1;
        }
        if (exclusive) {
            long entry = Pgtable.pte_mkwrite(Pgtable.pte_mkdirty(Pgtable.pte_mkyoung(orig)));
            pt.setAccessFlags(pmdp, entry, true);
            ptl.unlock();
            stats.wpReuses.incrementAndGet();
            return 0;
        }
        ptl.unlock();
        __split_huge_pmd(cpu, vma, pmdp, address);
        return VM_FAULT_FALLBACK;
    }

    /**
     * __split_huge_pmd(): replace a huge pmd by a pte table mapping the same 512 frames with the
     * same rights. The pmd is first invalidated (P cleared, PS kept so it still reads as a huge
     * pmd and nobody faults in a new page) and flushed on every CPU (pmdp_invalidate), so no TLB
     * keeps the 2 MiB translation while the ptes are written; then the table is published.
     * Returns 0, or -ENOMEM if no pte table could be allocated (nothing changed then).
     */
    int __split_huge_pmd(Cpu cpu, VmArea vma, long pmdp, long address) {
        MmStruct mm = vma.vm_mm;
        long haddr = address & -hpageSize;
        long table = pt.pte_alloc_one(cpu == null ? 0 : cpu.node());       // pgtable_trans_huge_withdraw()
        if (table < 0) {
            return -Errno.ENOMEM;
        }
        SpinLock ptl = pt.pmd_lockptr(mm, pmdp);
        ptl.lock();
        long old = pt.get(pmdp);
        if (!pmd_trans_huge(old)) {
            ptl.unlock();
            alloc.freeFrame(table);
            return 0;
        }
        old = pt.getAndClear(pmdp);                                      // pmdp_invalidate(): A/D of the old entry kept
        pt.set(pmdp, old & ~PteBits.P);
        k.tlb().flush_tlb_mm_range(cpu, mm, haddr, haddr + hpageSize, pt.shift(PMD), false);
        long page = pt.pmd_huge_page(old);
        long prot = pt.leaf_prot(PMD, old) | PteBits.P;
        int eb = pt.entryBytes();
        for (int i = 0; i < HPAGE_PMD_NR; i++) {
            pt.set(table + (long) i * eb, pt.pfn_pte(page + (long) i * PhysicalMemory.PAGE_SIZE, prot));
        }
        mm.incPgtables(Pgtable.PTE);
        pt.populate(mm, PMD, pmdp, table);                               // pmd_populate(): publishes the filled table
        ptl.unlock();
        stats.thpSplitPmd.incrementAndGet();
        return 0;
    }

    /**
     * zap_huge_pmd(): clear the pmd, note the 2 MiB for the flush (cleared_pmds: a PMD-stride
     * flush), batch the huge page as one entry (tlb_remove_page_size, Linux v6.6
     * mm/huge_memory.c); its 512 frames are put after the flush.
     */
    void zap_huge_pmd(MmuGather tlb, VmArea vma, long pmdp, long addr) {
        SpinLock ptl = pt.pmd_lockptr(vma.vm_mm, pmdp);
        ptl.lock();
        long old = pt.getAndClear(pmdp);
        tlb.tlb_remove_pmd_tlb_entry(addr, hpageSize);
        ptl.unlock();
        if (!pmd_trans_huge(old)) {
            return;
        }
        vma.vm_mm.addRss(-HPAGE_PMD_NR);
        if (tlb.tlb_remove_huge_page(pt.pmd_huge_page(old))) {
            tlb.tlb_flush_mmu();
        }
    }

    /** copy_huge_pmd(): share the huge page with the child, write-protected in both. 0, or -EAGAIN to copy ptes. */
    int copy_huge_pmd(VmArea dst, VmArea src, long dstPmdp, long srcPmdp, long addr) {
        SpinLock dstPtl = pt.pmd_lockptr(dst.vm_mm, dstPmdp);
        SpinLock srcPtl = pt.pmd_lockptr(src.vm_mm, srcPmdp);
        dstPtl.lock();
        srcPtl.lock();
        long pmd = pt.get(srcPmdp);
        if (!pmd_trans_huge(pmd)) {
            srcPtl.unlock();
            dstPtl.unlock();
            return -Errno.EAGAIN;
        }
        long page = pt.pmd_huge_page(pmd);
        for (int i = 0; i < HPAGE_PMD_NR; i++) {
            alloc.getPage(page + (long) i * PhysicalMemory.PAGE_SIZE);
        }
        dst.vm_mm.addRss(HPAGE_PMD_NR);
        if (src.isCowMapping()) {
            pt.setWrprotect(srcPmdp);                                   // pmdp_set_wrprotect()
            pmd = Pgtable.pte_wrprotect(pmd);
        }
        pt.set(dstPmdp, Pgtable.pte_mkold(pmd));
        srcPtl.unlock();
        dstPtl.unlock();
        return 0;
    }

    /** change_huge_pmd(): new protection on a whole huge pmd; the caller flushes. */
    void change_huge_pmd(VmArea vma, long pmdp, long newprot) {
        SpinLock ptl = pt.pmd_lockptr(vma.vm_mm, pmdp);
        ptl.lock();
        long old = pt.getAndClear(pmdp);                                 // pmdp_invalidate_ad()
        pt.set(pmdp, pt.pmd_modify_huge(old, newprot));
        ptl.unlock();
    }
}
