package ptlab.kernel;

import static ptlab.kernel.Pgtable.P4D;
import static ptlab.kernel.Pgtable.PGD;
import static ptlab.kernel.Pgtable.PMD;
import static ptlab.kernel.Pgtable.PTE;
import static ptlab.kernel.VmFault.FAULT_FLAG_WRITE;
import static ptlab.kernel.VmFault.VM_FAULT_FALLBACK;
import static ptlab.kernel.VmFault.VM_FAULT_OOM;
import static ptlab.kernel.VmFault.VM_FAULT_SIGBUS;

import java.util.List;

import ptlab.hw.PhysicalMemory;

/**
 * mm/memory.c (Linux v6.6): the page-fault handler for anonymous memory, unmapping (zap), freeing page
 * tables (free_pgtables with floor/ceiling), and fork's copy_page_range.
 *
 * <pre>
 *   handle_mm_fault
 *     __handle_mm_fault:  p4d_alloc → pud_alloc → pmd_alloc
 *        pmd_none && THP allowed  → do_huge_pmd_anonymous_page        (HugeMemory)
 *        pmd_trans_huge && write  → do_huge_pmd_wp_page (reuse, or split and fall back)
 *        handle_pte_fault
 *          pte_none               → do_anonymous_page  (zero page for reads, else new zeroed page)
 *          write && !pte_write    → do_wp_page          (reuse if page_count == 1, else copy)
 *          else                   → set A (and D), or count a spurious fault
 * </pre>
 *
 * Every function that changes a pte does it under the pte table's split lock and rechecks the
 * entry it decided on (pte_same), because other CPUs fault concurrently under mmap_lock held
 * only for read. The fault path allocates no Java objects.
 */
final class Memory {

    private final Kernel k;
    private final Pgtable pt;
    private final FrameAllocator alloc;
    private final PhysicalMemory mem;
    private final KernelStats stats;
    private final int eb;

    Memory(Kernel k) {
        this.k = k;
        this.pt = k.pgtable();
        this.alloc = k.allocator();
        this.mem = k.memory();
        this.stats = k.stats();
        this.eb = pt.entryBytes();
    }

    // ---- the fault handler ---------------------------------------------------------------------

    /** handle_mm_fault(vma, address, flags, regs): caller holds mmap_lock for read. */
    int handle_mm_fault(Cpu cpu, VmArea vma, long address, int flags) {
        stats.pgfault.incrementAndGet();
        int r = __handle_mm_fault(cpu, vma, address, flags);
        if ((r & VM_FAULT_OOM) != 0) {
            stats.oom.incrementAndGet();
        }
        return r;
    }

    private int __handle_mm_fault(Cpu cpu, VmArea vma, long address, int flags) {
        MmStruct mm = vma.vm_mm;
        int node = cpu.node();
        long pgdp = pt.pgd_offset(mm, address);
        long p4dp = pt.p4d_alloc(mm, pgdp, address, node);
        if (p4dp < 0) {
            return VM_FAULT_OOM;
        }
        long pudp = pt.pud_alloc(mm, p4dp, address, node);
        if (pudp < 0) {
            return VM_FAULT_OOM;
        }
        long pmdp = pt.pmd_alloc(mm, pudp, address, node);
        if (pmdp < 0) {
            return VM_FAULT_OOM;
        }
        long pmd = pt.get(pmdp);
        if (pt.none(PMD, pmd) && k.huge().thp_vma_allowable(vma, address)) {
            int r = k.huge().do_huge_pmd_anonymous_page(cpu, vma, pmdp, address);
            if ((r & VM_FAULT_FALLBACK) == 0) {
                return r;
            }
        } else if (k.huge().pmd_trans_huge(pmd)) {
            if ((flags & FAULT_FLAG_WRITE) != 0 && !Pgtable.pte_write(pmd)) {
                int r = k.huge().do_huge_pmd_wp_page(cpu, vma, pmdp, address, pmd);
                if ((r & VM_FAULT_FALLBACK) == 0) {
                    return r;
                }
            } else {
                k.huge().huge_pmd_set_accessed(vma, pmdp, pmd, (flags & FAULT_FLAG_WRITE) != 0);
                return 0;
            }
        }
        return handle_pte_fault(cpu, vma, pmdp, address, flags);
    }

    /** handle_pte_fault(). */
    private int handle_pte_fault(Cpu cpu, VmArea vma, long pmdp, long address, int flags) {
        MmStruct mm = vma.vm_mm;
        if (pt.none(PMD, pt.get(pmdp))) {
            return do_pte_missing(cpu, vma, pmdp, address, flags);
        }
        long ptep = pt.pte_offset(pmdp, address);
        long orig = pt.get(ptep);
        if (pt.none(PTE, orig)) {
            return do_pte_missing(cpu, vma, pmdp, address, flags);
        }
        if (!pt.present(PTE, orig)) {
            return VM_FAULT_SIGBUS;                                       // swap entries are not modelled
        }
        SpinLock ptl = pt.pte_lockptr(mm, pmdp);
        ptl.lock();
        if (pt.get(ptep) != orig) {                                       // !pte_same(): someone else handled it
            ptl.unlock();
            stats.raced.incrementAndGet();
            return 0;
        }
        boolean write = (flags & FAULT_FLAG_WRITE) != 0;
        long entry = orig;
        if (write) {
            if (!Pgtable.pte_write(entry)) {
                return do_wp_page(cpu, vma, pmdp, ptep, address, orig, ptl);   // drops ptl
            }
            entry = Pgtable.pte_mkdirty(entry);
        }
        entry = Pgtable.pte_mkyoung(entry);
        if (!pt.setAccessFlags(ptep, entry, write)) {
            // Nothing to change: the TLB held a stale, stricter entry. The #PF already dropped it
            // (SDM 4.10.4.1), which is why x86's flush_tlb_fix_spurious_fault() does nothing.
            stats.spurious.incrementAndGet();
        }
        ptl.unlock();
        return 0;
    }

    /**
     * do_pte_missing(): an anonymous vma gets do_anonymous_page; a shared anonymous one is a
     * shmem file mapping (vma_is_anonymous() is false) and gets do_fault.
     */
    private int do_pte_missing(Cpu cpu, VmArea vma, long pmdp, long address, int flags) {
        if (vma.vm_file != null) {
            return do_fault(cpu, vma, pmdp, address, flags);
        }
        return do_anonymous_page(cpu, vma, pmdp, address, flags);
    }

    /**
     * do_fault() → do_read_fault / do_shared_fault → __do_fault (shmem_fault) → finish_fault
     * (Linux v6.6 mm/memory.c): the page comes from the shmem file's page cache, the one every
     * process sharing the mapping finds; the pte gets the vma's protection (writable for a
     * writable shared mapping: shmem needs no write notification), dirty if this is a write.
     */
    private int do_fault(Cpu cpu, VmArea vma, long pmdp, long address, int flags) {
        MmStruct mm = vma.vm_mm;
        if (pt.pte_alloc(mm, pmdp, cpu.node()) != 0) {
            return VM_FAULT_OOM;
        }
        long addr = address & -PhysicalMemory.PAGE_SIZE;
        long page = vma.vm_file.shmem_get_page(vma.linear_page_index(addr), cpu.node());   // with the pte's reference
        if (page < 0) {
            return VM_FAULT_OOM;
        }
        long entry = pt.pfn_pte(page, vma.vm_page_prot);
        if ((flags & FAULT_FLAG_WRITE) != 0) {
            entry = Pgtable.pte_mkdirty(entry);
        }
        SpinLock ptl = pt.pte_lockptr(mm, pmdp);
        ptl.lock();
        long ptep = pt.pte_offset(pmdp, addr);
        if (!pt.none(PTE, pt.get(ptep))) {
            ptl.unlock();
            alloc.putPage(page);
            stats.raced.incrementAndGet();
            return 0;
        }
        mm.addRss(1);                                                     // MM_SHMEMPAGES
        pt.set_pte(ptep, entry);                                         // set_pte_at() (finish_fault)
        ptl.unlock();
        return 0;
    }

    /** do_anonymous_page(): a read maps the shared zero page, a write a new zeroed page. */
    private int do_anonymous_page(Cpu cpu, VmArea vma, long pmdp, long address, int flags) {
        MmStruct mm = vma.vm_mm;
        if (pt.pte_alloc(mm, pmdp, cpu.node()) != 0) {
            return VM_FAULT_OOM;
        }
        long addr = address & -PhysicalMemory.PAGE_SIZE;
        boolean shared = (vma.vm_flags() & VmArea.VM_SHARED) != 0;
        if ((flags & FAULT_FLAG_WRITE) == 0 && k.config().zeroPage() && !shared) {
            long entry = Pgtable.pte_mkspecial(pt.pfn_pte(k.zeroPage(), Pgtable.pte_wrprotect(vma.vm_page_prot)));
            SpinLock ptl = pt.pte_lockptr(mm, pmdp);
            ptl.lock();
            long ptep = pt.pte_offset(pmdp, addr);
            if (pt.none(PTE, pt.get(ptep))) {
                pt.set_pte(ptep, entry);                          // set_pte_at()
                stats.zeroPageMaps.incrementAndGet();
            } else {
                stats.raced.incrementAndGet();
            }
            ptl.unlock();
            return 0;
        }
        vma.anon_vma_prepare();
        long page = alloc.allocFrame(cpu.node(), FrameUse.USER);          // alloc_zeroed_user_highpage
        if (page < 0) {
            return VM_FAULT_OOM;
        }
        long entry = pt.pfn_pte(page, vma.vm_page_prot);
        if ((vma.vm_flags() & VmArea.VM_WRITE) != 0) {
            entry = Pgtable.pte_mkwrite(Pgtable.pte_mkdirty(entry));
        }
        SpinLock ptl = pt.pte_lockptr(mm, pmdp);
        ptl.lock();
        long ptep = pt.pte_offset(pmdp, addr);
        if (!pt.none(PTE, pt.get(ptep))) {
            ptl.unlock();
            alloc.putPage(page);
            stats.raced.incrementAndGet();
            return 0;
        }
        alloc.setAnonExclusive(page, true);                               // folio_add_new_anon_rmap()
        mm.addRss(1);
        pt.set_pte(ptep, entry);                                         // set_pte_at()
        ptl.unlock();
        stats.anonPages.incrementAndGet();
        return 0;
    }

    /**
     * do_wp_page() (Linux v6.6 mm/memory.c): a write to a present, write-protected pte, called
     * with the pte lock held. A shared mapping is made writable in place (wp_page_shared). An
     * anonymous page is reused if it is PageAnonExclusive — mapped by this process alone, as
     * every page it faulted in or copied is until a fork shares it — or if
     * wp_can_reuse_anon_folio() finds ours the only reference, which makes it exclusive again.
     * Otherwise the page is copied (wp_page_copy), holding a reference on it (folio_get) from
     * before the pte lock is dropped until the copy is done, so nothing can free it mid-copy.
     */
    private int do_wp_page(Cpu cpu, VmArea vma, long pmdp, long ptep, long address, long orig, SpinLock ptl) {
        if (Pgtable.pte_special(orig)) {
            ptl.unlock();
            return wp_page_copy(cpu, vma, pmdp, address, orig, -1);       // the zero page
        }
        long page = pt.pte_page(orig);
        if ((vma.vm_flags() & VmArea.VM_SHARED) != 0 || alloc.anonExclusive(page) || wp_can_reuse_anon_folio(page)) {
            long entry = Pgtable.pte_mkwrite(Pgtable.pte_mkdirty(Pgtable.pte_mkyoung(orig)));
            pt.setAccessFlags(ptep, entry, true);                         // wp_page_reuse()
            ptl.unlock();
            stats.wpReuses.incrementAndGet();
            return 0;
        }
        alloc.getPage(page);                                              // folio_get(): held across the copy
        ptl.unlock();
        return wp_page_copy(cpu, vma, pmdp, address, orig, page);
    }

    /**
     * wp_can_reuse_anon_folio(): ours is the only reference (no swap cache, KSM or LRU caches in
     * the model to account for), so the page becomes exclusive to this process again.
     */
    private boolean wp_can_reuse_anon_folio(long page) {
        if (alloc.pageCount(page) != 1) {
            return false;
        }
        alloc.setAnonExclusive(page, true);
        return true;
    }

    /**
     * wp_page_copy(): copy {@code old} (or take a zeroed page for the zero page) into a new,
     * exclusive page; if the pte is still what we saw, clear it, flush the old translation on
     * every CPU (ptep_clear_flush), install the new one, and drop the pte's reference on the old
     * page; in every case drop the reference do_wp_page took for the copy.
     */
    private int wp_page_copy(Cpu cpu, VmArea vma, long pmdp, long address, long orig, long old) {
        MmStruct mm = vma.vm_mm;
        long addr = address & -PhysicalMemory.PAGE_SIZE;
        long page = alloc.allocFrame(cpu.node(), FrameUse.USER);
        if (page < 0) {
            if (old >= 0) {
                alloc.putPage(old);                                       // the copy's reference
            }
            return VM_FAULT_OOM;
        }
        if (old >= 0) {
            mem.copyFrame(old, page);                                     // __wp_page_copy_user()
        }
        vma.anon_vma_prepare();
        SpinLock ptl = pt.pte_lockptr(mm, pmdp);
        ptl.lock();
        long ptep = pt.pte_offset(pmdp, addr);
        if (pt.get(ptep) != orig) {
            ptl.unlock();
            alloc.putPage(page);
            if (old >= 0) {
                alloc.putPage(old);                                       // the copy's reference
            }
            stats.raced.incrementAndGet();
            return 0;
        }
        if (old < 0) {
            mm.addRss(1);                                                 // the zero page was not counted
        }
        alloc.setAnonExclusive(page, true);                               // folio_add_new_anon_rmap()
        long entry = Pgtable.pte_mkwrite(Pgtable.pte_mkdirty(pt.pfn_pte(page, vma.vm_page_prot)));
        pt.getAndClear(ptep);                                             // ptep_clear_flush()
        k.tlb().flush_tlb_page(cpu, mm, addr);
        pt.set_pte(ptep, entry);                                         // set_pte_at()
        ptl.unlock();
        if (old >= 0) {
            alloc.putPage(old);                                           // no CPU maps it through this pte any more
            alloc.putPage(old);                                           // the copy's reference (do_wp_page's folio_get)
        }
        stats.cowCopies.incrementAndGet();
        return 0;
    }

    // ---- unmapping: unmap_vmas → unmap_page_range → zap_*_range -----------------------------------------

    /** unmap_vmas(): zap every pte of {@code vmas} within [start, end). */
    void unmap_vmas(MmuGather tlb, List<VmArea> vmas, long start, long end) {
        for (VmArea v : vmas) {
            long s = Long.compareUnsigned(v.vm_start(), start) > 0 ? v.vm_start() : start;
            long e = Long.compareUnsigned(v.vm_end(), end) < 0 ? v.vm_end() : end;
            if (Long.compareUnsigned(s, e) < 0) {
                unmap_page_range(tlb, v, s, e);
            }
        }
    }

    /**
     * unmap_page_range() (Linux v6.6 mm/memory.c): the zap walk, level by level, between
     * tlb_start_vma and tlb_end_vma — so each vma's cleared range is flushed when its walk ends
     * (x86: no MMU_GATHER_MERGE_VMAS), while its pages stay batched until tlb_finish_mmu.
     */
    void unmap_page_range(MmuGather tlb, VmArea vma, long addr, long end) {
        tlb.tlb_start_vma(vma);
        long pgdp = pt.pgd_offset(vma.vm_mm, addr);
        do {
            long next = pt.addrEnd(PGD, addr, end);
            if (!pt.noneOrClearBad(PGD, pgdp)) {
                zapRange(tlb, vma, P4D, pgdp, addr, next);
            }
            pgdp += eb;
            addr = next;
        } while (addr != end);
        tlb.tlb_end_vma(vma);
    }

    /** zap_p4d_range / zap_pud_range / zap_pmd_range: entries of level {@code l} under {@code parentp}. */
    private void zapRange(MmuGather tlb, VmArea vma, int l, long parentp, long addr, long end) {
        long p = pt.offset(l, parentp, addr);
        do {
            long next = pt.addrEnd(l, addr, end);
            long e = pt.get(p);
            if (l == PMD && k.huge().pmd_trans_huge(e)) {
                if (next - addr == pt.size(PMD)) {
                    k.huge().zap_huge_pmd(tlb, vma, p, addr);
                    p += eb;
                    addr = next;
                    continue;
                }
                k.huge().__split_huge_pmd(tlb.cpu, vma, p, addr);       // partial: split, then zap ptes
            }
            if (!pt.noneOrClearBad(l, p)) {
                if (l == PMD) {
                    zap_pte_range(tlb, vma, p, addr, next);
                } else {
                    zapRange(tlb, vma, l - 1, p, addr, next);
                }
            }
            if (!pt.folded(l)) {
                p += eb;
            }
            addr = next;
        } while (addr != end);
    }

    /**
     * zap_pte_range(): clear each pte atomically (keeping the A/D bits the hardware set), note
     * the address for the flush and batch the page for freeing after it. An exhausted batch
     * (all MAX_GATHER_BATCH_COUNT batch pages full) forces the TLB flush while the pte lock is
     * still held, and the freeing after it is dropped.
     */
    private void zap_pte_range(MmuGather tlb, VmArea vma, long pmdp, long addr, long end) {
        MmStruct mm = vma.vm_mm;
        while (addr != end) {
            boolean forceFlush = false;
            long rss = 0;
            SpinLock ptl = pt.pte_lockptr(mm, pmdp);
            ptl.lock();
            long ptep = pt.pte_offset(pmdp, addr);
            for (; addr != end; addr += PhysicalMemory.PAGE_SIZE, ptep += eb) {
                long e = pt.get(ptep);
                if (pt.none(PTE, e)) {
                    continue;
                }
                e = pt.getAndClear(ptep);                                 // ptep_get_and_clear_full()
                tlb.tlb_remove_tlb_entry(addr);
                if (!pt.present(PTE, e) || Pgtable.pte_special(e)) {
                    continue;
                }
                rss--;
                if (tlb.tlb_remove_page(pt.pte_page(e))) {
                    forceFlush = true;
                    addr += PhysicalMemory.PAGE_SIZE;
                    break;
                }
            }
            mm.addRss(rss);
            if (forceFlush) {
                tlb.tlb_flush_mmu_tlbonly();
            }
            ptl.unlock();
            if (forceFlush) {
                tlb.tlb_flush_mmu_free();
            }
        }
    }

    // ---- free_pgtables -------------------------------------------------------------------------------

    /**
     * free_pgtables(tlb, vmas, floor, ceiling): free the page tables under {@code vmas} (already
     * unmapped and detached), but not those still needed below {@code floor} (end of the
     * previous vma) or from {@code ceiling} (start of the next; 0 = top of the address space).
     * Vmas closer than a PMD_SIZE are gathered into one call, as Linux does.
     */
    void free_pgtables(MmuGather tlb, List<VmArea> vmas, long floor, long ceiling) {
        int i = 0;
        while (i < vmas.size()) {
            VmArea vma = vmas.get(i);
            long addr = vma.vm_start();
            int j = i + 1;
            while (j < vmas.size()
                    && Long.compareUnsigned(vmas.get(j).vm_start(), vma.vm_end() + pt.size(PMD)) <= 0) {
                vma = vmas.get(j++);
            }
            long next = j < vmas.size() ? vmas.get(j).vm_start() : ceiling;
            free_pgd_range(tlb, addr, vma.vm_end(), floor, next);
            i = j;
        }
    }

    /**
     * free_pgd_range(): the PMD_SIZE rounding of addr/end against floor/ceiling, then the walk.
     * At each level a table is freed only if the whole span its parent entry covers lies within
     * [floor, ceiling), i.e. no other vma can have entries in it.
     */
    void free_pgd_range(MmuGather tlb, long addr, long end, long floor, long ceiling) {
        long pmdSize = pt.size(PMD);
        addr &= pt.mask(PMD);
        if (Long.compareUnsigned(addr, floor) < 0) {
            addr += pmdSize;
            if (addr == 0) {
                return;
            }
        }
        if (ceiling != 0) {
            ceiling &= pt.mask(PMD);
            if (ceiling == 0) {
                return;
            }
        }
        if (Long.compareUnsigned(end - 1, ceiling - 1) > 0) {
            end -= pmdSize;
        }
        if (Long.compareUnsigned(addr, end - 1) > 0) {
            return;
        }
        long pgdp = pt.pgd_offset(tlb.mm, addr);
        do {
            long next = pt.addrEnd(PGD, addr, end);
            if (!pt.noneOrClearBad(PGD, pgdp)) {
                freeRange(tlb, P4D, pgdp, addr, next, floor, ceiling);
            }
            pgdp += eb;
            addr = next;
        } while (addr != end);
    }

    /**
     * free_p4d_range / free_pud_range / free_pmd_range (l = P4D, PUD, PMD): recurse into the
     * level-{@code l} entries under {@code parentp}, then free the level-{@code l} table itself
     * if floor and ceiling allow. A folded level has no table: p4d_free_tlb and friends are
     * no-ops there, as in asm-generic/pgtable-nop4d.h.
     */
    private void freeRange(MmuGather tlb, int l, long parentp, long addr, long end, long floor, long ceiling) {
        long start = addr;
        long p = pt.offset(l, parentp, addr);
        do {
            long next = pt.addrEnd(l, addr, end);
            if (!pt.noneOrClearBad(l, p)) {
                if (l == PMD) {
                    free_pte_range(tlb, p, addr);
                } else {
                    freeRange(tlb, l - 1, p, addr, next, floor, ceiling);
                }
            }
            if (!pt.folded(l)) {
                p += eb;
            }
            addr = next;
        } while (addr != end);
        if (pt.folded(l)) {
            return;
        }
        long mask = pt.mask(l + 1);
        start &= mask;
        if (Long.compareUnsigned(start, floor) < 0) {
            return;
        }
        if (ceiling != 0) {
            ceiling &= mask;
            if (ceiling == 0) {
                return;
            }
        }
        if (Long.compareUnsigned(end - 1, ceiling - 1) > 0) {
            return;
        }
        long table = unlinkTable(tlb.mm, l + 1, parentp);                 // pud_clear / p4d_clear / pgd_clear
        tlb.free_table_tlb(l, table, start);                              // pmd_free_tlb / pud_free_tlb / p4d_free_tlb
        tlb.mm.decPgtables(l);                                            // mm_dec_nr_pmds / puds / p4ds
    }

    /**
     * Reads and clears the level-{@code l} entry at {@code p} (which points to a table about to
     * be freed). With speculative faults, which install tables without mmap_lock, the clear is
     * done under the lock the installer takes (page_table_lock, or the pmd lock for a pte
     * table): mail 004's "things _ought_ to be ordered by the various PTLs". Then an installer
     * either sees the mm's sequence count already bumped by this munmap, or installed before
     * this clear, which frees its table with the rest.
     */
    private long unlinkTable(MmStruct mm, int l, long p) {
        FaultLocking f = k.faultLocking();
        if (f == null || !f.speculative()) {
            long table = pt.table(pt.get(p));
            pt.clear(l, p);
            return table;
        }
        SpinLock lock = l == PMD ? pt.pmd_lockptr(mm, p) : mm.page_table_lock;
        lock.lock();
        long table = pt.table(pt.get(p));
        pt.clear(l, p);
        lock.unlock();
        return table;
    }

    /** free_pte_range(): pmd_clear, pte_free_tlb, mm_dec_nr_ptes. */
    private void free_pte_range(MmuGather tlb, long pmdp, long addr) {
        long table = unlinkTable(tlb.mm, PMD, pmdp);                      // pmd_clear
        tlb.free_table_tlb(PTE, table, addr);
        tlb.mm.decPgtables(PTE);
    }

    // ---- fork: copy_page_range ---------------------------------------------------------------------

    /**
     * copy_page_range(dst_vma, src_vma): give the child the parent's ptes for a vma. A private
     * writable (COW) mapping is write-protected in both parent and child and the pages are
     * shared with their refcount raised; the caller flushes the parent's TLB afterwards.
     * Returns 0 or -ENOMEM.
     */
    int copy_page_range(Cpu cpu, VmArea dst, VmArea src) {
        if (src.anonVmaLocked() == 0) {
            return 0;                                                      // vma_needs_copy(): nothing faulted yet
        }
        long addr = src.vm_start();
        long end = src.vm_end();
        int node = cpu == null ? 0 : cpu.node();
        long srcPgd = pt.pgd_offset(src.vm_mm, addr);
        long dstPgd = pt.pgd_offset(dst.vm_mm, addr);
        do {
            long next = pt.addrEnd(PGD, addr, end);
            if (!pt.noneOrClearBad(PGD, srcPgd)) {
                int r = copyRange(dst, src, P4D, dstPgd, srcPgd, addr, next, node);
                if (r != 0) {
                    return r;
                }
            }
            srcPgd += eb;
            dstPgd += eb;
            addr = next;
        } while (addr != end);
        return 0;
    }

    /** copy_p4d_range / copy_pud_range / copy_pmd_range. */
    private int copyRange(VmArea dst, VmArea src, int l, long dstParent, long srcParent, long addr, long end, int node) {
        long dp = pt.alloc(l, dst.vm_mm, dstParent, addr, node);
        if (dp < 0) {
            return -Errno.ENOMEM;
        }
        long sp = pt.offset(l, srcParent, addr);
        do {
            long next = pt.addrEnd(l, addr, end);
            long se = pt.get(sp);
            boolean done = false;
            if (l == PMD && k.huge().pmd_trans_huge(se)) {
                done = k.huge().copy_huge_pmd(dst, src, dp, sp, addr) == 0;
            }
            if (!done && !pt.noneOrClearBad(l, sp)) {
                int r = l == PMD ? copy_pte_range(dst, src, dp, sp, addr, next, node)
                        : copyRange(dst, src, l - 1, dp, sp, addr, next, node);
                if (r != 0) {
                    return r;
                }
            }
            if (!pt.folded(l)) {
                dp += eb;
                sp += eb;
            }
            addr = next;
        } while (addr != end);
        return 0;
    }

    /** copy_pte_range() with copy_present_pte(): both pte locks held (the child's first). */
    private int copy_pte_range(VmArea dst, VmArea src, long dstPmdp, long srcPmdp, long addr, long end, int node) {
        MmStruct dstMm = dst.vm_mm;
        if (pt.pte_alloc(dstMm, dstPmdp, node) != 0) {
            return -Errno.ENOMEM;
        }
        boolean cow = src.isCowMapping();
        boolean shared = (src.vm_flags() & VmArea.VM_SHARED) != 0;
        SpinLock dstPtl = pt.pte_lockptr(dstMm, dstPmdp);
        SpinLock srcPtl = pt.pte_lockptr(src.vm_mm, srcPmdp);
        dstPtl.lock();
        srcPtl.lock();                                                    // spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)
        long sp = pt.pte_offset(srcPmdp, addr);
        long dp = pt.pte_offset(dstPmdp, addr);
        long rss = 0;
        for (; addr != end; addr += PhysicalMemory.PAGE_SIZE, sp += eb, dp += eb) {
            long e = pt.get(sp);
            if (pt.none(PTE, e) || !pt.present(PTE, e)) {
                continue;
            }
            if (!Pgtable.pte_special(e)) {
                long page = pt.pte_page(e);
                alloc.getPage(page);                                      // folio_try_dup_anon_rmap + get
                if (cow) {
                    alloc.setAnonExclusive(page, false);                  // shared with the child now
                }
                rss++;
            }
            if (cow && Pgtable.pte_write(e)) {
                pt.setWrprotect(sp);                                      // ptep_set_wrprotect(src_mm, addr, src_pte)
                e = Pgtable.pte_wrprotect(e);
            }
            if (shared) {
                e = Pgtable.pte_mkclean(e);
            }
            pt.set_pte(dp, Pgtable.pte_mkold(e));                     // copy_present_pte: set_pte_at(dst_mm, ...)
        }
        dstMm.addRss(rss);
        srcPtl.unlock();
        dstPtl.unlock();
        return 0;
    }
}
