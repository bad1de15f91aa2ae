package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.engine.Explorer;
import ptlab.engine.Scenario;
import ptlab.engine.Violation;
import ptlab.tools.Scenarios;

/**
 * A check that never ran is not a pass: for every correct variant of every registered
 * scenario, the invariant the scenario is about was evaluated in most of 40 random schedules
 * (and the search found nothing). A new scenario must name its invariant here.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CheckCountsTest {

    /** The invariant each scenario is about; 0 for a benchmark without a check. */
    static final Map<String, Integer> INVARIANT = Map.ofEntries(
            Map.entry("tlb-stale-after-unmap", 3),
            Map.entry("pte-clear-vs-dirty", 1),
            Map.entry("free-pgtables-vs-walk", 2),
            Map.entry("bench-2x200", 0),
            Map.entry("vmalloc-sync-race", 4),
            Map.entry("hotplug-kernel-mapping", 4),
            Map.entry("vmalloc-fault-in-nmi", 5),
            Map.entry("relocation-dirty", 1),
            Map.entry("tlb-gen-vs-cpumask", 3),
            Map.entry("fault-vs-munmap", 8),
            Map.entry("fork-vs-vma-fault", 7),
            Map.entry("pte-reclaim-vs-fault", 7),
            Map.entry("faults-vs-writers", 8),
            Map.entry("pae-torn-entry", 9),
            Map.entry("paravirt-bypass", 10));

    @Test
    void everyCorrectVariantsCheckRanInMostSchedules() {
        StringBuilder vacuous = new StringBuilder();
        for (Scenario sc : Scenarios.all()) {
            Integer inv = INVARIANT.get(sc.name());
            if (inv == null) {
                fail("scenario " + sc.name() + " does not name the invariant it is about (CheckCountsTest.INVARIANT)");
            }
            if (inv == 0) {
                continue;
            }
            for (Scenario.Variant v : sc.variants()) {
                if (v.broken()) {
                    continue;
                }
                Explorer.Summary s = Explorer.explore(sc, v.name(), Explorer.Settings.of("random", 3, 40, 0),
                        () -> false, null);
                assertNull(s.violation(), () -> sc.name() + " " + v.name() + ": " + s.violation().describe());
                long ran = s.checkedSchedules(inv);
                if (ran * 2 <= s.schedules()) {
                    vacuous.append(String.format("%n%s %s: invariant %d (%s) checked in %d of %d schedules",
                            sc.name(), v.name(), inv, Violation.key(inv), ran, s.schedules()));
                }
                assertTrue(s.checks(inv) >= ran);
            }
        }
        assertTrue(vacuous.isEmpty(), "correct variants whose check mostly did not run:" + vacuous);
    }
}
