package ptlab.kernel;

/**
 * How a user page fault finds and protects its vma: the three designs of mail 004 and Linux
 * history, and the broken variants of each (real bug classes). Fixed when the {@link Kernel}
 * is built ({@code new Kernel(mode, cfg, FaultLocking.PER_VMA)}).
 *
 * <pre>
 *   name                     vma found under                  page tables installed
 *   mmap-lock                mmap_lock read, whole fault      pXd_alloc under page_table_lock / pmd lock
 *   speculative              nothing: mm seq count + RCU      under trylocked PTLs, mm seq re-checked
 *   speculative-retry          (same; a failed check retries the speculative fault instead of falling back)
 *   per-vma                  the vma's read lock (6.4+)       as mmap-lock; pte level re-checks the pmd
 *   speculative-broken       as speculative, but a missing table is installed without the re-check
 *   per-vma-fork-unlocked    as per-vma, but dup_mmap does not vma_start_write() the parent's vmas (6.4.0)
 *   pte-reclaim-no-recheck   as per-vma, but the pte level does not re-check the pmd after taking the PTL
 * </pre>
 */
public enum FaultLocking {
    MMAP_LOCK("mmap-lock", false),
    SPECULATIVE("speculative", false),
    SPECULATIVE_RETRY("speculative-retry", false),
    PER_VMA("per-vma", false),
    SPECULATIVE_BROKEN("speculative-broken", true),
    PER_VMA_FORK_UNLOCKED("per-vma-fork-unlocked", true),
    PTE_RECLAIM_NO_RECHECK("pte-reclaim-no-recheck", true);

    private final String cliName;
    private final boolean broken;

    FaultLocking(String cliName, boolean broken) {
        this.cliName = cliName;
        this.broken = broken;
    }

    public String cliName() {
        return cliName;
    }

    public boolean broken() {
        return broken;
    }

    /** The speculative (lockless vma, mm-sequence-validated) family. */
    public boolean speculative() {
        return this == SPECULATIVE || this == SPECULATIVE_RETRY || this == SPECULATIVE_BROKEN;
    }

    /** The per-VMA-lock family. */
    public boolean perVma() {
        return this == PER_VMA || this == PER_VMA_FORK_UNLOCKED || this == PTE_RECLAIM_NO_RECHECK;
    }

    public static FaultLocking byName(String name) {
        for (FaultLocking f : values()) {
            if (f.cliName.equals(name)) {
                return f;
            }
        }
        StringBuilder sb = new StringBuilder();
        for (FaultLocking f : values()) {
            sb.append(sb.length() == 0 ? "" : ", ").append(f.cliName);
        }
        throw new IllegalArgumentException("unknown fault path '" + name + "' (known: " + sb + ")");
    }

    @Override
    public String toString() {
        return cliName;
    }
}
