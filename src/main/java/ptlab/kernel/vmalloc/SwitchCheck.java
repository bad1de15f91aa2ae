package ptlab.kernel.vmalloc;

import ptlab.kernel.Cpu;
import ptlab.kernel.MmStruct;

/**
 * {@code switch-check}: each mm remembers how many of init_mm's populated kernel entries it has
 * ({@link MmStruct#kernelSyncGen}); switch_mm() compares it with init_mm's count and copies the
 * missing entries (Lutomirski's proposal, mail 000: "add a per-PGD or per-mm count of the
 * number of kernel entries populated and to fix it up when we switch to an mm with fewer").
 * The mail leaves one case open, which ptlab closes as a real kernel would have to: an mm
 * already loaded on some CPU when the count grows does not switch, so vmalloc brings the loaded
 * mm of every other CPU up to date with an IPI whose handler, on that CPU, catches up the mm it
 * has loaded (as a sync_core()-style broadcast would), and its own loaded mm directly.
 */
public final class SwitchCheck implements VmallocSyncStrategy {

    /**
     * The generation every loaded mm has been brought up to by IPIs (every handler ran and
     * acknowledged): read and raised by any CPU's vmalloc without a lock, so a shared variable.
     * A vmalloc that finds it below the generation sends the IPIs itself, even when another
     * CPU's are still in flight: its area may lie in an entry that CPU populated, and it may
     * return only when every loaded mm has that entry.
     */
    private ptlab.kernel.SharedLong propagated;

    @Override
    public String name() {
        return "switch-check";
    }

    @Override
    public String description() {
        return "per-mm count compared in switch_mm(); loaded mms updated by IPI when it grows";
    }

    @Override
    public boolean syncsOnSwitch() {
        return true;
    }

    @Override
    public void boot(KernelMappingSync s) {
        propagated = new ptlab.kernel.SharedLong(s.kernel().interleaving(), "switch_check_propagated", s.generation());
        s.kernel().initMm().kernelSyncGen = s.generation();
    }

    @Override
    public void switchMm(KernelMappingSync s, Cpu cpu, MmStruct next) {
        if (next.kernelSyncGen != s.generation()) {
            s.catchUp(next);
        }
    }

    @Override
    public void forked(KernelMappingSync s, MmStruct child) {
        // pgd_ctor cloned init_mm's entries under pgd_lock, but the generation is ordered by
        // init_mm's page_table_lock: an entry populated during the clone may be counted and
        // missing. So the child's count starts at 0, and the first switch to it checks every
        // populated entry (copying only those the clone missed).
        child.kernelSyncGen = 0;
    }

    /** The IPI handler (or the sender's own part): bring the mm this CPU has loaded up to date. */
    private static void catchUpLoaded(KernelMappingSync s, Cpu c) {
        MmStruct loaded = c.loadedMm();
        if (loaded != null && !loaded.isInitMm()) {
            s.catchUp(loaded);
        }
    }

    @Override
    public void afterMap(KernelMappingSync s, Cpu cpu, long start, long end, int pgtblModMask) {
        long g = s.generation();
        if (propagated.get() >= g) {
            return;
        }
        for (int i = 0; i < s.kernel().cpuCount(); i++) {
            Cpu c = s.kernel().cpu(i);
            if (c == cpu) {
                catchUpLoaded(s, c);
            } else {
                s.smpCallFunctionSingle(c, () -> catchUpLoaded(s, c));
            }
        }
        for (long cur = propagated.get(); cur < g && !propagated.compareAndSet(cur, g); cur = propagated.get()) {
            // another CPU raised it meanwhile; keep the larger
        }
    }
}
