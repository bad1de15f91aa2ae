package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.kernel.SharedLong;

/**
 * Exact schedule counts of exhaustive search under dependency by location, on a tiny scenario:
 * two CPUs, each stores twice to a shared variable — its own (independent) or one both use
 * (dependent). Each CPU's first step (start) is dependent on everything, so the runs differ
 * only in how the four stores interleave.
 */
class ExhaustiveCountTest {

    static Scenario twoStores(boolean sameVariable) {
        return MachineTest.scenario("two-stores", () -> {
            Machine m = new Machine(new PhysicalMemory(1L << 20), PagingMode.X86_64, new ptlab.check.Invariants());
            KernelBridge b = KernelBridge.attach(m);
            SharedLong x = new SharedLong(b, "x", 0);
            SharedLong y = sameVariable ? x : new SharedLong(b, "y", 0);
            for (SharedLong v : new SharedLong[]{x, y}) {
                CpuRegisters r = new CpuRegisters(PagingMode.X86_64);
                r.setCr3(0x1000);
                m.addCpu(r, c -> {
                    v.set(1);
                    v.set(2);
                });
            }
            return m;
        });
    }

    private static Explorer.Summary exhaust(boolean same) {
        return Explorer.explore(twoStores(same), null, Explorer.Settings.of("exhaustive", 0, 10_000, 10),
                () -> false, null);
    }

    @Test
    void independentStoresAreExploredInFewerRunsThanDependentOnes() {
        Explorer.Summary indep = exhaust(false);
        Explorer.Summary dep = exhaust(true);
        assertTrue(indep.exhausted() && dep.exhausted());
        assertEquals(EXPECTED_INDEPENDENT, indep.schedules() - indep.pruned(), "complete runs, own variables");
        assertEquals(EXPECTED_DEPENDENT, dep.schedules() - dep.pruned(), "complete runs, one variable");
        assertTrue(indep.schedules() < dep.schedules());
    }

    /**
     * Own variables: the runs A = S0 a1 a2 and B = S1 b1 b2 (S = start, dependent on everything)
     * differ only in the order of S0 with S1 and in where the later start falls among the other
     * CPU's three steps' two stores: 2 x 3 = 6 Mazurkiewicz traces, each explored once.
     */
    static final long EXPECTED_INDEPENDENT = 6;
    /** One variable: every pair of steps of different CPUs is dependent: all C(6,3) = 20 interleavings. */
    static final long EXPECTED_DEPENDENT = 20;
}
