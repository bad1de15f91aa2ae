package ptlab.check;

import java.util.BitSet;

import ptlab.engine.Checker;
import ptlab.engine.Interrupt;
import ptlab.engine.Machine;
import ptlab.engine.SimCpu;
import ptlab.engine.Violation;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.Tlb;

/**
 * The invariants every machine checks, one method per check, each counted when it runs
 * ({@link #runs}); scenario-specific checks (invariants 1, 4, 7-10) count through
 * {@link Machine#checked}, which lands here too.
 *
 * <pre>
 *   event (engine)                      invariant checked here
 *   walker reads an entry               2  the table is not free, and is the table the entry
 *                                          above (or a PSC entry) pointed to: same generation
 *   kernel code writes memory           2  not into a frame the allocator holds free
 *   a page-table page is freed          2  no CPU's paging-structure cache points to it
 *   a user page is freed                3  no CPU's TLB maps the address to it
 *   a user access completes             3  not on a freed page (its TLB entry outlived the mapping)
 *   a scenario frees a frame            6  not twice
 *   an NMI handler runs / faults        5  no nested NMI, no #PF (unless the strategy tolerates it)
 *   the schedule ends (kernel machines) 6  no frame leaked ({@link Leaks})
 * </pre>
 *
 * <h2>Generations (invariant 2 across frame reuse)</h2>
 * Each frame has a generation, bumped when it is freed and when it is allocated. A walk
 * remembers, for each table it reaches, the generation the frame had when the walk read the
 * entry pointing to it, and a paging-structure-cache entry the generation its filling walk saw
 * ({@link ptlab.hw.FrameGenerations}). A read of a table whose generation moved on since is a
 * walk into a page-table page freed after the reference to it was taken — caught whether the
 * frame is still free or was reused already as a data page or another table, where "is it
 * free?" alone goes blind.
 *
 * <p>One instance per machine; it keeps no static state.
 */
public final class Invariants implements Checker {

    private Machine m;
    private final long[] runs = new long[Violation.INVARIANTS + 1];
    /** Frames freed by a scenario (not the kernel's allocator) and not allocated again. */
    private final BitSet freed = new BitSet();
    /** Generation of each frame (index pfn), grown on demand; 0 for a frame never freed or allocated. */
    private int[] generation = new int[0];
    private boolean tolerateNmiFaults;
    private final boolean generations;
    private final Leaks leaks;

    /** Every check, generations included, and the leak check at the end of a kernel-level schedule. */
    public Invariants() {
        this(true, true);
    }

    /**
     * @param generations invariant 2 across frame reuse (off: a freed-then-reused table goes
     *                    unnoticed, the checker before generations — for tests that show the difference)
     * @param leakCheck   invariant 6's end-of-schedule leak check on machines running a kernel
     */
    public Invariants(boolean generations, boolean leakCheck) {
        this.generations = generations;
        this.leaks = leakCheck ? new Leaks() : null;
    }

    @Override
    public void attach(Machine machine) {
        if (m != null) {
            throw new IllegalStateException("a checker watches one machine");
        }
        m = machine;
    }

    /**
     * Page tables a scenario's own structure owns besides the mms (a study's per-node replicas):
     * {@code roots} gives their top tables when the schedule ends, and what they reach is owned.
     */
    public Invariants alsoOwning(java.util.function.Supplier<long[]> roots) {
        if (leaks != null) {
            leaks.alsoOwning(roots);
        }
        return this;
    }

    @Override
    public void runStarts() {
        if (leaks != null && m.kernel() != null) {
            leaks.baseline(m.kernel().bootSnapshot());
        }
    }

    // ---- counts ---------------------------------------------------------------------------------

    @Override
    public void checked(int invariant) {
        runs[invariant]++;
    }

    @Override
    public long runs(int invariant) {
        return runs[invariant];
    }

    // ---- invariant 2: no use of a freed page-table page --------------------------------------------

    @Override
    public void kernelWrite(SimCpu c, long pa, boolean store) {
        Machine.Frames frames = m.frames();
        if (frames != null && frames.isFree(pa)) {
            m.fail(2, String.format("CPU%d's kernel code %s 0x%x in page 0x%x, which is free (a table it was "
                    + "installing into was freed)", c.id(), store ? "stored to" : "updated", pa, pageOf(pa)));
        }
    }

    @Override
    public void walkerAccess(SimCpu c, long pa) {
        checked(2);
        if (isFreed(pa)) {
            m.fail(2, String.format("CPU%d's page walker read entry 0x%x of page-table page 0x%x after it was freed",
                    c.id(), pa, pageOf(pa)));
        }
    }

    @Override
    public long generation(long pa) {
        int pfn = (int) (pa >>> PhysicalMemory.PAGE_SHIFT);
        return pfn < generation.length ? generation[pfn] : 0;
    }

    @Override
    public void staleTableRead(long table, long seen, long entryAddress, int level, boolean fromCache) {
        if (!generations) {
            return;
        }
        SimCpu c = m.current();
        m.fail(2, String.format("CPU%d's page walker read %s entry 0x%x of table 0x%x, reached through %s taken "
                        + "before the frame was freed (generation %d, now %d, %s): a walk in a freed page-table page",
                c == null ? -1 : c.id(), m.mode().linuxName(level), entryAddress, table,
                fromCache ? "a paging-structure-cache entry" : "the entry above", seen, generation(table),
                isFreed(table) ? "still free" : "already reused"));
    }

    @Override
    public void pageTableFreed(SimCpu by, long frame) {
        checked(2);
        long f = pageOf(frame);
        for (int i = 0; i < m.cpuCount(); i++) {
            SimCpu c = m.cpu(i);
            int level = c.mmu().pagingStructureCaches().levelCaching(f);
            if (level != 0) {
                m.fail(2, String.format("CPU%d freed page-table page 0x%x while CPU%d's %s cache still points to it",
                        by.id(), f, c.id(), m.mode().linuxName(level)));
            }
        }
    }

    // ---- invariant 3: no stale TLB entry past the point the kernel relies on it ------------------

    @Override
    public void userPageFreed(SimCpu by, long va, long frame) {
        checked(3);
        long f = pageOf(frame);
        for (int i = 0; i < m.cpuCount(); i++) {
            SimCpu c = m.cpu(i);
            Tlb tlb = c.mmu().tlb();
            int slot = tlb.probe(va, c.mmu().registers().pcid());
            if (slot >= 0 && tlb.frame(slot) == f) {
                m.fail(3, String.format("CPU%d freed page 0x%x but CPU%d's TLB still maps va 0x%x -> 0x%x (%s%s)",
                        by.id(), f, c.id(), va, f, (tlb.restrictions(slot) & 1) == 0 ? "RW" : "RO",
                        tlb.dirty(slot) ? " D" : ""));
            }
        }
    }

    @Override
    public void userAccessDone(SimCpu c, long va, long pa, boolean write) {
        checked(3);
        if (isFreed(pa)) {
            m.fail(3, String.format("CPU%d %s va 0x%x -> pa 0x%x, a page already freed: its TLB entry outlived the "
                    + "mapping", c.id(), write ? "wrote" : "read", va, pa));
        }
    }

    // ---- invariant 6: frees, allocations, generations ---------------------------------------------

    @Override
    public void scenarioFreed(SimCpu by, long frame) {
        checked(6);
        int pfn = (int) (frame >>> PhysicalMemory.PAGE_SHIFT);
        if (freed.get(pfn)) {
            m.fail(6, String.format("CPU%d frees page 0x%x twice", by.id(), pageOf(frame)));
        }
        freed.set(pfn);
        bump(frame);
    }

    @Override
    public void frameAllocated(long frame) {
        freed.clear((int) (frame >>> PhysicalMemory.PAGE_SHIFT));
        bump(frame);
    }

    @Override
    public void frameReleased(long frame) {
        bump(frame);
    }

    @Override
    public boolean isFreed(long pa) {
        Machine.Frames frames = m.frames();
        return freed.get((int) (pa >>> PhysicalMemory.PAGE_SHIFT)) || (frames != null && frames.isFree(pa));
    }

    private void bump(long frame) {
        int pfn = (int) (frame >>> PhysicalMemory.PAGE_SHIFT);
        if (pfn >= generation.length) {
            generation = java.util.Arrays.copyOf(generation, Math.max(pfn + 1, generation.length * 2));
        }
        generation[pfn]++;
    }

    // ---- invariant 5: no page fault inside an NMI handler --------------------------------------------

    @Override
    public void tolerateNmiFaults(boolean tolerate) {
        tolerateNmiFaults = tolerate;
    }

    @Override
    public void nmiHandlerRuns(SimCpu c, Interrupt irq, boolean nested) {
        checked(5);
        if (nested && !tolerateNmiFaults) {
            m.fail(5, String.format("CPU%d took %s inside an NMI handler: an IRET (from a fault in the handler) "
                    + "re-enabled NMIs, so the nested NMI would clobber the NMI stack", c.id(), irq.name()));
        }
    }

    @Override
    public void faultInNmi(SimCpu c, long address) {
        if (!tolerateNmiFaults) {
            m.fail(5, String.format("CPU%d took a page fault at 0x%x inside an NMI handler", c.id(), address));
        }
    }

    // ---- the end of a schedule ---------------------------------------------------------------------------

    /** How often the end-of-schedule leak check ran on this machine (0 or 1: once per schedule). */
    public long leakChecks() {
        return leakChecks;
    }

    private long leakChecks;

    @Override
    public Violation scheduleEnded() {
        if (leaks == null || m.kernel() == null) {
            return null;
        }
        checked(6);
        leakChecks++;
        String leaked = leaks.check(m.kernel());
        return leaked == null ? null : new Violation(6, m.steps(), leaked);
    }

    private static long pageOf(long pa) {
        return pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1);
    }
}
