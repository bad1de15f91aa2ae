package ptlab.kernel;

import static ptlab.kernel.Pgtable.P4D;
import static ptlab.kernel.Pgtable.PMD;
import static ptlab.kernel.Pgtable.PTE;

import ptlab.hw.PageFaultError;

/**
 * The user page-fault entry of a kernel built with a {@link FaultLocking} other than
 * mmap-lock: Lespinasse's speculative faults and 6.4's per-VMA locks, each falling back to
 * the classic mmap_lock path ({@link Kernel#do_user_addr_fault_locked}) when it cannot finish.
 *
 * <h2>speculative (arch/x86/mm/fault.c + mm/memory.c of "Speculative page faults", v2 2022)</h2>
 * <pre>
 *   seq = mmap_seq_read_start(mm)            odd: a writer is in, give up
 *   vma = vma_lookup() under RCU; copy vm_flags, vm_page_prot    (no lock)
 *   local_irq_disable()                      speculative_page_walk_begin(): free_pgtables()
 *                                            frees only after its flush IPI, which now waits for us
 *   walk pgd..pmd; a missing table: allocate, spin_trylock(PTL), re-check seq and the entry,
 *                                   populate (mail 004; the trylock because a CPU holding the
 *                                   PTL may be waiting for our IPI acknowledgement)
 *   pte_spinlock(): spin_trylock(ptl), re-check seq; pte_none → set_pte_at
 *   local_irq_enable()
 * </pre>
 * A failed check or trylock either retries the speculative fault ({@code speculative-retry},
 * up to {@link #MAX_SPECULATIVE_ATTEMPTS} attempts) or falls back at once ({@code speculative}).
 * Only not-present faults on a vma with an anon_vma are tried; the rest falls back.
 *
 * <h2>per-vma (Linux v6.6 mm/memory.c:lock_vma_under_rcu, arch/x86/mm/fault.c)</h2>
 * <pre>
 *   vma = lock_vma_under_rcu(mm, addr)       vma_start_read(); detached? bounds? anon_vma?
 *   NULL → count_vm_vma_lock_event(VMA_LOCK_ABORT); lock_mm_and_find_vma()   (fallback)
 *   handle_mm_fault(vma, FAULT_FLAG_VMA_LOCK); vma_end_read(vma)
 * </pre>
 * Under a vma lock other vmas change concurrently, and (since "mm: reclaim empty user page
 * table pages", 2024) an empty pte table may be unlinked under mmap_lock for read: so the pte
 * level maps the table with the pmd value it read and re-checks it after taking the PTL
 * ({@code pte_offset_map_lock} / {@code pte_offset_map_rw_nolock} + pmd_same).
 */
public final class FaultPaths {

    /** Attempts of one speculative fault with {@code speculative-retry} before it falls back. */
    public static final int MAX_SPECULATIVE_ATTEMPTS = 4;

    private static final int FAIL = -1;

    private final Kernel k;
    private final Pgtable pt;
    private final FrameAllocator alloc;
    private final VmaLocks vl;

    // Counters (the model's /proc/vmstat SPF_* and VMA_LOCK_* events).
    long speculativeDone;
    long vmaLockDone;
    long retries;
    long fallbacks;
    long pmdRechecksFailed;

    FaultPaths(Kernel k) {
        this.k = k;
        this.pt = k.pgtable();
        this.alloc = k.allocator();
        this.vl = k.vmaLocks();
    }

    /** Faults finished without mmap_lock. */
    public long lockless() {
        return speculativeDone + vmaLockDone;
    }

    /** Speculative attempts that failed and were tried again. */
    public long retries() {
        return retries;
    }

    /** Faults that ended on the mmap_lock path after a failed lockless attempt. */
    public long fallbacks() {
        return fallbacks;
    }

    /** Times the pte level found the pmd changed after taking the PTL (the re-check that caught a reclaim). */
    public long pmdRechecksFailed() {
        return pmdRechecksFailed;
    }

    int do_user_addr_fault(Cpu cpu, Task t, int errorCode, long address) {
        MmStruct m = t.mm;
        if (Long.compareUnsigned(address, m.task_size) >= 0 || (errorCode & PageFaultError.RSVD) != 0) {
            return VmFault.VM_FAULT_SIGSEGV;
        }
        int flags = VmFault.FAULT_FLAG_ALLOW_RETRY | VmFault.FAULT_FLAG_USER;
        if ((errorCode & PageFaultError.WR) != 0) {
            flags |= VmFault.FAULT_FLAG_WRITE;
        }
        FaultLocking f = k.faultLocking();
        if (f == FaultLocking.MMAP_LOCK) {
            return locked(cpu, t, errorCode, address, flags);
        }
        if (f.speculative()) {
            int attempts = f == FaultLocking.SPECULATIVE_RETRY ? MAX_SPECULATIVE_ATTEMPTS : 1;
            for (int i = 0; i < attempts; i++) {
                if (i > 0) {
                    retries++;
                }
                int r = speculative(cpu, m, errorCode, address, flags);
                if (r != FAIL) {
                    speculativeDone++;
                    return r;
                }
            }
        } else {
            int r = perVma(cpu, m, errorCode, address, flags);
            if (r != FAIL) {
                vmaLockDone++;
                return r;
            }
        }
        fallbacks++;
        return locked(cpu, t, errorCode, address, flags);
    }

    /**
     * The mmap_lock path (lock_mm_and_find_vma, handle_mm_fault) with the same pte-level code
     * as the lockless paths, so that the paths differ only in how they find and protect the
     * vma. Stack growth and bad addresses go to the classic handler.
     */
    private int locked(Cpu cpu, Task t, int errorCode, long address, int flags) {
        MmStruct mm = t.mm;
        mm.mmap_lock.down_read();
        VmArea vma = mm.mm_mt.vma_lookup(address);
        if (vma == null || Kernel.access_error(errorCode, vma)) {
            mm.mmap_lock.up_read();
            return k.do_user_addr_fault_locked(cpu, t, errorCode, address);
        }
        int r = FAIL;
        if ((errorCode & PageFaultError.P) == 0) {
            if ((vma.vm_flags() & VmArea.VM_SHARED) == 0 && (flags & VmFault.FAULT_FLAG_WRITE) != 0) {
                vma.anon_vma_prepare();                        // under mmap_lock: allowed here
            }
            r = anonFault(cpu, vma, address, flags, -1, vma.vm_flags(), vma.vm_page_prot());
        }
        if (r == FAIL) {
            r = k.handle_mm_fault(cpu, vma, address, flags);
        }
        mm.mmap_lock.up_read();
        return r;
    }

    // ---- per-VMA locks --------------------------------------------------------------------

    /** lock_vma_under_rcu(): the vma containing address, read-locked, or null. */
    public VmArea lock_vma_under_rcu(MmStruct mm, long address) {
        VmArea vma = mm.mm_mt.find_vma_rcu(address);          // mas_walk() under rcu_read_lock()
        if (vma == null || !vl.vma_start_read(vma)) {
            return null;
        }
        // The vma may have been detached, or its bounds changed, before we locked it.
        if (vl.detached(vma) || !vma.contains(address)
                || ((vma.vm_flags() & VmArea.VM_SHARED) == 0 && vma.anon_vma.get() == 0)) {
            vl.vma_end_read(vma);                              // anon_vma_prepare() needs mmap_lock (6.4)
            return null;
        }
        return vma;
    }

    private int perVma(Cpu cpu, MmStruct mm, int errorCode, long address, int flags) {
        VmArea vma = lock_vma_under_rcu(mm, address);
        if (vma == null) {
            return FAIL;
        }
        int r;
        if (Kernel.access_error(errorCode, vma)) {
            r = VmFault.VM_FAULT_SIGSEGV;
        } else if ((errorCode & PageFaultError.P) == 0) {
            r = anonFault(cpu, vma, address, flags, -1, vma.vm_flags(), vma.vm_page_prot());
            if (r == FAIL) {
                r = k.handle_mm_fault(cpu, vma, address, flags);   // a huge pmd: the generic path
            }
        } else {
            r = k.handle_mm_fault(cpu, vma, address, flags);       // write-protect (COW) faults
        }
        vl.vma_end_read(vma);
        return r;
    }

    // ---- speculative ---------------------------------------------------------------------

    private int speculative(Cpu cpu, MmStruct mm, int errorCode, long address, int flags) {
        long seq = vl.mm_seq(mm);                              // mmap_seq_read_start()
        if ((seq & 1) != 0) {
            return FAIL;
        }
        VmArea vma = mm.mm_mt.find_vma_rcu(address);          // under rcu_read_lock(): copied below
        if (vma == null || Long.compareUnsigned(vma.vm_start.get(), address) > 0
                || (errorCode & PageFaultError.P) != 0) {
            return FAIL;                                       // not handled speculatively
        }
        long vmFlags = vma.vm_flags.get();                     // the copy; the seq re-checks validate it
        long prot = vma.vm_page_prot();
        if (accessError(errorCode, vmFlags) || ((vmFlags & VmArea.VM_SHARED) == 0 && vma.anon_vma.get() == 0)) {
            return FAIL;
        }
        return anonFault(cpu, vma, address, flags, seq, vmFlags, prot);
    }

    /** access_error() on the copied flags (arch/x86/mm/fault.c) for a not-present fault. */
    private static boolean accessError(int errorCode, long vmFlags) {
        if ((errorCode & (PageFaultError.PK | PageFaultError.P)) != 0) {
            return true;
        }
        if ((errorCode & PageFaultError.WR) != 0) {
            return (vmFlags & VmArea.VM_WRITE) == 0;
        }
        return (vmFlags & (VmArea.VM_READ | VmArea.VM_WRITE | VmArea.VM_EXEC)) == 0;
    }

    // ---- the lockless walk and pte install, shared by both -----------------------------------

    /**
     * do_anonymous_page() reached without mmap_lock. {@code seq >= 0}: speculative (tables may
     * be freed under us, so interrupts are off and every check re-validates {@code seq});
     * {@code seq < 0}: under a vma lock (upper tables are stable; the pte table may be
     * reclaimed, so the pmd is re-checked). Returns a VM_FAULT_* value or FAIL.
     */
    private int anonFault(Cpu cpu, VmArea vma, long address, int flags, long seq, long vmFlags, long prot) {
        MmStruct mm = vma.vm_mm;
        boolean spec = seq >= 0;
        boolean write = (flags & VmFault.FAULT_FLAG_WRITE) != 0;
        boolean shared = (vmFlags & VmArea.VM_SHARED) != 0;
        // speculative_page_walk_begin(): interrupts off, so free_pgtables() cannot free a table we
        // walk (its flush IPI waits for us); every lock below is then a trylock, since a CPU
        // holding it may be waiting for that IPI. Under a vma lock (or mmap_lock) the walk may
        // block on locks, so interrupts stay on (rcu_read_lock in Linux): a reclaimed pte table
        // is caught by the pmd re-check instead.
        if (spec) {
            cpu.local_irq_disable();
        }
        try {
            long p = pt.pgd_offset(mm, address);
            for (int l = P4D; l >= PMD; l--) {
                long e = pt.get(p);                            // READ_ONCE: the one value this walk uses
                if (pt.none(l + 1, e)) {
                    int r = spec ? installTable(cpu, mm, l, p, seq) : pt.allocTable(l, mm, p, cpu.node());
                    if (r != 0) {
                        return r == -Errno.ENOMEM ? VmFault.VM_FAULT_OOM : FAIL;
                    }
                    e = pt.get(p);
                    if (pt.none(l + 1, e)) {
                        return FAIL;                           // unlinked again meanwhile
                    }
                }
                // pXd_offset() from the value read, not a second read of the entry (munmap may clear it)
                p = pt.folded(l) ? p : pt.table(e) + (long) pt.mode().index(address, l) * pt.entryBytes();
            }
            long pmdp = p;
            long pmdval = pt.get(pmdp);
            if (pt.none(PMD, pmdval)) {
                int r = spec ? installTable(cpu, mm, PTE, pmdp, seq) : pt.allocTable(PTE, mm, pmdp, cpu.node());
                if (r != 0) {
                    return r == -Errno.ENOMEM ? VmFault.VM_FAULT_OOM : FAIL;
                }
                pmdval = pt.get(pmdp);
            }
            if (pt.none(PMD, pmdval) || pt.leaf(PMD, pmdval)) {
                return FAIL;                                   // reclaimed already, or a huge pmd
            }
            long page;
            long entry;
            if (!write && !shared && k.config().zeroPage()) {
                page = -1;
                entry = Pgtable.pte_mkspecial(pt.pfn_pte(k.zeroPage(), Pgtable.pte_wrprotect(prot)));
            } else {
                page = alloc.allocFrame(cpu.node(), FrameUse.USER);
                if (page < 0) {
                    return VmFault.VM_FAULT_OOM;
                }
                entry = pt.pfn_pte(page, prot);
                if ((vmFlags & VmArea.VM_WRITE) != 0) {
                    entry = Pgtable.pte_mkwrite(Pgtable.pte_mkdirty(entry));
                }
            }
            long table = pt.table(pmdval);                     // pte_offset_map_rw_nolock(): table and pmdval
            SpinLock ptl = pt.ptlock(table);
            if (spec ? !ptl.tryLock() : lockPtl(ptl)) {
                putPage(page);
                return FAIL;
            }
            // The re-checks. Speculative: nothing changed the mm since we started (pte_spinlock()).
            // Vma-locked: the pmd still points to the table whose lock we hold (pmd_same()).
            boolean valid = spec ? vl.mm_seq(mm) == seq
                    : k.faultLocking() == FaultLocking.PTE_RECLAIM_NO_RECHECK || pt.get(pmdp) == pmdval;
            long ptep = table + (long) pt.mode().index(address, PTE) * pt.entryBytes();
            if (!valid || !pt.none(PTE, pt.get(ptep))) {
                ptl.unlock();
                putPage(page);
                if (!valid && !spec) {
                    pmdRechecksFailed++;
                    return 0;                                  // the access retries and faults again
                }
                return valid ? 0 : FAIL;                        // another fault mapped it: done
            }
            if (page >= 0) {
                if (!shared) {
                    mm.addRss(1);
                }
                k.stats().anonPages.incrementAndGet();
            } else {
                k.stats().zeroPageMaps.incrementAndGet();
            }
            pt.set_pte(ptep, entry);                        // set_pte_at()
            ptl.unlock();
            k.stats().pgfault.incrementAndGet();
            return 0;
        } finally {
            if (spec) {
                cpu.local_irq_enable();
            }
        }
    }

    private static boolean lockPtl(SpinLock ptl) {
        ptl.lock();
        return false;
    }

    private void putPage(long page) {
        if (page >= 0) {
            alloc.putPage(page);
        }
    }

    /**
     * A missing level-{@code l} table installed speculatively under the lock that orders its
     * parent entry, with mail 004's re-check: the mm's sequence count is still {@code seq}
     * (no munmap has started, so free_pgtables has not passed this entry — it clears entries
     * under the same lock, see Memory.unlinkTable). {@code speculative-broken} installs without
     * that re-check. Returns 0, FAIL or -ENOMEM.
     */
    private int installTable(Cpu cpu, MmStruct mm, int l, long parentp, long seq) {
        long table = pt.alloc_one(l, cpu.node());
        if (table < 0) {
            return -Errno.ENOMEM;
        }
        SpinLock lock = l == PTE ? pt.pmd_lockptr(mm, parentp) : mm.page_table_lock;
        if (!lock.tryLock()) {
            alloc.freeFrame(table);
            return FAIL;
        }
        boolean broken = k.faultLocking() == FaultLocking.SPECULATIVE_BROKEN;
        boolean unchanged = broken || vl.mm_seq(mm) == seq;
        boolean empty = l == PTE ? pt.none(PMD, pt.get(parentp)) : !pt.present(l + 1, pt.get(parentp));
        if (unchanged && empty) {
            mm.incPgtables(l);
            pt.populate(mm, l + 1, parentp, table);
        }
        lock.unlock();
        if (!unchanged || !empty) {
            alloc.freeFrame(table);
        }
        return unchanged ? 0 : FAIL;
    }
}
