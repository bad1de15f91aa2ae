package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.kernel.SharedLong;

/**
 * Issue 10's soundness test: a bug reachable only through an order the old pruning skipped.
 *
 * <p>Before engine v2, kernel state in Java fields was touched between scheduling points, and
 * {@link Exhaustive} called two steps independent when their next operations were accesses to
 * different simulated addresses. Here CPU0's step "load X" and CPU1's step "store Y" are such a
 * pair, but the Java code each runs after its access reads and writes kernel state {@code a},
 * {@code b} (a check-then-act across CPUs):
 * <pre>
 *   CPU0                                   CPU1
 *   await(CPU1 started)      [lock]        publish                [unlock]
 *   a = 1                                  started = 1
 *                                          store Y                [store Y]
 *   load X                   [load X]      b = a
 *   seen = b    — the bug: seen == 1, which needs  a = 1  &lt;  store Y  &lt;  load X
 * </pre>
 * With {@code a}, {@code b} as plain Java state (the old kernel: {@link SharedLong#plainGet}/
 * {@link SharedLong#plainSet}, no points) the only runs in which CPU1's {@code b = a} follows
 * CPU0's {@code a = 1} and precedes CPU0's {@code seen = b} put "store Y" before "load X" right
 * after CPU0's await — the order sleep sets skip as equivalent to "load X" first, because the two
 * accesses commute. The complete search misses the bug, though a replay of that exact order
 * shows it is there. With {@code a}, {@code b} as shared variables (every access a point at the
 * variable's location, dependent with the other CPU's access to it) the search finds it.
 */
class PruningSoundnessTest {

    static final long X = 0x10000;
    static final long Y = 0x20000;

    /** The scenario: {@code shared} = kernel state as SharedLongs (v2), else touched between points (old). */
    static Scenario checkThenAct(boolean shared) {
        return MachineTest.scenario(shared ? "check-then-act-shared" : "check-then-act-plain", () -> {
            Machine m = new Machine(new PhysicalMemory(1L << 20), PagingMode.X86_64, new ptlab.check.Invariants());
            KernelBridge bridge = KernelBridge.attach(m);
            SharedLong a = new SharedLong(bridge, "a", 0);
            SharedLong b = new SharedLong(bridge, "b", 0);
            long[] started = {0};
            long[] seen = {0};
            m.addCpu(regs(), c -> {
                c.await(cpu -> started[0] == 0, 1);                 // ordered by the lock/unlock points
                set(a, 1, shared);
                c.memory().loadLong(X);
                seen[0] = get(b, shared);
            });
            m.addCpu(regs(), c -> {
                c.publish(1);
                started[0] = 1;                                     // CPU0 can go on once CPU1 waits at "store Y"
                c.memory().storeLong(Y, 1);
                set(b, get(a, shared), shared);
            });
            m.addEndCheck(mm -> seen[0] == 1 ? new Violation(3, mm.steps(),
                    "CPU0 read b = 1: CPU1's b = a ran between CPU0's a = 1 and its read of b") : null);
            return m;
        });
    }

    private static long get(SharedLong v, boolean shared) {
        return shared ? v.get() : v.plainGet();
    }

    private static void set(SharedLong v, long x, boolean shared) {
        if (shared) {
            v.set(x);
        } else {
            v.plainSet(x);
        }
    }

    private static CpuRegisters regs() {
        CpuRegisters r = new CpuRegisters(PagingMode.X86_64);
        r.setCr3(0x1000);
        return r;
    }

    private static Explorer.Summary exhaust(Scenario sc) {
        return Explorer.explore(sc, null, Explorer.Settings.of("exhaustive", 0, 10_000, 4), () -> false, null);
    }

    @Test
    void theOldPruningSkipsTheOnlyOrderThatShowsTheBug() {
        Scenario old = checkThenAct(false);
        Explorer.Summary s = exhaust(old);
        assertNull(s.violation(), () -> "the old program's bug is not found by the pruned search: "
                + s.violation().describe() + " " + java.util.Arrays.toString(s.schedule().choices()));
        assertTrue(s.exhausted(), "the search completed " + s.schedules());
        assertEquals(OLD_RUNS, s.schedules(), "runs, of which " + s.pruned() + " pruned by sleep sets");
        assertEquals(OLD_PRUNED, s.pruned());

        // ... but it is there: CPU0 starts and waits, CPU1 starts, publishes and reaches "store Y";
        // CPU0 passes its await and sets a; then CPU1's "store Y" (its b = a) before CPU0's
        // "load X" (its read of b)
        Machine m = Explorer.replay(old, null, ORDER, Explorer.DEFAULT_MAX_STEPS, null);
        assertNotNull(m.violation(), "the order the search skipped shows the bug");
        assertTrue(m.violation().message().startsWith("CPU0 read b = 1"), m.violation().message());
    }

    @Test
    void withSharedVariablesTheSearchFindsIt() {
        Explorer.Summary s = exhaust(checkThenAct(true));
        assertNotNull(s.violation(), "a = 1 < b = a < seen = b is explored once a and b are points");
        assertEquals(3, s.violation().invariant());
        assertEquals(NEW_RUNS_TO_FIND, s.schedules());
    }

    @Test
    void withSharedVariablesTheSearchOfTheFixedOrderIsCompleteAndClean() {
        // the same search, with the dependency relation at work, over all orders: it explores more
        // runs than the old pruning did, because a and b accesses are ordered against each other
        Explorer.Summary s = Explorer.explore(checkThenAct(true), null,
                Explorer.Settings.of("exhaustive", 0, 10_000, 0), () -> false, null);
        assertTrue(s.exhausted());
        assertNull(s.violation(), "no preemption: CPU1 runs to its end before CPU0 reads b, or after it");
    }

    static final int[] ORDER = {0, 1, 1, 0, 1, 0};

    /**
     * Runs of the old program's complete search (preemption bound 4, more than the 6 steps can
     * use), and how many of them sleep sets abandoned: the abandoned ones include the ORDER
     * above. A change to the dependency relation or the sleep sets changes these numbers.
     */
    static final long OLD_RUNS = 10;
    static final long OLD_PRUNED = 3;
    /** Runs of the v2 search up to and including the one that finds the bug. */
    static final long NEW_RUNS_TO_FIND = 7;
}
