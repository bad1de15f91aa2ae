package ptlab.kernel;

/**
 * How a {@link Kernel} lets a scheduler interleave it: every operation by which one CPU's
 * kernel code can affect another's — a lock operation, an access to a {@link SharedLong} or
 * {@link SharedRef}, a free of a page or page-table page by mmu_gather — is announced here
 * before (or, for a free, as) it happens. A simulation engine implements it to make each one a
 * scheduling point; {@link #NONE} (the default) does nothing, so the kernel runs straight
 * through on the calling thread.
 *
 * <p>It is given to the kernel at construction ({@code new Kernel(mode, cfg, interleaving)})
 * and is final there: every lock and shared variable the kernel creates holds it, so two
 * kernels in one JVM never see each other's interleaving (nothing in this layer is static or
 * thread-local). Physical-memory accesses are the one thing not announced here: they are
 * scheduling points through {@link ptlab.hw.PhysicalMemory}'s own hook, since the page walker
 * makes them too.
 *
 * <p>Implementations must not allocate on the lock and shared-variable paths (the fault path
 * runs through them) and must not suspend the caller while it holds a Java monitor.
 */
public interface Interleaving {

    /** Lock modes. */
    int SPIN = 0;
    int READ = 1;
    int WRITE = 2;

    /** Shared-variable operations: a load, a store, a read-modify-write (CAS, add, or, and-not). */
    int SHARED_LOAD = 0;
    int SHARED_STORE = 1;
    int SHARED_RMW = 2;

    // ---- locks ----------------------------------------------------------------------------------

    /** Before trying to take {@code lock} in {@code mode} (SPIN, READ or WRITE). */
    default void beforeAcquire(KernelLock lock, int mode) {
    }

    /**
     * Before a trylock of {@code lock} ({@code spin_trylock}, {@code down_read_trylock}), which
     * may fail instead of waiting: a scheduler must not park the caller here.
     */
    default void beforeTryAcquire(KernelLock lock, int mode) {
    }

    /** After {@code lock} was taken. */
    default void afterAcquire(KernelLock lock, int mode) {
    }

    /** Before {@code lock} is released. */
    default void beforeRelease(KernelLock lock, int mode) {
    }

    // ---- shared variables -----------------------------------------------------------------------

    /**
     * A location for the new shared variable {@code variable}: distinct variables of one kernel get
     * distinct locations, in creation order (so a run's locations depend only on the run). Its
     * name may be asked for later (a trace), not needed here.
     */
    default long locate(Named variable) {
        return 0;
    }

    /** Before {@code op} (SHARED_LOAD, SHARED_STORE, SHARED_RMW) on the variable at {@code location}. */
    default void beforeShared(long location, int op) {
    }

    // ---- the frame allocator ------------------------------------------------------------------

    /**
     * Before an allocation, a free or a reference-count change in the frame allocator, whose
     * free lists and counts every CPU shares, and on which the invariant checks rely (a frame
     * is free or not): a scheduler orders it against everything.
     */
    default void beforeAllocator() {
    }

    /** After the allocator handed out {@code pa} (a checker's frame generations). */
    default void frameAllocated(long pa) {
    }

    /** After the allocator put {@code pa} back on its free lists. */
    default void frameFreed(long pa) {
    }

    // ---- mmu_gather -----------------------------------------------------------------------------

    /** mmu_gather flushed [start, end) of {@code mm} (tlb_flush_mmu_tlbonly), before freeing. */
    default void gatherFlushed(MmStruct mm, long start, long end, boolean freedTables) {
    }

    /**
     * The same, with the stride the flush was sent with (tlb_get_unmap_shift); by default
     * reported as {@link #gatherFlushed(MmStruct, long, long, boolean)}.
     */
    default void gatherFlushed(MmStruct mm, long start, long end, int strideShift, boolean freedTables) {
        gatherFlushed(mm, start, end, freedTables);
    }

    /** mmu_gather returned page-table page {@code pa} of Linux level {@code level} to the allocator. */
    default void tableFreed(long pa, int level) {
    }

    /** mmu_gather dropped its reference to data page {@code pa} (it may still be in use elsewhere). */
    default void pageFreed(long pa) {
    }

    /** The kernel run straight through: no scheduling points, nothing observed. */
    Interleaving NONE = new Interleaving() {
    };
}
