package ptlab.engine;

import ptlab.hw.PhysicalMemory;

/**
 * Charges model cycles from a {@link CostTable} for every access to simulated physical memory
 * while installed as the memory's access hook: the kernel's loads, stores and compare-and-swaps
 * and, between {@link #walkBegin()} and {@link #walkEnd()}, the page walker's entry reads and A/D
 * updates. So the cost of a kernel operation is what it actually did to memory, not a number
 * typed in. Allocation-free.
 */
public final class CostMeter implements PhysicalMemory.AccessHook {

    private final long load;
    private final long store;
    private final long cas;
    private final long walkLoad;
    private final long walkCas;
    private boolean inWalk;
    private long cycles;
    private long accesses;

    public CostMeter(CostTable costs) {
        this.load = costs.cost(Op.LOAD);
        this.store = costs.cost(Op.STORE);
        this.cas = costs.cost(Op.CAS);
        this.walkLoad = costs.cost(Op.WALK_LOAD);
        this.walkCas = costs.cost(Op.WALK_CAS);
    }

    @Override
    public void beforeAccess(int op, long pa) {
        accesses++;
        if (inWalk) {
            cycles += op == PhysicalMemory.OP_LOAD ? walkLoad : walkCas;
        } else {
            cycles += op == PhysicalMemory.OP_LOAD ? load : op == PhysicalMemory.OP_STORE ? store : cas;
        }
    }

    /** Counting is all this hook does: n accesses cost n times one. */
    @Override
    public boolean onlyCounts() {
        return true;
    }

    @Override
    public void beforeAccesses(int op, int n) {
        accesses += n;
        if (inWalk) {
            cycles += n * (op == PhysicalMemory.OP_LOAD ? walkLoad : walkCas);
        } else {
            cycles += n * (op == PhysicalMemory.OP_LOAD ? load : op == PhysicalMemory.OP_STORE ? store : cas);
        }
    }

    public void walkBegin() {
        inWalk = true;
    }

    public void walkEnd() {
        inWalk = false;
    }

    /** Cycles charged so far; callers take differences. */
    public long cycles() {
        return cycles;
    }

    /** Adds cycles for work that is not a memory access (locks, IPIs, flushes, page clearing). */
    public void charge(long c) {
        cycles += c;
    }

    public long accesses() {
        return accesses;
    }
}
