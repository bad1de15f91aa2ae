package ptlab.kernel.vmalloc;

import ptlab.kernel.Cpu;

/**
 * {@code eager-generation}: eager, but the pgd_list walk happens only when init_mm's count of
 * populated sync-level entries changed since the last walk (Molnar's generation counter, mail
 * 000), and copies only the new entries. Models sync_global_pgds() guarded by that counter as
 * proposed in "x86/mm: Remove pgd_list use from vmalloc_sync_all()" (2015); full syncs are bounded by
 * the number of kernel sync-level entries that can ever be populated.
 */
public final class EagerGeneration implements VmallocSyncStrategy {

    private int syncedGeneration;

    @Override
    public String name() {
        return "eager-generation";
    }

    @Override
    public String description() {
        return "sync_global_pgds() only when init_mm's populated-entry generation changed";
    }

    @Override
    public void boot(KernelMappingSync s) {
        syncedGeneration = s.generation();
    }

    @Override
    public void afterMap(KernelMappingSync s, Cpu cpu, long start, long end, int pgtblModMask) {
        int g = s.generation();
        if (g != syncedGeneration) {
            s.syncGenerations(syncedGeneration);
            syncedGeneration = g;
        }
    }
}
