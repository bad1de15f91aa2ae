package ptlab.study.faultlocking;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import ptlab.engine.KernelBridge;

/**
 * {@code fault-vs-munmap}: mail 004's race. CPU0 write-faults on the second 2 MiB of a mapping
 * whose first page is populated, so the fault must install a pte table into the existing pmd
 * table; CPU1 munmaps the mapping, and free_pgtables() frees the pte table, the pmd table and
 * the pud table (the mapping is alone in its 512 GiB). A speculative fault holds no lock that
 * keeps munmap out: it walks with interrupts off (the tables are freed only after munmap's flush
 * IPI, which waits for it) and installs the missing table under the pmd lock after re-checking
 * the mm's sequence count. {@code speculative-broken} installs without that re-check: the table
 * lands in a pmd table that munmap already unlinked, and is freed with it — or is left
 * installed where no vma is.
 *
 * <p>Checks: at every page-table free, the table holds no entry (KernelBridge, invariant 6);
 * at the end, every table still installed under the mm's pgd covers some vma (invariant 8,
 * counted by {@link #endChecks()}).
 */
public final class SpeculativeVsMunmap extends FaultScenario {

    static final long BASE = 1L << 30;                    // 1 GiB: its own pgd entry and pud table
    static final long LEN = 4L << 20;

    private final AtomicLong endChecks = new AtomicLong();

    @Override
    public String name() {
        return "fault-vs-munmap";
    }

    @Override
    public String description() {
        return "CPU0 faults in a new pte table without mmap_lock while CPU1 munmaps and free_pgtables() frees the tables";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("speculative-broken", true, "installs the pte table without re-checking the mm sequence count"),
                new Variant("speculative", false, "mm seq re-checked under the pmd lock; fall back to mmap_lock on failure"),
                new Variant("speculative-retry", false, "the same, retrying the speculative fault before falling back"),
                new Variant("per-vma", false, "the vma's read lock (Linux 6.4+): munmap's vma_start_write waits for it"),
                new Variant("mmap-lock", false, "mmap_lock for read over the whole fault"));
    }

    /** End checks evaluated since this instance was made (tests assert they ran). */
    public long endChecks() {
        return endChecks.get();
    }

    @Override
    int cpus() {
        return 2;
    }

    @Override
    void setUp(FaultKit kit) {
        kit.mmapFixed(BASE, LEN);
        kit.prefault(0, BASE, 1);                          // pud, pmd and the first pte table exist
        long va = BASE + (2L << 20);
        kit.cpu(0, cpu -> KernelBridge.userAccess(cpu, true, va, 0xc0ffee));
        kit.cpu(1, cpu -> kit.kernel.munmap(kit.threads[1], BASE, LEN));
        kit.checkTablesInsideVmasAtEnd(endChecks);
    }
}
