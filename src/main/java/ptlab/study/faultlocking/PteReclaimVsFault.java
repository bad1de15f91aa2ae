package ptlab.study.faultlocking;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;


/**
 * {@code pte-reclaim-vs-fault}: an empty pte table reclaimed under mmap_lock for read while a
 * fault under a vma lock installs a pte into it. CPU1 madvise(MADV_DONTNEED)s the only mapped
 * page of a 2 MiB range, which empties its pte table, and frees the table
 * (mm/pt_reclaim.c, 2024). CPU0 write-faults on another page of that range: it read the pmd
 * before the reclaim cleared it, takes the table's PTL after, and — without re-checking that
 * the pmd still points to the table — writes its pte into a table that is no longer linked
 * (invariant 6 at the table's free: it still holds an entry; the page is leaked).
 * {@code per-vma} re-checks the pmd (pte_offset_map_rw_nolock's pmdval) and retries the fault.
 *
 * <p>Check: CPU0 reads back what it wrote ({@link #readBacks()}), and every freed table must be empty.
 */
public final class PteReclaimVsFault extends FaultScenario {

    static final long BASE = 1L << 30;

    private final AtomicLong readBacks = new AtomicLong();

    @Override
    public String name() {
        return "pte-reclaim-vs-fault";
    }

    @Override
    public String description() {
        return "CPU1 reclaims an empty pte table under mmap_lock for read while CPU0 faults a pte into it under a vma lock";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("pte-reclaim-no-recheck", true, "the fault does not re-check the pmd after taking the PTL"),
                new Variant("per-vma", false, "pte_offset_map_rw_nolock + pmd_same re-check under the PTL"));
    }

    public long readBacks() {
        return readBacks.get();
    }

    @Override
    int cpus() {
        return 2;
    }

    @Override
    void setUp(FaultKit kit) {
        kit.mmapFixed(BASE, 2L << 20);
        kit.prefault(1, BASE, 7);                              // the pte table exists, with one page
        long va = BASE + 4096;
        kit.cpu(0, cpu -> FaultKit.writeAndReadBack(cpu, va, 0xabc, readBacks, ""));
        kit.cpu(1, cpu -> kit.kernel.madvise_dontneed(kit.threads[1], BASE, 4096, new long[1]));
    }
}
