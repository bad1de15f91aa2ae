package ptlab.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Model cycles charged for each operation in timed mode. The defaults are round numbers of
 * the right order for a current x86 server core (an L1-hit load a few cycles, a locked
 * instruction ~20, INVLPG ~100, an IPI round trip ~1-2 µs); experiments compare designs, so
 * the ratios matter more than the absolute values. Override any of them from a file of
 * {@code name = cycles} lines ({@code #} starts a comment):
 *
 * <pre>
 *   name          default  charged for
 *   load              4    a load by kernel or user code
 *   store             4    a store
 *   cas              20    a locked compare-and-swap / exchange
 *   walk_ref          4    one paging-structure entry read by the page walker
 *   walk_cas         20    the walker's locked A/D update
 *   tlb_hit           1    a translation served by the TLB (no scheduling point)
 *   lock             20    acquiring a free lock (waiting costs the time until release)
 *   unlock            5    releasing one
 *   trylock          20    spin_trylock / down_read_trylock (succeeds or fails, never waits)
 *   ipi_send        300    sending one IPI (APIC ICR write)
 *   ipi_wait          0    the sender starting to wait (waiting costs the time until the last ack)
 *   ipi_ack          10    the target's acknowledgement
 *   interrupt      1000    interrupt/NMI entry and IRET together
 *   tlb_flush_page  100    INVLPG
 *   tlb_flush_all   200    CR3 write / full flush
 *   start             0    a CPU's first step
 *   idle              0    an idle CPU waiting for interrupts
 *   free             50    freeing a page to the allocator
 *   check             0    a checker point (the kernel relies on an invariant here)
 * </pre>
 */
public final class CostTable {

    private static final String[] KEYS = new String[Op.COUNT];
    private static final long[] DEFAULTS = new long[Op.COUNT];

    static {
        def(Op.START, "start", 0);
        def(Op.LOAD, "load", 4);
        def(Op.STORE, "store", 4);
        def(Op.CAS, "cas", 20);
        def(Op.WALK_LOAD, "walk_ref", 4);
        def(Op.WALK_CAS, "walk_cas", 20);
        def(Op.LOCK, "lock", 20);
        def(Op.UNLOCK, "unlock", 5);
        def(Op.IPI_SEND, "ipi_send", 300);
        def(Op.IPI_WAIT, "ipi_wait", 0);
        def(Op.IPI_ACK, "ipi_ack", 10);
        def(Op.TLB_FLUSH, "tlb_flush_page", 100);
        def(Op.INTERRUPT, "interrupt", 1000);
        def(Op.IDLE, "idle", 0);
        def(Op.FREE, "free", 50);
        def(Op.CHECK, "check", 0);
        def(Op.TRYLOCK, "trylock", 20);
        def(Op.SHARED_LOAD, "shared_load", 4);
        def(Op.SHARED_STORE, "shared_store", 4);
        def(Op.SHARED_RMW, "shared_rmw", 20);
        def(Op.ALLOC, "alloc", 0);
    }

    private static void def(int op, String key, long cycles) {
        KEYS[op] = key;
        DEFAULTS[op] = cycles;
    }

    /** Per-op costs, indexed by {@link Op}. */
    final long[] perOp = DEFAULTS.clone();
    long tlbHit = 1;
    long tlbFlushAll = 200;

    public static CostTable defaults() {
        return new CostTable();
    }

    public long cost(int op) {
        return perOp[op];
    }

    public long tlbHit() {
        return tlbHit;
    }

    public long tlbFlushAll() {
        return tlbFlushAll;
    }

    /** Every key and its current value, in table order. */
    public Map<String, Long> asMap() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (int op = 0; op < Op.COUNT; op++) {
            m.put(KEYS[op], perOp[op]);
        }
        m.put("tlb_hit", tlbHit);
        m.put("tlb_flush_all", tlbFlushAll);
        return m;
    }

    public CostTable set(String key, long cycles) {
        if (cycles < 0) {
            throw new IllegalArgumentException("cost " + key + " must not be negative, got " + cycles);
        }
        switch (key) {
            case "tlb_hit" -> tlbHit = cycles;
            case "tlb_flush_all" -> tlbFlushAll = cycles;
            default -> {
                for (int op = 0; op < Op.COUNT; op++) {
                    if (KEYS[op].equals(key)) {
                        perOp[op] = cycles;
                        return this;
                    }
                }
                throw new IllegalArgumentException("unknown cost '" + key + "'; known: " + asMap().keySet());
            }
        }
        return this;
    }

    /** The defaults overridden by the {@code name = cycles} lines of {@code file}. */
    public static CostTable load(Path file) throws IOException {
        CostTable t = new CostTable();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            int hash = line.indexOf('#');
            if (hash >= 0) {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": expected 'name = cycles', got '" + line + "'");
            }
            try {
                t.set(line.substring(0, eq).strip(), Long.parseLong(line.substring(eq + 1).strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": cycles must be an integer: '" + line + "'");
            }
        }
        return t;
    }
}
