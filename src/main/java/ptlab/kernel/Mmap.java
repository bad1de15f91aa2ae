package ptlab.kernel;

import static ptlab.kernel.Pgtable.P4D;
import static ptlab.kernel.Pgtable.PGD;
import static ptlab.kernel.Pgtable.PMD;
import static ptlab.kernel.Pgtable.PTE;

import java.util.ArrayList;
import java.util.List;

import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;

/**
 * mm/mmap.c, mm/vma.c, mm/mprotect.c and kernel/fork.c's dup_mmap: the VMA-changing system
 * calls for anonymous memory (read from Linux v6.6). Each takes mmap_lock for write; munmap
 * and a shrinking brk downgrade it to read once the vmas are detached, for the zap and
 * free_pgtables. Each that removes mappings goes through an {@link MmuGather} so pages and
 * page tables are freed only after the flush.
 */
final class Mmap {

    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int PROT_EXEC = 4;

    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_GROWSDOWN = 0x100;
    public static final int MAP_FIXED_NOREPLACE = 0x100000;

    /** mmap_min_addr default (CONFIG_DEFAULT_MMAP_MIN_ADDR = 65536 on x86). */
    static final long MMAP_MIN_ADDR = 0x10000;
    /** stack_guard_gap: 256 pages. */
    static final long STACK_GUARD_GAP = 256L << 12;
    /** RLIMIT_STACK default, 8 MiB: the most a stack may grow to. */
    static final long RLIMIT_STACK = 8L << 20;

    private final Kernel k;
    private final Pgtable pt;
    private final Memory memory;

    Mmap(Kernel k) {
        this.k = k;
        this.pt = k.pgtable();
        this.memory = k.mm();
    }

    /** vm_get_page_prot(): protection_map[] of arch/x86/mm/pgprot.c, from VM_READ/WRITE/EXEC/SHARED. */
    long vm_get_page_prot(long vmFlags) {
        long rwx = vmFlags & (VmArea.VM_READ | VmArea.VM_WRITE | VmArea.VM_EXEC);
        if (rwx == 0) {
            return Pgtable._PAGE_PROTNONE | PteBits.A;                     // PAGE_NONE
        }
        long prot = PteBits.P | PteBits.US | PteBits.A;                    // write and exec imply read on x86
        if ((vmFlags & VmArea.VM_WRITE) != 0 && (vmFlags & VmArea.VM_SHARED) != 0) {
            prot |= PteBits.RW;                                            // PAGE_SHARED; private writes are PAGE_COPY (COW)
        }
        if ((vmFlags & VmArea.VM_EXEC) == 0) {
            prot |= pt.nx();
        }
        return prot;
    }

    static long calc_vm_prot_bits(int prot) {
        long f = 0;
        if ((prot & PROT_READ) != 0) f |= VmArea.VM_READ;
        if ((prot & PROT_WRITE) != 0) f |= VmArea.VM_WRITE;
        if ((prot & PROT_EXEC) != 0) f |= VmArea.VM_EXEC;
        return f;
    }

    static long pageAlign(long len) {
        return (len + PhysicalMemory.PAGE_SIZE - 1) & -PhysicalMemory.PAGE_SIZE;
    }

    // ---- mmap -------------------------------------------------------------------------------------

    /** vm_mmap_pgoff() → do_mmap() for anonymous memory: the address, or -errno. */
    long do_mmap(Cpu cpu, MmStruct mm, long addr, long len, int prot, int flags) {
        if ((flags & MAP_ANONYMOUS) == 0) {
            return -Errno.EINVAL;                                          // no files in the model
        }
        if ((flags & (MAP_SHARED | MAP_PRIVATE)) == 0) {
            return -Errno.EINVAL;
        }
        if (len <= 0) {
            return -Errno.EINVAL;
        }
        len = pageAlign(len);
        if (len == 0 || Long.compareUnsigned(len, mm.task_size) > 0) {
            return -Errno.ENOMEM;
        }
        k.vmaLocks().mmap_write_lock(mm);
        try {
            if ((flags & MAP_FIXED_NOREPLACE) != 0) {
                if (mm.mm_mt.find_vma_intersection(addr, addr + len) != null) {
                    return -Errno.EEXIST;
                }
                flags |= MAP_FIXED;
            }
            addr = get_unmapped_area(mm, addr, len, flags);
            if (Errno.isError(addr)) {
                return addr;
            }
            long vmFlags = calc_vm_prot_bits(prot) | VmArea.VM_MAYREAD | VmArea.VM_MAYWRITE | VmArea.VM_MAYEXEC;
            if ((flags & MAP_SHARED) != 0) {
                vmFlags |= VmArea.VM_SHARED | VmArea.VM_MAYSHARE;
            }
            if ((flags & MAP_GROWSDOWN) != 0) {
                vmFlags |= VmArea.VM_GROWSDOWN;
            }
            return mmap_region(cpu, mm, addr, len, vmFlags);
        } finally {
            k.vmaLocks().mmap_write_unlock(mm);
        }
    }

    /**
     * mmap_region(): unmap what MAP_FIXED overlaps, then insert the new vma; a shared one gets
     * its anonymous shmem file (shmem_zero_setup, Linux v6.6 mm/mmap.c).
     */
    long mmap_region(Cpu cpu, MmStruct mm, long addr, long len, long vmFlags) {
        if (mm.mm_mt.find_vma_intersection(addr, addr + len) != null) {
            do_vmi_munmap(cpu, mm, addr, len);
        }
        VmArea vma = new VmArea(mm, addr, addr + len, vmFlags, vm_get_page_prot(vmFlags));
        if ((vmFlags & VmArea.VM_SHARED) != 0) {
            vma.vm_file = new ShmemFile(k.allocator(), len >>> 12, "mm" + mm.id() + ".shmem@" + Long.toHexString(addr));
            vma.vm_pgoff = 0;
        }
        k.vmaLocks().vma_start_write(vma);                                   // mmap_region(): vma_start_write(vma)
        mm.mm_mt.insert(vma);
        return addr;
    }

    /** remove_vma(): drop the vma's file reference (fput), after unmap_region / exit_mmap. */
    private static void remove_vma(VmArea vma) {
        if (vma.vm_file != null) {
            vma.vm_file.fput();
        }
    }

    /**
     * get_unmapped_area() → arch_get_unmapped_area_topdown(): MAP_FIXED as given; a free hint;
     * else the highest gap below mmap_base that fits (aligned to 2 MiB for THP-sized lengths,
     * as thp_get_unmapped_area does).
     */
    long get_unmapped_area(MmStruct mm, long addr, long len, int flags) {
        long taskSize = mm.task_size;
        if (Long.compareUnsigned(len, taskSize) > 0) {
            return -Errno.ENOMEM;
        }
        if ((flags & MAP_FIXED) != 0) {
            if ((addr & (PhysicalMemory.PAGE_SIZE - 1)) != 0) {
                return -Errno.EINVAL;
            }
            if (Long.compareUnsigned(addr, taskSize - len) > 0 || Long.compareUnsigned(addr, MMAP_MIN_ADDR) < 0) {
                return -Errno.ENOMEM;
            }
            return addr;
        }
        if (addr != 0) {
            addr = pageAlign(addr);
            VmArea v = mm.mm_mt.find_vma(addr);
            if (Long.compareUnsigned(addr, taskSize - len) <= 0 && Long.compareUnsigned(addr, MMAP_MIN_ADDR) >= 0
                    && (v == null || Long.compareUnsigned(addr + len, vm_start_gap(v)) <= 0)) {
                return addr;
            }
        }
        long align = k.huge().enabled() && len >= pt.size(PMD) ? pt.size(PMD) : PhysicalMemory.PAGE_SIZE;
        VmaTree t = mm.mm_mt;
        long high = mm.mmap_base;
        int i = t.indexOf(high);
        if (i < t.size() && Long.compareUnsigned(vm_start_gap(t.get(i)), high) < 0) {
            high = vm_start_gap(t.get(i));
        }
        for (int j = i - 1; ; j--) {
            long low = j >= 0 ? t.get(j).vm_end() : MMAP_MIN_ADDR;
            if (Long.compareUnsigned(high, len) >= 0) {
                long cand = (high - len) & -align;
                if (Long.compareUnsigned(cand, low) >= 0 && Long.compareUnsigned(high, low) > 0) {
                    return cand;
                }
            }
            if (j < 0) {
                return -Errno.ENOMEM;
            }
            high = vm_start_gap(t.get(j));
        }
    }

    /** vm_start_gap(): a stack's start less the guard gap below it. */
    static long vm_start_gap(VmArea v) {
        if ((v.vm_flags() & VmArea.VM_GROWSDOWN) != 0 && Long.compareUnsigned(v.vm_start(), STACK_GUARD_GAP) > 0) {
            return v.vm_start() - STACK_GUARD_GAP;
        }
        return v.vm_start();
    }

    // ---- munmap -----------------------------------------------------------------------------------

    /**
     * __vm_munmap(start, len, unlock=true), as sys_munmap calls it (Linux v6.6 mm/mmap.c): take
     * mmap_lock for write; on success do_vmi_munmap has released it (downgraded to read for the
     * page-table work, then unlocked); on error it is still held for write. 0 or -errno.
     */
    int do_munmap(Cpu cpu, MmStruct mm, long start, long len) {
        k.vmaLocks().mmap_write_lock(mm);
        int r = do_vmi_munmap(cpu, mm, start, len, true);
        if (r != 0) {
            k.vmaLocks().mmap_write_unlock(mm);
        }
        return r;
    }

    /** do_vmi_munmap(..., unlock=false): for callers that keep mmap_lock for write (mmap_region's MAP_FIXED). */
    int do_vmi_munmap(Cpu cpu, MmStruct mm, long start, long len) {
        return do_vmi_munmap(cpu, mm, start, len, false);
    }

    /**
     * do_vmi_munmap() → do_vmi_align_munmap() (Linux v6.6 mm/mmap.c): split at the edges and
     * detach the vmas from the tree under mmap_lock for write; then, with {@code unlock},
     * mmap_write_downgrade() — "We can free page tables without write-locking mmap_lock
     * because VMAs were isolated before we downgraded mmap_lock" — so faults (readers) run
     * concurrently with the zap, free_pgtables and the TLB flush; finally mmap_read_unlock().
     * With {@code unlock} the lock is released on success (0) and still held for write on an
     * error, as in Linux.
     */
    int do_vmi_munmap(Cpu cpu, MmStruct mm, long start, long len, boolean unlock) {
        if ((start & (PhysicalMemory.PAGE_SIZE - 1)) != 0 || Long.compareUnsigned(start, mm.task_size) > 0
                || Long.compareUnsigned(len, mm.task_size - start) > 0) {
            return -Errno.EINVAL;
        }
        len = pageAlign(len);
        if (len == 0) {
            return -Errno.EINVAL;
        }
        long end = start + len;
        List<VmArea> detached = detach(mm, start, end);
        if (detached.isEmpty()) {
            if (unlock) {
                k.vmaLocks().mmap_write_unlock(mm);
            }
            return 0;
        }
        // free_pgtables' bounds come from the neighbours as they are now, before the downgrade.
        VmaTree t = mm.mm_mt;
        int i = t.indexOf(start);
        VmArea prev = t.prev(i);
        VmArea next = i < t.size() ? t.get(i) : null;
        long floor = prev != null ? prev.vm_end() : 0;
        long ceiling = next != null ? next.vm_start() : 0;
        if (unlock) {
            k.vmaLocks().mmap_write_downgrade(mm);                          // vma_end_write_all + downgrade_write
        }
        unmap_region(cpu, mm, detached, start, end, floor, ceiling);
        for (VmArea v : detached) {
            remove_vma(v);                                                  // remove_mt()
        }
        if (unlock) {
            mm.mmap_lock.up_read();
        }
        return 0;
    }

    /** Splits vmas at start and end and removes those inside [start, end) from the tree. */
    private List<VmArea> detach(MmStruct mm, long start, long end) {
        VmaTree t = mm.mm_mt;
        List<VmArea> out = new ArrayList<>();
        VmArea v = t.find_vma(start);
        if (v == null || Long.compareUnsigned(v.vm_start(), end) >= 0) {
            return out;
        }
        if (Long.compareUnsigned(v.vm_start(), start) < 0) {
            split_vma(mm, v, start);
        }
        VmArea last = t.find_vma(end - 1);
        if (last != null && Long.compareUnsigned(last.vm_start(), end) < 0 && Long.compareUnsigned(last.vm_end(), end) > 0) {
            split_vma(mm, last, end);
        }
        for (int i = t.indexOf(start); i < t.size() && Long.compareUnsigned(t.get(i).vm_start(), end) < 0; i++) {
            out.add(t.get(i));
        }
        for (VmArea d : out) {
            k.vmaLocks().vma_mark_detached(d);                               // vma_start_write + detached
            t.remove(d);
        }
        return out;
    }

    /** __split_vma(): {@code v} keeps [vm_start, addr); a new vma gets [addr, vm_end). */
    VmArea split_vma(MmStruct mm, VmArea v, long addr) {
        k.vmaLocks().vma_start_write(v);
        VmArea tail = new VmArea(mm, addr, v.vm_end(), v.vm_flags(), v.vm_page_prot);
        tail.anon_vma.plainSet(v.anonVmaLocked());       // tail not yet published
        if (v.vm_file != null) {
            tail.vm_file = v.vm_file;
            tail.vm_file.get_file();
            tail.vm_pgoff = v.linear_page_index(addr);
        }
        k.vmaLocks().vma_start_write(tail);                                  // a new vma is published write-locked
        v.setEnd(addr);
        mm.mm_mt.insert(tail);
        return tail;
    }

    /**
     * unmap_region(): zap the detached vmas, free the page tables no remaining vma needs
     * (floor = end of the previous vma, ceiling = start of the next), flush, then free. Runs
     * with mmap_lock held for read or write: the vmas are already out of the tree, so no fault
     * can find them, and a fault in a neighbour never reaches a table outside [floor, ceiling).
     */
    private void unmap_region(Cpu cpu, MmStruct mm, List<VmArea> detached, long start, long end, long floor,
            long ceiling) {
        MmuGather tlb = new MmuGather(k, cpu, mm, false);
        memory.unmap_vmas(tlb, detached, start, end);
        memory.free_pgtables(tlb, detached, floor, ceiling);
        tlb.tlb_finish_mmu();
    }

    // ---- mprotect ----------------------------------------------------------------------------------

    /**
     * do_mprotect_pkey() (Linux v6.6 mm/mprotect.c): 0 or -errno. One mmu_gather for the call:
     * each changed entry is noted (tlb_flush_pte_range / tlb_flush_pmd_range) and each vma's
     * changes are flushed at its tlb_end_vma, over the span of what changed, with the stride of
     * the smallest level changed.
     */
    int do_mprotect(Cpu cpu, MmStruct mm, long start, long len, int prot) {
        if ((start & (PhysicalMemory.PAGE_SIZE - 1)) != 0) {
            return -Errno.EINVAL;
        }
        len = pageAlign(len);
        long end = start + len;
        if (Long.compareUnsigned(end, start) < 0) {
            return -Errno.ENOMEM;
        }
        if (len == 0) {
            return 0;
        }
        k.vmaLocks().mmap_write_lock(mm);
        try {
            VmaTree t = mm.mm_mt;
            // The whole range must be mapped, without holes.
            long covered = start;
            for (int i = t.indexOf(start); i < t.size() && Long.compareUnsigned(covered, end) < 0; i++) {
                VmArea v = t.get(i);
                if (Long.compareUnsigned(v.vm_start(), covered) > 0) {
                    return -Errno.ENOMEM;
                }
                covered = v.vm_end();
            }
            if (Long.compareUnsigned(covered, end) < 0) {
                return -Errno.ENOMEM;
            }
            long newBits = calc_vm_prot_bits(prot);
            long addr = start;
            MmuGather tlb = new MmuGather(k, cpu, mm, false);
            while (Long.compareUnsigned(addr, end) < 0) {
                VmArea v = t.find_vma(addr);
                long vEnd = Long.compareUnsigned(v.vm_end(), end) < 0 ? v.vm_end() : end;
                long newFlags = (v.vm_flags() & ~(VmArea.VM_READ | VmArea.VM_WRITE | VmArea.VM_EXEC)) | newBits;
                mprotect_fixup(tlb, mm, v, addr, vEnd, newFlags);
                addr = vEnd;
            }
            tlb.tlb_finish_mmu();
            return 0;
        } finally {
            k.vmaLocks().mmap_write_unlock(mm);
        }
    }

    /** mprotect_fixup(): split to [start, end), set the flags, change_protection (which flushes at the vma's end). */
    private void mprotect_fixup(MmuGather tlb, MmStruct mm, VmArea v, long start, long end, long newFlags) {
        if (newFlags == v.vm_flags()) {
            return;
        }
        k.vmaLocks().vma_start_write(v);
        if (Long.compareUnsigned(v.vm_start(), start) < 0) {
            v = split_vma(mm, v, start);
        }
        if (Long.compareUnsigned(v.vm_end(), end) > 0) {
            split_vma(mm, v, end);
        }
        v.setFlags(newFlags, vm_get_page_prot(newFlags));
        change_protection(tlb, v, start, end);
        vma_merge(mm, v);
    }

    /** vma_merge(): fold {@code v} into an adjacent vma with the same flags and anon_vma. */
    private void vma_merge(MmStruct mm, VmArea v) {
        VmaTree t = mm.mm_mt;
        int i = t.indexOf(v.vm_start());
        VmArea next = i + 1 < t.size() ? t.get(i + 1) : null;
        if (next != null && next.vm_start() == v.vm_end() && v.mergeableWith(next)) {
            k.vmaLocks().vma_mark_detached(next);
            t.remove(next);
            v.setEnd(next.vm_end());
            if (v.anonVmaLocked() == 0 && next.anonVmaLocked() != 0) {
                v.setAnonVma(next.anonVmaLocked());
            }
            remove_vma(next);
        }
        VmArea prev = t.prev(i);
        if (prev != null && prev.vm_end() == v.vm_start() && prev.mergeableWith(v)) {
            k.vmaLocks().vma_start_write(prev);
            k.vmaLocks().vma_mark_detached(v);
            t.remove(v);
            prev.setEnd(v.vm_end());
            if (prev.anonVmaLocked() == 0 && v.anonVmaLocked() != 0) {
                prev.setAnonVma(v.anonVmaLocked());
            }
            remove_vma(v);
        }
    }

    /**
     * change_protection() → change_protection_range(): the ptes (and huge pmds) of [start, end)
     * get the vma's new protection, between tlb_start_vma and tlb_end_vma.
     */
    private long change_protection(MmuGather tlb, VmArea vma, long addr, long end) {
        long pages = 0;
        tlb.tlb_start_vma(vma);
        long pgdp = pt.pgd_offset(vma.vm_mm, addr);
        do {
            long next = pt.addrEnd(PGD, addr, end);
            if (!pt.noneOrClearBad(PGD, pgdp)) {
                pages += changeRange(tlb, vma, P4D, pgdp, addr, next);
            }
            pgdp += pt.entryBytes();
            addr = next;
        } while (addr != end);
        tlb.tlb_end_vma(vma);
        return pages;
    }

    /** change_p4d_range / change_pud_range / change_pmd_range. */
    private long changeRange(MmuGather tlb, VmArea vma, int l, long parentp, long addr, long end) {
        long pages = 0;
        long p = pt.offset(l, parentp, addr);
        do {
            long next = pt.addrEnd(l, addr, end);
            if (l == PMD && k.huge().pmd_trans_huge(pt.get(p))) {
                if (next - addr == pt.size(PMD)) {
                    k.huge().change_huge_pmd(vma, p, vma.vm_page_prot);
                    tlb.tlb_flush_pmd_range(addr, pt.size(PMD));
                    pages += HugeMemory.HPAGE_PMD_NR;
                    p += pt.entryBytes();
                    addr = next;
                    continue;
                }
                k.huge().__split_huge_pmd(tlb.cpu, vma, p, addr);
            }
            if (!pt.noneOrClearBad(l, p)) {
                pages += l == PMD ? change_pte_range(tlb, vma, p, addr, next) : changeRange(tlb, vma, l - 1, p, addr, next);
            }
            if (!pt.folded(l)) {
                p += pt.entryBytes();
            }
            addr = next;
        } while (addr != end);
        return pages;
    }

    /**
     * change_pte_range(): ptep_modify_prot_start (atomic clear, so a concurrent D-bit update is
     * not lost) / pte_modify / ptep_modify_prot_commit. A private writable page that is already
     * dirty and exclusively ours keeps write access (can_change_pte_writable), sparing a fault.
     */
    private long change_pte_range(MmuGather tlb, VmArea vma, long pmdp, long addr, long end) {
        long pages = 0;
        SpinLock ptl = pt.pte_lockptr(vma.vm_mm, pmdp);
        ptl.lock();
        long ptep = pt.pte_offset(pmdp, addr);
        boolean wantsWrite = (vma.vm_flags() & (VmArea.VM_WRITE | VmArea.VM_SHARED)) == VmArea.VM_WRITE;
        for (; addr != end; addr += PhysicalMemory.PAGE_SIZE, ptep += pt.entryBytes()) {
            long e = pt.get(ptep);
            if (!pt.present(PTE, e)) {
                continue;
            }
            long old = pt.getAndClear(ptep);
            long ne = pt.pte_modify(old, vma.vm_page_prot);
            if (wantsWrite && Pgtable.pte_dirty(old) && !Pgtable.pte_special(old)
                    && k.allocator().anonExclusive(pt.pte_page(old))) {   // can_change_pte_writable(): PageAnonExclusive
                ne = Pgtable.pte_mkwrite(ne);
            }
            pt.set_pte(ptep, ne);                        // ptep_modify_prot_commit: set_pte_at()
            if (pte_needs_flush(old, ne)) {
                tlb.tlb_flush_pte_range(addr, PhysicalMemory.PAGE_SIZE);
            }
            pages++;
        }
        ptl.unlock();
        return pages;
    }

    /**
     * pte_needs_flush() (Linux v6.6 arch/x86/include/asm/tlbflush.h) for a present old pte: a
     * flush unless nothing but the accessed bit differs (clearing D or P, or any change of RW,
     * US, NX, caching or pkey bits, or of the frame, needs one).
     */
    private static boolean pte_needs_flush(long oldPte, long newPte) {
        return ((oldPte ^ newPte) & ~PteBits.A) != 0;
    }

    // ---- brk --------------------------------------------------------------------------------------

    /** sys_brk(): the new break, or the old one if it cannot move. */
    long brk(Cpu cpu, MmStruct mm, long brk) {
        k.vmaLocks().mmap_write_lock(mm);
        long newbrk = pageAlign(brk);
        long oldbrk = pageAlign(mm.brk);
        if (Long.compareUnsigned(brk, mm.start_brk) >= 0 && oldbrk != newbrk
                && Long.compareUnsigned(brk, mm.brk) <= 0) {
            // Shrink: unmap [newbrk, oldbrk) as munmap does, downgrading mmap_lock for the
            // page-table work (Linux v6.6 mm/mmap.c sys_brk: do_vmi_align_munmap(..., true)).
            long origbrk = mm.brk;
            mm.brk = brk;
            if (do_vmi_munmap(cpu, mm, newbrk, oldbrk - newbrk, true) != 0) {
                mm.brk = origbrk;
                k.vmaLocks().mmap_write_unlock(mm);
                return origbrk;
            }
            return brk;
        }
        try {
            if (Long.compareUnsigned(brk, mm.start_brk) < 0) {
                return mm.brk;
            }
            if (oldbrk == newbrk) {
                mm.brk = brk;
                return brk;
            }
            VmArea next = mm.mm_mt.find_vma(oldbrk);
            if (next != null && Long.compareUnsigned(newbrk + PhysicalMemory.PAGE_SIZE, vm_start_gap(next)) > 0) {
                return mm.brk;
            }
            if (Long.compareUnsigned(newbrk, mm.task_size) > 0) {
                return mm.brk;
            }
            do_brk_flags(mm, oldbrk, newbrk - oldbrk);
            mm.brk = brk;
            return brk;
        } finally {
            k.vmaLocks().mmap_write_unlock(mm);
        }
    }

    /** do_brk_flags(): extend the brk vma if it ends at addr with the same flags, else a new vma. */
    private void do_brk_flags(MmStruct mm, long addr, long len) {
        long flags = VmArea.VM_READ | VmArea.VM_WRITE | VmArea.VM_MAYREAD | VmArea.VM_MAYWRITE
                | VmArea.VM_MAYEXEC | VmArea.VM_ACCOUNT;
        VmaTree t = mm.mm_mt;
        VmArea prev = t.prev(t.indexOf(addr));
        if (prev != null && prev.vm_end() == addr && prev.vm_flags() == flags) {
            k.vmaLocks().vma_start_write(prev);
            prev.setEnd(addr + len);                                         // vma_expand()
            return;
        }
        t.insert(new VmArea(mm, addr, addr + len, flags, vm_get_page_prot(flags)));
    }

    // ---- stack growth --------------------------------------------------------------------------------

    /** expand_downwards(): grow a VM_GROWSDOWN vma to cover addr; 0 or -ENOMEM. Caller holds mmap_lock for write. */
    int expand_stack_locked(MmStruct mm, VmArea vma, long address) {
        long addr = address & -PhysicalMemory.PAGE_SIZE;
        if ((vma.vm_flags() & VmArea.VM_GROWSDOWN) == 0 || Long.compareUnsigned(addr, MMAP_MIN_ADDR) < 0) {
            return -Errno.ENOMEM;
        }
        VmArea prev = mm.mm_mt.prev(mm.mm_mt.indexOf(vma.vm_start()));
        if (prev != null && Long.compareUnsigned(addr - STACK_GUARD_GAP, prev.vm_end()) < 0) {
            return -Errno.ENOMEM;
        }
        if (vma.vm_end() - addr > RLIMIT_STACK) {
            return -Errno.ENOMEM;
        }
        k.vmaLocks().vma_start_write(vma);
        vma.setStart(addr);                                   // republishes the vma tree's range
        k.stats().stackExpansions.incrementAndGet();
        return 0;
    }

    // ---- fork and exit -----------------------------------------------------------------------------

    /**
     * dup_mmap(mm, oldmm): copy the vmas and, for those with pages, the page tables
     * (copy_page_range, COW), under both mmap_locks; then flush the parent's TLB because its
     * writable ptes became read-only. 0 or -ENOMEM (the caller tears the child down).
     */
    int dup_mmap(Cpu cpu, MmStruct mm, MmStruct oldmm) {
        k.vmaLocks().mmap_write_lock(oldmm);
        k.vmaLocks().mmap_write_lock(mm);                                           // mmap_write_lock_nested()
        int r = 0;
        try {
            mm.task_size = oldmm.task_size;
            mm.mmap_base = oldmm.mmap_base;
            mm.start_brk = oldmm.start_brk;
            mm.brk = oldmm.brk;
            mm.start_stack = oldmm.start_stack;
            VmaTree t = oldmm.mm_mt;
            for (int i = 0; i < t.size(); i++) {
                VmArea src = t.get(i);
                if ((src.vm_flags() & VmArea.VM_DONTCOPY) != 0) {
                    continue;
                }
                // "fork: lock VMAs of the parent process when forking" (v6.5, fb49c455323f): no fault
                // under a vma lock may run while its ptes are write-protected and the flush is pending.
                if (k.faultLocking() != FaultLocking.PER_VMA_FORK_UNLOCKED) {
                    k.vmaLocks().vma_start_write(src);
                }
                VmArea dst = new VmArea(mm, src.vm_start(), src.vm_end(), src.vm_flags(), src.vm_page_prot);
                dst.anon_vma.plainSet(src.anonVmaLocked());   // dst not yet published
                if (src.vm_file != null) {
                    dst.vm_file = src.vm_file;                               // get_file(): the child shares the shmem file
                    dst.vm_file.get_file();
                    dst.vm_pgoff = src.vm_pgoff;
                }
                mm.mm_mt.insert(dst);
                r = memory.copy_page_range(cpu, dst, src);
                if (r != 0) {
                    break;
                }
            }
        } finally {
            k.vmaLocks().mmap_write_unlock(mm);
            k.tlb().flush_tlb_mm(cpu, oldmm);
            k.vmaLocks().mmap_write_unlock(oldmm);
        }
        return r;
    }

    /**
     * exit_mmap(): unmap everything and free every page table below the pgd (floor
     * FIRST_USER_ADDRESS = 0, ceiling USER_PGTABLES_CEILING = 0), with a full-mm gather.
     */
    void exit_mmap(Cpu cpu, MmStruct mm) {
        k.vmaLocks().mmap_write_lock(mm);
        try {
            VmaTree t = mm.mm_mt;
            List<VmArea> all = new ArrayList<>(t.size());
            for (int i = 0; i < t.size(); i++) {
                all.add(t.get(i));
            }
            MmuGather tlb = new MmuGather(k, cpu, mm, true);
            memory.unmap_vmas(tlb, all, 0, -1L);
            memory.free_pgtables(tlb, all, 0, 0);
            tlb.tlb_finish_mmu();
            for (VmArea v : all) {
                remove_vma(v);
            }
            t.clear();
        } finally {
            k.vmaLocks().mmap_write_unlock(mm);
        }
    }
}
