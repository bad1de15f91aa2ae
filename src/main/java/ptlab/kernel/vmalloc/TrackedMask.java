package ptlab.kernel.vmalloc;

import ptlab.kernel.Cpu;
import ptlab.kernel.MmStruct;

/**
 * {@code tracked-mask}: the page-table population code reports which levels it modified
 * (pgtbl_mod_mask, "mm/vmalloc: track which page-table levels were modified", v5.8), and when
 * that intersects ARCH_PAGE_TABLE_SYNC_MASK the architecture copies the new entries of the range
 * into every mm: arch_sync_kernel_mappings(start, end) in arch/x86/mm/fault.c (32-bit, pmd; Linux
 * v6.6: every pmd from start up to VMALLOC_END, pgd_lock per pmd, page_table_lock per mm) and,
 * since 2025, arch/x86/mm/init_64.c ("x86/mm/64: define ARCH_PAGE_TABLE_SYNC_MASK and
 * arch_sync_kernel_mappings()": sync_global_pgds(start, end)). See
 * {@link KernelMappingSync#archSyncKernelMappings}.
 */
public final class TrackedMask implements VmallocSyncStrategy {

    @Override
    public String name() {
        return "tracked-mask";
    }

    @Override
    public String description() {
        return "pgtbl_mod_mask & ARCH_PAGE_TABLE_SYNC_MASK -> arch_sync_kernel_mappings(start, end)";
    }

    @Override
    public void afterMap(KernelMappingSync s, Cpu cpu, long start, long end, int pgtblModMask) {
        if ((pgtblModMask & s.archPageTableSyncMask()) != 0) {
            s.archSyncKernelMappings(start, end);
        }
    }

    /**
     * The mask alone races, and Linux v6.6 keeps vmalloc_fault() on x86-32 for exactly that
     * (arch/x86/mm/fault.c, CONFIG_X86_32): "there is a race condition between the time when
     * the vmalloc mapping code updates the PMD to the point in time where it synchronizes this
     * update with the other page-tables in the system. In this race window another thread/CPU
     * can map an area on the same PMD, finds it already present and does not synchronize it"
     * (its pgtbl_mod_mask lacks the bit). The fault copies the entry as lazy-fault does. x86-64
     * dropped vmalloc_fault() in v5.8 only because it preallocates the vmalloc top-level
     * entries; this strategy does not, so it keeps the fault for the window on every mode (the
     * mask alone is explore scenario {@code vmalloc-sync-race --variant tracked-mask}, broken).
     */
    @Override
    public boolean vmallocFault(KernelMappingSync s, MmStruct mm, long address) {
        if (!s.populatedInInitMm(address)) {
            return false;
        }
        s.vmallocFaults++;
        s.copyEntry(mm, address);
        return s.inSync(mm, address) && s.kernel().lookup(mm, address) != -1;
    }
}
