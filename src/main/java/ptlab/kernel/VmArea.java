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
    long vm_start;
    long vm_end;
    long vm_flags;
    /** The pte protection bits for this vma's flags (vm_get_page_prot). */
    long vm_page_prot;
    /**
     * The anon_vma's identity (0: none yet). Set by anon_vma_prepare() at the first fault, so
     * fork must copy the page tables; shared by the pieces of a split, which may merge again.
     */
    long anon_vma;
    /** MAP_SHARED|MAP_ANONYMOUS: the shmem file behind the mapping (null for private memory). */
    ShmemFile vm_file;
    /** vm_pgoff: the file page that vm_start maps. */
    long vm_pgoff;
    private static final java.util.concurrent.atomic.AtomicLong NEXT_ANON_VMA = new java.util.concurrent.atomic.AtomicLong(1);

    /** anon_vma_prepare(). */
    void anon_vma_prepare() {
        if (anon_vma == 0) {
            anon_vma = NEXT_ANON_VMA.getAndIncrement();
        }
    }

    VmArea(MmStruct mm, long start, long end, long flags, long pageProt) {
        this.vm_mm = mm;
        this.vm_start = start;
        this.vm_end = end;
        this.vm_flags = flags;
        this.vm_page_prot = pageProt;
    }

    public long vm_start() {
        return vm_start;
    }

    public long vm_end() {
        return vm_end;
    }

    public long vm_flags() {
        return vm_flags;
    }

    public long vm_page_prot() {
        return vm_page_prot;
    }

    public boolean hasAnonVma() {
        return anon_vma != 0;
    }

    /**
     * is_mergeable_vma() + is_mergeable_anon_vma() for {@code o} right after this vma: same
     * flags, compatible anon_vma, the same file at consecutive page offsets.
     */
    boolean mergeableWith(VmArea o) {
        return vm_flags == o.vm_flags && (anon_vma == 0 || o.anon_vma == 0 || anon_vma == o.anon_vma)
                && vm_file == o.vm_file && (vm_file == null || vm_pgoff + ((vm_end - vm_start) >>> 12) == o.vm_pgoff);
    }

    /** The file page {@code addr} maps (linear_page_index). */
    long linear_page_index(long addr) {
        return vm_pgoff + ((addr - vm_start) >>> 12);
    }

    public long size() {
        return vm_end - vm_start;
    }

    public boolean contains(long addr) {
        return Long.compareUnsigned(addr, vm_start) >= 0 && Long.compareUnsigned(addr, vm_end) < 0;
    }

    /** is_cow_mapping(): private and may be written, so fork must write-protect it. */
    public boolean isCowMapping() {
        return (vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
    }

    /** vma_is_accessible(). */
    public boolean isAccessible() {
        return (vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) != 0;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%x-%x ", vm_start, vm_end));
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
