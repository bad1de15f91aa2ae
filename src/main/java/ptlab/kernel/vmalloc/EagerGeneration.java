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

    /**
     * The generation pgd_list has been synced up to: written under {@link #syncMutex}, read
     * without it by every CPU's vmalloc first, so a shared variable.
     */
    private ptlab.kernel.SharedLong syncedGeneration;
    /**
     * Serialises the syncs: a vmalloc that finds the generation ahead waits for the sync in
     * progress and then re-checks, rather than walking pgd_list a second time (so full syncs
     * stay bounded by the generation's changes, mail 000's "255 times per boot").
     */
    private ptlab.kernel.SpinLock syncMutex;

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
        syncedGeneration = new ptlab.kernel.SharedLong(s.kernel().interleaving(), "synced_generation", s.generation());
        syncMutex = new ptlab.kernel.SpinLock("vmalloc_sync_mutex", s.kernel().interleaving());
    }

    @Override
    public void afterMap(KernelMappingSync s, Cpu cpu, long start, long end, int pgtblModMask) {
        if (s.generation() <= syncedGeneration.get()) {
            return;                                       // the fast path: nothing new since the last sync
        }
        syncMutex.lock();
        int g = s.generation();
        long synced = syncedGeneration.get();
        if (g > synced) {
            s.syncGenerations((int) synced);
            syncedGeneration.set(g);                      // only raised: every writer holds syncMutex
        }
        syncMutex.unlock();
    }
}
