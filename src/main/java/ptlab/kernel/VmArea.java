package ptlab.kernel;

/**
 * struct vm_area_struct (Linux v6.6): one contiguous range [vm_start, vm_end) of an mm with the same
 * protection and flags. Anonymous memory only: private (anon_vma) or shared, whose vm_file is
 * the anonymous shmem file of shmem_zero_setup ({@link ShmemFile}). Changed only under the mm's
 * mmap_lock held for write.
 */
public final class VmArea {

    // include/linux/mm.h
    public static final long VM_NONE = 0;
    public static final long VM_READ = 0x1;
    public static final long VM_WRITE = 0x2;
    public static final long VM_EXEC = 0x4;
    public static final long VM_SHARED = 0x8;
    public static final long VM_MAYREAD = 0x10;
    public static final long VM_MAYWRITE = 0x20;
    public static final long VM_MAYEXEC = 0x40;
    public static final long VM_MAYSHARE = 0x80;
    public static final long VM_GROWSDOWN = 0x100;
    public static final long VM_DONTCOPY = 0x20000;
    public static final long VM_ACCOUNT = 0x100000;
    public static final long VM_HUGEPAGE = 0x20000000;
    public static final long VM_NOHUGEPAGE = 0x40000000L;

    public final MmStruct vm_mm;
    /**
     * vm_start, vm_end, vm_flags: written only with mmap_lock held for write (each write inside a
     * vm_sequence write section, see {@link #setBounds}), so code holding mmap_lock reads them
     * plainly ({@link #vm_start()}); a lockless reader reads the shared variables themselves.
     */
    public final SharedLong vm_start;
    public final SharedLong vm_end;
    public final SharedLong vm_flags;
    /** The pte protection bits for this vma's flags (vm_get_page_prot); changes with vm_flags. */
    long vm_page_prot;
    /**
     * vma->vm_sequence (the speculative page fault series' seqcount, mail 004): odd while a
     * writer changes the vma's bounds or flags. A lockless reader samples it before and checks
     * it after using the vma.
     */
    public final SharedLong vm_sequence;
    /**
     * The anon_vma's identity (0: none yet). Set by anon_vma_prepare() at the first fault, so
     * fork must copy the page tables; shared by the pieces of a split, which may merge again.
     * Shared: two faults holding mmap_lock for read race on it (anon_vma_prepare).
     */
    public final SharedLong anon_vma;
    /**
     * MAP_SHARED|MAP_ANONYMOUS: the shmem file behind the mapping (null for private memory).
     * Set before the vma is published and never changed.
     */
    ShmemFile vm_file;
    /** vm_pgoff: the file page that vm_start maps; set before the vma is published. */
    long vm_pgoff;

    /**
     * anon_vma_prepare() (Linux v6.6 mm/rmap.c:__anon_vma_prepare): the unlocked check, then
     * under mm->page_table_lock the re-check and the set, so two faulting CPUs agree on one.
     */
    void anon_vma_prepare() {
        if (anon_vma.get() != 0) {
            return;
        }
        vm_mm.page_table_lock.lock();
        if (anon_vma.get() == 0) {
            anon_vma.set(vm_mm.newAnonVma());
        }
        vm_mm.page_table_lock.unlock();
    }

    /** Address of this vma's lock words in simulated memory ({@link VmaLocks}), 0 until first used. */
    long slot;
    /** vma->vm_lock (a separate allocation since 6.4: its count must not bounce the fault path's line). */
    private final RwSemaphore vm_lock;
    /** vma->detached: removed from the tree; a lockless reader that still found it must not use it. */
    boolean detached;

    RwSemaphore vmLock() {
        return vm_lock;
    }

    VmArea(MmStruct mm, long start, long end, long flags, long pageProt) {
        this.vm_mm = mm;
        Interleaving il = mm.interleaving();
        String n = "vma@0x" + Long.toHexString(start);   // String.format("vma@0x%x"), without its parser
        this.vm_start = new SharedLong(il, n, ".vm_start", start);
        this.vm_end = new SharedLong(il, n, ".vm_end", end);
        this.vm_flags = new SharedLong(il, n, ".vm_flags", flags);
        this.vm_sequence = new SharedLong(il, n, ".vm_sequence", 0);
        this.anon_vma = new SharedLong(il, n, ".anon_vma", 0);
        this.vm_page_prot = pageProt;
        // vm_area_alloc(): the lock words' slot is taken here, under mmap_lock for write (or
        // before the mm runs), never between two scheduling points of a lockless reader.
        this.slot = mm.shared == null ? 0 : mm.shared.allocSlot();
        this.vm_lock = mm.shared == null ? null : new RwSemaphore(n, ".vm_lock", il);
    }

    /** vm_write_begin(): vm_sequence odd; the caller holds mmap_lock for write. */
    private void writeBegin() {
        vm_sequence.set(vm_sequence.plainGet() + 1);
    }

    /** vm_write_end(): vm_sequence even again. */
    private void writeEnd() {
        vm_sequence.set(vm_sequence.plainGet() + 1);
    }

    /** New bounds, in a vm_sequence write section, and the vma tree's copy of them republished. */
    void setBounds(long start, long end) {
        writeBegin();
        vm_start.set(start);
        vm_end.set(end);
        writeEnd();
        vm_mm.mm_mt.boundsChanged(this);
    }

    void setStart(long start) {
        setBounds(start, vm_end.plainGet());
    }

    void setEnd(long end) {
        setBounds(vm_start.plainGet(), end);
    }

    /** New flags and page protection (mprotect), in a vm_sequence write section. */
    void setFlags(long flags, long pageProt) {
        writeBegin();
        vm_flags.set(flags);
        vm_page_prot = pageProt;
        writeEnd();
    }

    /** anon_vma set by the mmap_lock writer (split, merge, fork's copy): no reader can be preparing it. */
    void setAnonVma(long av) {
        anon_vma.set(av);
    }

    long anonVmaLocked() {
        return anon_vma.plainGet();
    }

    /** vm_start, read under mmap_lock (no scheduling point: every writer holds it for write). */
    public long vm_start() {
        return vm_start.plainGet();
    }

    /** vm_end, read under mmap_lock. */
    public long vm_end() {
        return vm_end.plainGet();
    }

    /** vm_flags, read under mmap_lock. */
    public long vm_flags() {
        return vm_flags.plainGet();
    }

    public long vm_page_prot() {
        return vm_page_prot;
    }

    public boolean hasAnonVma() {
        return anon_vma.plainGet() != 0;
    }

    /**
     * is_mergeable_vma() + is_mergeable_anon_vma() for {@code o} right after this vma: same
     * flags, compatible anon_vma, the same file at consecutive page offsets.
     */
    boolean mergeableWith(VmArea o) {
        long a = anonVmaLocked();
        long b = o.anonVmaLocked();
        return vm_flags() == o.vm_flags() && (a == 0 || b == 0 || a == b)
                && vm_file == o.vm_file && (vm_file == null || vm_pgoff + ((vm_end() - vm_start()) >>> 12) == o.vm_pgoff);
    }

    /** The file page {@code addr} maps (linear_page_index). */
    long linear_page_index(long addr) {
        return vm_pgoff + ((addr - vm_start()) >>> 12);
    }

    public long size() {
        return vm_end() - vm_start();
    }

    public boolean contains(long addr) {
        return Long.compareUnsigned(addr, vm_start()) >= 0 && Long.compareUnsigned(addr, vm_end()) < 0;
    }

    /** is_cow_mapping(): private and may be written, so fork must write-protect it. */
    public boolean isCowMapping() {
        return (vm_flags() & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
    }

    /** vma_is_accessible(). */
    public boolean isAccessible() {
        return (vm_flags() & (VM_READ | VM_WRITE | VM_EXEC)) != 0;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        long vm_flags = vm_flags();
        sb.append(String.format("%x-%x ", vm_start(), vm_end()));
        sb.append((vm_flags & VM_READ) != 0 ? 'r' : '-');
        sb.append((vm_flags & VM_WRITE) != 0 ? 'w' : '-');
        sb.append((vm_flags & VM_EXEC) != 0 ? 'x' : '-');
        sb.append((vm_flags & VM_SHARED) != 0 ? 's' : 'p');
        if ((vm_flags & VM_GROWSDOWN) != 0) {
            sb.append(" [stack]");
        }
        return sb.toString();
    }
}
