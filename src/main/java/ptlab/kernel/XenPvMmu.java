package ptlab.kernel;

import ptlab.hw.PhysicalMemory;
import ptlab.hw.ValidatingHypervisor;

/**
 * The Xen PV backend of {@link PvMmuOps} (Linux v6.6 arch/x86/xen/mmu_pv.c): entry writes and
 * exchanges are {@code mmu_update} hypercalls (xen_set_pte, xen_set_pmd, xen_ptep_get_and_clear
 * through xen_ptep_modify_prot_start), reads are plain (the guest may read its tables), and a
 * page becoming or ceasing to be a page table is pinned or unpinned (xen_alloc_pte →
 * MMUEXT_PIN_L1_TABLE, xen_release_pte → unpin). A rejected hypercall is the hypervisor's to
 * report (Linux would BUG()).
 */
public final class XenPvMmu implements PvMmuOps {

    private final ValidatingHypervisor hv;
    private final PhysicalMemory mem;
    private final int eb;

    public XenPvMmu(ValidatingHypervisor hv, PhysicalMemory mem, int entryBytes) {
        this.hv = hv;
        this.mem = mem;
        this.eb = entryBytes;
    }

    public ValidatingHypervisor hypervisor() {
        return hv;
    }

    @Override
    public void write(long p, long e) {
        hv.mmuUpdate(p, e);
    }

    @Override
    public long read(long p) {
        return mem.loadEntry(p, eb);
    }

    @Override
    public long exchange(long p, long e) {
        return hv.exchange(p, e);
    }

    /** Xen validates a locked update like any other: a hypercall that re-checks and writes. */
    @Override
    public boolean compareAndSet(long p, long expected, long value) {
        if (mem.loadEntry(p, eb) != expected) {
            return false;
        }
        return hv.mmuUpdate(p, value);
    }

    @Override
    public void pin(long table, int level) {
        hv.pin(table, level);
    }

    @Override
    public void unpin(long table, int level) {
        hv.unpin(table);
    }
}
