package ptlab.hw;

import java.util.HashMap;
import java.util.Map;

/**
 * A Xen-like validating hypervisor for paravirtualised page tables (Xen PV: a guest's page
 * tables are mapped read-only in the guest once pinned, and every change goes through the
 * {@code mmu_update} hypercall, which checks it). What the model keeps of that:
 *
 * <pre>
 *   pin(table, level)     MMUEXT_PIN_Lx_TABLE: the frame becomes a page table of that level;
 *                         every present non-leaf entry must point at a table pinned one level below
 *   unpin(table)          MMUEXT_UNPIN_TABLE: an ordinary page again
 *   mmuUpdate(p, e)       MMU_NORMAL_PT_UPDATE: validated write of entry p (same rule), then done
 *   a direct store        to a pinned frame: rejected (Xen: the page is read-only to the guest,
 *                         the write faults) — reported to the {@link Rejections} listener
 * </pre>
 *
 * The hardware walker's locked A/D updates are not guest writes and are allowed. It installs
 * itself as the memory's {@link PhysicalMemory.WriteGuard}; one per machine, no global state.
 */
public final class ValidatingHypervisor implements PhysicalMemory.WriteGuard {

    /** Told of every rejected write; a simulation turns it into a violation. */
    @FunctionalInterface
    public interface Rejections {
        void rejected(long pa, String why);
    }

    private final PhysicalMemory mem;
    private final PagingMode mode;
    private final int eb;
    private final Map<Long, Integer> pinned = new HashMap<>();
    private Rejections rejections = (pa, why) -> {
        throw new IllegalStateException(why);
    };
    private boolean inHypercall;
    private long hypercalls;
    private long rejected;

    public ValidatingHypervisor(PhysicalMemory mem, PagingMode mode) {
        this.mem = mem;
        this.mode = mode;
        this.eb = mode.entryBytes();
        mem.setWriteGuard(this);
    }

    public void setRejections(Rejections r) {
        this.rejections = r;
    }

    public long hypercalls() {
        return hypercalls;
    }

    public long rejectedWrites() {
        return rejected;
    }

    public boolean isPinned(long pa) {
        return pinned.containsKey(frame(pa));
    }

    private static long frame(long pa) {
        return pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1);
    }

    // ---- the guard ------------------------------------------------------------------------------

    @Override
    public boolean allowWrite(long pa) {
        if (inHypercall || !pinned.containsKey(frame(pa))) {
            return true;
        }
        rejected++;
        rejections.rejected(pa, String.format("direct write to 0x%x in pinned level-%d page table 0x%x: the "
                    + "validating hypervisor rejects it (page tables are changed only by mmu_update)", pa,
                pinned.get(frame(pa)), frame(pa)));
        return false;
    }

    // ---- hypercalls -------------------------------------------------------------------------------

    /** MMUEXT_PIN_Lx_TABLE; false (and a rejection) if an entry points at an unpinned table. */
    public boolean pin(long table, int level) {
        hypercalls++;
        long f = frame(table);
        long[] words = new long[PhysicalMemory.PAGE_SIZE / 8];
        mem.readFrame(f, words);                       // the hypervisor reads the page once
        for (int i = 0; i < PhysicalMemory.PAGE_SIZE / eb; i++) {
            long e = eb == 8 ? words[i] : (words[i >>> 1] >>> ((i & 1) * 32)) & 0xFFFF_FFFFL;
            String bad = invalid(level, e);
            if (bad != null) {
                rejected++;
                rejections.rejected(f + (long) i * eb, "pin of level-" + level + " table 0x" + Long.toHexString(f)
                        + " refused: entry " + i + " " + bad);
                return false;
            }
        }
        pinned.put(f, level);
        return true;
    }

    /** A table the hypervisor validated itself (the guest kernel's boot tables, pinned before any guest code ran). */
    public void pinTrusted(long table, int level) {
        pinned.put(frame(table), level);
    }

    /** MMUEXT_UNPIN_TABLE. */
    public void unpin(long table) {
        hypercalls++;
        pinned.remove(frame(table));
    }

    /** MMU_NORMAL_PT_UPDATE of entry {@code p}; false (and a rejection) if the new entry is invalid. */
    public boolean mmuUpdate(long p, long e) {
        hypercalls++;
        Integer level = pinned.get(frame(p));
        String bad = level == null ? null : invalid(level, e);
        if (bad != null) {
            rejected++;
            rejections.rejected(p, "mmu_update of 0x" + Long.toHexString(p) + " refused: " + bad);
            return false;
        }
        inHypercall = true;
        try {
            mem.storeEntry(p, eb, e);
        } finally {
            inHypercall = false;
        }
        return true;
    }

    /** An exchange by hypercall (ptep_get_and_clear under Xen); returns the old entry. */
    public long exchange(long p, long e) {
        hypercalls++;
        inHypercall = true;
        try {
            return mem.exchangeEntry(p, eb, e);
        } finally {
            inHypercall = false;
        }
    }

    /** A present entry of a level above 1 that is not a leaf must point at a table pinned one level down. */
    private String invalid(int level, long e) {
        if (level == 1 || (e & PteBits.P) == 0 || (mode.largePageAllowed(level) && (e & PteBits.PS) != 0)) {
            return null;
        }
        long target = e & (eb == 8 ? Pte64.addressMask(52, 12) : Pte32.TABLE_ADDR_MASK);
        Integer l = pinned.get(target);
        if (l == null || l != level - 1) {
            return String.format("entry 0x%x points at 0x%x, which is not a pinned level-%d table", e, target, level - 1);
        }
        return null;
    }
}
