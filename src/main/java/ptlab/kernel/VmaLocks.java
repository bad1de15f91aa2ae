package ptlab.kernel;

import ptlab.hw.PhysicalMemory;

/**
 * The mm's sequence count and the per-VMA locks, kept in simulated kernel memory so that every
 * read and write of them is a scheduling point at its own address (and, in timed runs, a cache
 * line with an owner that other CPUs' writes must steal).
 *
 * <h2>Layout</h2>
 * <pre>
 *   mm page (FrameUse.KERNEL, one per mm, more as vmas are created; freed at __mmdrop)
 *   +0    mm_seq        line 0: mmap_seq / mm_lock_seq (odd while mmap_lock is held for write)
 *   +128  vma slot 0    +0 vm_lock_seq+1 +8 detached      (line of the vma lock; 0 = never
 *                                                          write-locked, Linux's initial -1)
 *                       +64 fault-path fields (unused: the model keeps vm_flags in Java)
 *   +256  vma slot 1 ...
 * </pre>
 *
 * <h2>Protocols (Linux v6.6 include/linux/mm.h, include/linux/mmap_lock.h)</h2>
 * One count serves both designs. Lespinasse's speculative faults (2022, "mmap_seq") read it at
 * the start and re-check it under the page-table lock; 6.4's per-VMA locks compare a vma's
 * {@code vm_lock_seq} with it. {@link #mmap_write_lock} makes it odd, {@link #mmap_write_unlock}
 * (vma_end_write_all) even again, so every vma write-locked in between is unlocked at once.
 * <ul>
 * <li>{@link #vma_start_write}: {@code down_write(vm_lock); vm_lock_seq = mm_seq; up_write}
 *     — waits for readers already in, and keeps new ones out until the mmap_lock is dropped.</li>
 * <li>{@link #vma_start_read}: fail if {@code vm_lock_seq == mm_seq}; {@code down_read_trylock};
 *     check again (the writer may have come between the two).</li>
 * </ul>
 * A kernel built without a {@link FaultLocking} (the legacy constructor) has no such memory:
 * every operation here is then a no-op, and the mmap_lock alone orders everything.
 */
public final class VmaLocks {

    static final int VMA_SLOT = 128;
    private static final int VM_LOCK_SEQ = 0;
    private static final int DETACHED = 8;

    private final FrameAllocator alloc;
    private final PhysicalMemory mem;
    private final boolean enabled;

    VmaLocks(FrameAllocator alloc, PhysicalMemory mem, boolean enabled) {
        this.alloc = alloc;
        this.mem = mem;
        this.enabled = enabled;
    }

    public boolean enabled() {
        return enabled;
    }

    /** What one mm keeps in simulated memory: its pages and the next free vma slot. */
    static final class MmShared {
        final FrameAllocator alloc;
        long[] pages = new long[4];
        int npages;
        long next;      // next free slot address
        long limit;
        long seqAddr;

        MmShared(FrameAllocator alloc) {
            this.alloc = alloc;
        }

        /** The next vma slot (vm_area_alloc); a new kernel page when this one is full. */
        long allocSlot() {
            if (next + VMA_SLOT > limit) {
                newPage();
            }
            long a = next;
            next += VMA_SLOT;
            return a;
        }

        void newPage() {
            long pa = alloc.allocFrame(0, FrameUse.KERNEL);
            if (pa < 0) {
                throw new IllegalStateException("out of memory for vm_area_struct slab pages");
            }
            if (npages == pages.length) {
                pages = java.util.Arrays.copyOf(pages, npages * 2);
            }
            pages[npages++] = pa;
            next = pa;
            limit = pa + PhysicalMemory.PAGE_SIZE;
        }
    }

    /** mm_init(): the mm's first kernel page, with mm_seq = 0. */
    void mm_init(MmStruct mm) {
        if (!enabled) {
            return;
        }
        MmShared s = new MmShared(alloc);
        mm.shared = s;
        s.seqAddr = s.allocSlot();
    }

    /** __mmdrop(): the mm's kernel pages go back (vmas are gone: their slots with them). */
    void mm_free(MmStruct mm) {
        MmShared s = mm.shared;
        if (s == null) {
            return;
        }
        for (int i = 0; i < s.npages; i++) {
            alloc.freeFrame(s.pages[i]);
        }
        mm.shared = null;
    }

    /** The vma's slot (taken by its constructor, never reused within the mm). */
    long slot(VmArea v) {
        return v.slot;
    }

    /** Physical address of mm_seq (for traces and cache-line accounting). */
    public long seqAddr(MmStruct mm) {
        return mm.shared == null ? -1 : mm.shared.seqAddr;
    }

    /** raw_read_seqcount(&mm->mmap_seq) / READ_ONCE(mm->mm_lock_seq). */
    public long mm_seq(MmStruct mm) {
        return enabled ? mem.loadLong(mm.shared.seqAddr) : 0;
    }

    // ---- mmap_lock for write ---------------------------------------------------------------

    /** mmap_write_lock(): down_write, then the count goes odd (mmap_seq_write_start). */
    public void mmap_write_lock(MmStruct mm) {
        mm.mmap_lock.down_write();
        bumpSeq(mm);
    }

    /** mmap_write_unlock(): vma_end_write_all (count even again), then up_write. */
    public void mmap_write_unlock(MmStruct mm) {
        bumpSeq(mm);
        mm.mmap_lock.up_write();
    }

    /** mmap_write_downgrade(): vma_end_write_all, then downgrade_write. */
    public void mmap_write_downgrade(MmStruct mm) {
        bumpSeq(mm);
        mm.mmap_lock.downgrade_write();
    }

    private void bumpSeq(MmStruct mm) {
        if (enabled) {
            long a = mm.shared.seqAddr;
            mem.storeLong(a, mem.loadLong(a) + 1);   // under mmap_lock for write: no other writer
        }
    }

    // ---- per-VMA locks (Linux v6.6 include/linux/mm.h) ---------------------------------------

    /**
     * vma_start_write(): caller holds mmap_lock for write. Waits for the vma's readers to leave
     * (down_write of vm_lock) and marks it write-locked until mmap_write_unlock.
     */
    public void vma_start_write(VmArea v) {
        if (!enabled) {
            return;
        }
        long seq = mm_seq(v.vm_mm);
        long a = slot(v) + VM_LOCK_SEQ;
        if (mem.loadLong(a) - 1 == seq) {
            return;                                            // __is_vma_write_locked()
        }
        RwSemaphore l = v.vmLock();
        l.down_write();
        mem.storeLong(a, seq + 1);                             // WRITE_ONCE(vma->vm_lock_seq, mm_lock_seq)
        l.up_write();
    }

    /**
     * vma_start_read(): the lockless fault's attempt to read-lock {@code v}; false if it is
     * write-locked or being write-locked (the caller falls back to mmap_lock).
     */
    public boolean vma_start_read(VmArea v) {
        long a = slot(v) + VM_LOCK_SEQ;
        if (mem.loadLong(a) - 1 == mm_seq(v.vm_mm)) {
            return false;                                      // write-locked: do not even try
        }
        RwSemaphore l = v.vmLock();
        if (!l.down_read_trylock()) {
            return false;
        }
        // "Overflow might produce false locked result" aside, a writer that took vm_lock and
        // set vm_lock_seq between our first check and the trylock is seen here.
        if (mem.loadLong(a) - 1 == mm_seq(v.vm_mm)) {
            l.up_read();
            return false;
        }
        return true;
    }

    /** vma_end_read(). */
    public void vma_end_read(VmArea v) {
        v.vmLock().up_read();
    }

    /** vma_mark_detached(vma, true): caller write-locked it; lockless readers check this. */
    public void vma_mark_detached(VmArea v) {
        if (enabled) {
            vma_start_write(v);
            mem.storeLong(slot(v) + DETACHED, 1);
        }
        v.detached = true;
    }

    /** READ_ONCE(vma->detached), for a reader holding the vma's read lock. */
    public boolean detached(VmArea v) {
        return mem.loadLong(slot(v) + DETACHED) != 0;
    }
}
