package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ptlab.tools.scenarios.ScenarioExploreTest.explore;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.tools.Scenarios;

/**
 * {@code tlb-gen-vs-cpumask}: switch_mm_irqs_off reading tlb_gen before setting its mm_cpumask
 * bit leaves a stale TLB entry that a flush the kernel relies on missed (invariant 3); random
 * and exhaustive search both find it, and the Linux order passes an exhaustive search of both
 * CPUs with preemption bound 2.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TlbGenVsCpumaskTest {

    @ParameterizedTest(name = "gen-before-cpumask is found by {0}")
    @ValueSource(strings = {"random", "exhaustive"})
    void readingTlbGenFirstLeavesAStaleEntry(String strategy) {
        Explorer.Summary s = explore("tlb-gen-vs-cpumask", "gen-before-cpumask", strategy, 1, 3_000, 2);
        assertNotNull(s.violation(), "no violation in " + s.schedules() + " schedules");
        assertEquals(3, s.violation().invariant(), s.violation().describe());
        assertTrue(s.violation().message().contains("CPU0's TLB still maps"), s.violation().message());
        assertTrue(s.schedule().preemptions() >= 1, "needs the search: " + s.schedule().preemptions());
    }

    @Test
    void theDefaultScheduleOfTheBrokenOrderPasses() {
        Machine m = Explorer.replay(Scenarios.byName("tlb-gen-vs-cpumask"), "gen-before-cpumask", new int[0],
                Explorer.DEFAULT_MAX_STEPS, null);
        assertNull(m.violation(), () -> m.violation().describe());
        assertTrue(m.checkRuns(3) > 0, "invariant 3 was checked");
    }

    @Test
    void settingTheBitFirstPassesExhaustiveSearch() {
        Explorer.Summary s = explore("tlb-gen-vs-cpumask", "cpumask-before-gen", "exhaustive", 1, 1_000_000, 2);
        assertNull(s.violation(), () -> s.violation().describe());
        assertTrue(s.exhausted(), "search complete");
        assertEquals(s.schedules(), s.checkedSchedules(3), "invariant 3 checked in every schedule");
    }
}
