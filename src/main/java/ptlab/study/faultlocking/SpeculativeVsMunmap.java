package ptlab.study.faultlocking;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import ptlab.hw.PagingMode;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Violation;
import ptlab.kernel.FaultLocking;
import ptlab.kernel.Kernel;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Pgtable;
import ptlab.kernel.VmArea;

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
public final class SpeculativeVsMunmap implements Scenario {

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

    /** The paging modes this scenario runs in, its default first. */
    static final List<PagingMode> MODES = List.of(PagingMode.X86_64, PagingMode.X86_32, PagingMode.X86_32_PAE,
            PagingMode.X86_64_LA57);

    @Override
    public List<PagingMode> modes(String variant) {
        return MODES;
    }

    @Override
    public Machine build(String variant) {
        return build(variant, modes(variant).get(0));
    }

    @Override
    public Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        FaultLocking path = FaultLocking.byName(variant(variant).name());
        FaultKit kit = new FaultKit(path, 2, mode);
        kit.mmapFixed(BASE, LEN);
        kit.prefault(0, BASE, 1);                          // pud, pmd and the first pte table exist
        long va = BASE + (2L << 20);
        kit.cpu(0, cpu -> KernelBridge.userAccess(cpu, true, va, 0xc0ffee));
        kit.cpu(1, cpu -> kit.kernel.munmap(kit.threads[1], BASE, LEN));
        MmStruct mm = kit.threads[0].mm();
        kit.machine.addEndCheck(m -> {
            endChecks.incrementAndGet();
            m.checked(8);
            return tablesInsideVmas(m, kit.kernel, mm);
        });
        return kit.machine;
    }

    /**
     * Invariant 8 for tables: every page-table page still linked under {@code mm}'s user pgd
     * entries maps a range some vma overlaps (free_pgtables frees every other one).
     */
    static Violation tablesInsideVmas(Machine m, Kernel k, MmStruct mm) {
        Violation[] v = {null};
        m.unobserved(() -> {
            Pgtable pt = k.pgtable();
            long top = mm.taskSize();
            long a = 0;
            outer:
            while (Long.compareUnsigned(a, top) < 0 && v[0] == null) {
                long p = pt.pgd_offset(mm, a);
                for (int l = Pgtable.PGD; l > Pgtable.PMD; l--) {
                    if (pt.none(l, pt.get(p))) {
                        long next = (a + pt.size(l)) & pt.mask(l);   // nothing below: skip the whole entry
                        if (next == 0) {
                            break outer;
                        }
                        a = next;
                        continue outer;
                    }
                    p = pt.offset(l - 1, p, a);
                }
                long e = pt.get(p);
                long step = pt.size(Pgtable.PMD);
                if (!pt.none(Pgtable.PMD, e) && !pt.leaf(Pgtable.PMD, e) && !overlapsVma(mm, a, step)) {
                    v[0] = new Violation(8, m.steps(), String.format("mm%d still has a pte table (pmd entry 0x%x) "
                            + "for 0x%x-0x%x, where no vma is: it was installed after munmap's free_pgtables passed",
                            mm.id(), e, a, a + step));
                }
                a += step;
            }
        });
        return v[0];
    }

    private static boolean overlapsVma(MmStruct mm, long start, long len) {
        VmArea v = mm.vmas().find_vma(start);
        return v != null && Long.compareUnsigned(v.vm_start(), start + len) < 0;
    }
}
