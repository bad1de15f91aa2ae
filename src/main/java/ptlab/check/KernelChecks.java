package ptlab.check;

import ptlab.engine.Machine;
import ptlab.engine.SimCpu;
import ptlab.engine.Violation;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.kernel.Kernel;
import ptlab.kernel.MmStruct;

/**
 * Invariant checks over a kernel's state that scenarios place themselves: invariant 1 (no lost
 * dirty bit) against the machine's shadow record of completed writes, invariant 4 (kernel
 * mappings as in init_mm) at an access the running code may not fault on, invariant 6 (nothing
 * leaked) when every process has exited. Each counts its evaluations through
 * {@code Machine.checked}. The checks every kernel-level schedule gets without asking are in
 * {@link Invariants} and {@link Leaks}.
 */
public final class KernelChecks {

    private KernelChecks() {
    }

    /**
     * Invariant 4 at a kernel access the running code may not fault on (an NMI handler, a
     * context the strategy under test promises is synchronized): {@code va} must translate in
     * {@code mm}'s page tables exactly as in init_mm's — mapped where init_mm maps it (else the
     * access would fault: a missing sync), and not mapped where init_mm no longer does (a
     * removed mapping still visible). The comparison is a software walk, not a scheduling point.
     * Returns true when the invariant holds; otherwise reports the violation (the run stops).
     */
    public static boolean kernelMappingAsInInitMm(SimCpu cpu, MmStruct mm, long va, String context) {
        Machine m = cpu.machine();
        Kernel k = m.kernel();
        m.checked(4);
        long[] r = new long[4];
        m.unobserved(() -> {
            r[0] = k.lookup(k.initMm(), va);
            r[1] = k.lookup(mm, va);
            r[2] = k.leafEntry(k.initMm(), va);
            r[3] = k.memory().loadLong(k.pgtable().pgd_offset(mm, va));
        });
        if (r[0] >= 0 && r[1] != r[0]) {
            m.fail(4, String.format("CPU%d (%s) uses kernel va 0x%x: init_mm maps it (-> 0x%x, leaf 0x%x [%s]) but "
                            + "mm %d's page tables %s (its top-level entry 0x%x [%s]): a missing kernel-mapping sync",
                    cpu.id(), context, va, r[0], r[2], PteBits.describe(r[2]), mm.id(),
                    r[1] < 0 ? "do not" : String.format("map it to 0x%x", r[1]), r[3], PteBits.describe(r[3])));
            return false;
        }
        if (r[0] < 0 && r[1] >= 0) {
            m.fail(4, String.format("CPU%d (%s) uses kernel va 0x%x: removed from init_mm but mm %d still maps it "
                    + "-> 0x%x (its top-level entry 0x%x [%s])", cpu.id(), context, va, mm.id(), r[1], r[3],
                    PteBits.describe(r[3])));
            return false;
        }
        return true;
    }

    /**
     * Invariant 6 as an end check: every frame the kernel allocated since {@code since} (page
     * tables included) is free again, e.g. after every process exited. Double frees are
     * reported as invariant 6 when the allocator detects them (SimCpu).
     */
    public static Machine.StepCheck allFreedSince(Kernel k, ptlab.kernel.FrameAllocator.Snapshot since) {
        return m -> {
            m.checked(6);
            java.util.List<String> leaks = k.allocator().leaks(since, 8);
            return leaks.isEmpty() ? null : new Violation(6, m.steps(), "frames leaked (allocated and never freed): "
                    + String.join("; ", leaks));
        };
    }

    /**
     * Invariant 1 for the pages of [start, start+len) of {@code mm}, as an end check: every page
     * the machine's shadow record says was written through a translation and is still mapped
     * has D set in its pte. The shadow record is kept by the machine from completed user
     * writes, independent of any A/D bit, so this check does not trust the mechanism under test.
     */
    public static Machine.StepCheck dirtyCheck(Kernel k, MmStruct mm, long start, long len) {
        return m -> {
            m.checked(1);
            for (long va = start; va < start + len; va += PhysicalMemory.PAGE_SIZE) {
                long pte = k.leafEntry(mm, va);
                if ((pte & PteBits.P) == 0) {
                    continue;                                    // unmapped: nothing relies on D any more
                }
                long pa = k.lookup(mm, va) & ~(long) (PhysicalMemory.PAGE_SIZE - 1);
                long writes = m.shadow().writes(pa);
                if (writes > 0 && !PteBits.dirty(pte)) {
                    return new Violation(1, m.steps(), String.format("CPU%d completed %d write(s) to page 0x%x "
                                    + "(va 0x%x, last at step %d) but its pte is 0x%x [%s], without D: the dirty bit "
                                    + "was lost and the page would be treated as clean", m.shadow().lastWriter(pa),
                            writes, pa, va, m.shadow().lastWriteStep(pa), pte, PteBits.describe(pte)));
                }
            }
            return null;
        };
    }
}
