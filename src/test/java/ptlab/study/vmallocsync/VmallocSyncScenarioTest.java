package ptlab.study.vmallocsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ptlab.tools.scenarios.ScenarioExploreTest.explore;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import ptlab.engine.Explorer;

/**
 * Issue 6's kernel history as explore scenarios, with fixed seeds: the tracked-mask race and
 * the 2025 x86-64 hotplug bug are caught (invariant 4), and their fixes pass.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class VmallocSyncScenarioTest {

    @ParameterizedTest(name = "{0} {1} with {2} is caught")
    @CsvSource({
            "vmalloc-sync-race,      tracked-mask,             random",
            "vmalloc-sync-race,      tracked-mask,             pct",
            "vmalloc-sync-race,      eager-generation,         pct",
            "hotplug-kernel-mapping, preallocate-vmalloc-only, random",
            "hotplug-kernel-mapping, preallocate-vmalloc-only, exhaustive",
    })
    void brokenIsCaught(String scenario, String variant, String strategy) {
        Explorer.Summary s = explore(scenario, variant, strategy, 42, 3_000, strategy.equals("pct") ? 3 : 2);
        assertNotNull(s.violation(), "no violation in " + s.schedules() + " schedules");
        assertEquals(4, s.violation().invariant(), s.violation().describe());
        assertTrue(s.violation().message().contains("missing kernel-mapping sync"), s.violation().message());
    }

    @ParameterizedTest(name = "vmalloc-fault-in-nmi lazy-fault with {0}: a #PF inside the NMI handler")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"random", "exhaustive"})
    void lazyFaultTakesItsFaultInsideTheNmi(String strategy) {
        Explorer.Summary s = explore("vmalloc-fault-in-nmi", "lazy-fault", strategy, 42, 3_000, 2);
        assertNotNull(s.violation(), "no violation in " + s.schedules() + " schedules");
        assertEquals(5, s.violation().invariant(), s.violation().describe());
        assertTrue(s.violation().message().contains("inside an NMI handler"), s.violation().message());
    }

    @ParameterizedTest(name = "{0} {1} passes")
    @CsvSource({
            "vmalloc-sync-race,      tracked-mask+fault",
            "hotplug-kernel-mapping, arch-sync-kernel-mappings",
            "vmalloc-fault-in-nmi,   preallocate",
    })
    void fixPasses(String scenario, String variant) {
        Explorer.Summary r = explore(scenario, variant, "random", 7, 300, 0);
        assertNull(r.violation(), () -> r.violation().describe());
        Explorer.Summary p = explore(scenario, variant, "pct", 7, 300, 3);
        assertNull(p.violation(), () -> p.violation().describe());
    }
}
