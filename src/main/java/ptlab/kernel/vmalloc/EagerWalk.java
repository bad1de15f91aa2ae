package ptlab.kernel.vmalloc;

import ptlab.kernel.Cpu;

/**
 * {@code eager-walk}: every vmalloc walks pgd_list under pgd_lock and copies the entries of its
 * range into every mm, so no process ever faults; fork's pgd_ctor waits for pgd_lock meanwhile
 * (mail 003's second answer). Models sync_global_pgds(start, end) in arch/x86/mm/init_64.c as
 * called for every vmalloc range by vmalloc_sync_all()/vmalloc_sync_mappings().
 */
public final class EagerWalk implements VmallocSyncStrategy {

    @Override
    public String name() {
        return "eager-walk";
    }

    @Override
    public String description() {
        return "sync_global_pgds(start, end) on every vmalloc: walk pgd_list under pgd_lock";
    }

    @Override
    public void afterMap(KernelMappingSync s, Cpu cpu, long start, long end, int pgtblModMask) {
        s.syncRange(start, end);
    }
}
