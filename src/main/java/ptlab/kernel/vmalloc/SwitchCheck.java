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

    private int seenGeneration;

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
        seenGeneration = s.generation();
        s.kernel().initMm().kernelSyncGen = seenGeneration;
    }

    @Override
    public void switchMm(KernelMappingSync s, Cpu cpu, MmStruct next) {
        if (next.kernelSyncGen != s.generation()) {
            s.catchUp(next);
        }
    }

    @Override
    public void forked(KernelMappingSync s, MmStruct child) {
        child.kernelSyncGen = s.generation();      // pgd_ctor cloned init_mm's entries under pgd_lock
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
        if (s.generation() == seenGeneration) {
            return;
        }
        seenGeneration = s.generation();
        for (int i = 0; i < s.kernel().cpuCount(); i++) {
            Cpu c = s.kernel().cpu(i);
            if (c == cpu) {
                catchUpLoaded(s, c);
            } else {
                s.smpCallFunctionSingle(c, () -> catchUpLoaded(s, c));
            }
        }
    }
}
