package ptlab.kernel;

/**
 * The page-table part of paravirt_ops (Linux v6.6 arch/x86/include/asm/paravirt_types.h,
 * struct pv_mmu_ops): how the kernel writes, reads and exchanges page-table entries and tells
 * the platform a page became (or stopped being) a page table. Native hardware needs none of it
 * ({@link Pgtable} uses its plain accesses when no ops are installed); a hypervisor that
 * validates page tables (Xen PV: set_pte → HYPERVISOR_mmu_update, alloc_pte/release_pte →
 * pin/unpin) and a replicating kernel (Mitosis, ASPLOS 2020, is built on these hooks) need all.
 * Per kernel, installed with {@link Pgtable#setPvOps}; no global state.
 */
public interface PvMmuOps {

    /** set_pte / set_pmd / set_pud / set_p4d / set_pgd: store {@code e} at entry {@code p}. */
    void write(long p, long e);

    /** READ_ONCE of entry {@code p} as the kernel sees it (ptep_get). */
    long read(long p);

    /** ptep_get_and_clear: atomic exchange; returns the old entry. */
    long exchange(long p, long e);

    /** cmpxchg on an entry. */
    boolean compareAndSet(long p, long expected, long value);

    /** paravirt_alloc_pte/pmd/pud/p4d: {@code table} (hardware level {@code level}) becomes a page table. */
    default void pin(long table, int level) {
    }

    /** paravirt_release_pte/...: {@code table} stops being a page table (before it is freed). */
    default void unpin(long table, int level) {
    }
}
