package ptlab.kernel.vmalloc;

import ptlab.kernel.Cpu;

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
}
