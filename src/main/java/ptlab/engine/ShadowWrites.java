package ptlab.engine;

import ptlab.hw.PhysicalMemory;

/**
 * The shadow record behind invariant 1: for each data page, the writes that completed through
 * a translation (CPU, step), kept by the machine when the store is done — independently of
 * any A/D bit, TLB or kernel mechanism under test. A scenario compares it with what the
 * kernel observed ({@code pte_dirty()} of the entry it cleared) at the point it relies on it.
 * Fixed-size arrays: a scenario touches a handful of pages.
 */
public final class ShadowWrites {

    private static final int MAX = 64;
    private final long[] page = new long[MAX];
    private final long[] count = new long[MAX];
    private final int[] lastCpu = new int[MAX];
    private final long[] lastStep = new long[MAX];
    private int size;

    void record(long pa, int cpu, long step) {
        int i = slot(pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1), true);
        count[i]++;
        lastCpu[i] = cpu;
        lastStep[i] = step;
    }

    private int slot(long p, boolean create) {
        for (int i = 0; i < size; i++) {
            if (page[i] == p) {
                return i;
            }
        }
        if (!create) {
            return -1;
        }
        if (size == MAX) {
            throw new IllegalStateException("shadow write record is full (" + MAX + " pages)");
        }
        page[size] = p;
        return size++;
    }

    /** Completed writes to the page holding {@code pa}. */
    public long writes(long pa) {
        int i = slot(pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1), false);
        return i < 0 ? 0 : count[i];
    }

    public int lastWriter(long pa) {
        int i = slot(pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1), false);
        return i < 0 ? -1 : lastCpu[i];
    }

    public long lastWriteStep(long pa) {
        int i = slot(pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1), false);
        return i < 0 ? -1 : lastStep[i];
    }

    /** The page was cleaned on purpose (written back): earlier writes no longer need a D bit. */
    public void clean(long pa) {
        int i = slot(pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1), false);
        if (i >= 0) {
            count[i] = 0;
        }
    }
}
