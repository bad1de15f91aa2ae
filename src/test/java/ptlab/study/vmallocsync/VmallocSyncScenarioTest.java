package ptlab.study.vmallocsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.hw.PagingMode;

/**
 * Issue 6's kernel history as explore scenarios on MMU-backed kernel accesses (issue 10): every
 * broken variant is caught only through a preemption (its default schedule passes), as a #PF
 * raised by the walker, and every correct variant passes with its checked access performed in
 * every schedule it ran.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class VmallocSyncScenarioTest {

    /**
     * A scenario that remembers, for each machine it built that ran, whether the machine
     * performed a supervisor access through the MMU: the check of these scenarios.
     */
    static final class Counting implements Scenario {
        final Scenario sc;
        Machine last;
        long ran;
        long checked;

        Counting(Scenario sc) {
            this.sc = sc;
        }

        @Override
        public String name() {
            return sc.name();
        }

        @Override
        public String description() {
            return sc.description();
        }

        @Override
        public List<Variant> variants() {
            return sc.variants();
        }

        @Override
        public Machine build(String variant) {
            tally();
            last = sc.build(variant);
            return last;
        }

        void tally() {
            if (last != null && last.steps() > 0) {
                ran++;
                checked += last.kernelAccesses() > 0 ? 1 : 0;
            }
            last = null;
        }
    }

    static Scenario scenario(String name) {
        return switch (name) {
            case "vmalloc-sync-race" -> new VmallocSyncRace();
            case "hotplug-kernel-mapping" -> new HotplugKernelMapping();
            case "vmalloc-fault-in-nmi" -> new VmallocFaultInNmi();
            default -> throw new IllegalArgumentException(name);
        };
    }

    static Explorer.Summary explore(Scenario sc, String variant, String strategy, long seed, long n, int depth) {
        return Explorer.explore(sc, variant, Explorer.Settings.of(strategy, seed, n, depth), () -> false, null);
    }

    /** The schedule with no preemption: every variant, broken or not, passes it and performs its checked access. */
    @ParameterizedTest(name = "{0} {1}: the default schedule passes and checks")
    @CsvSource({
            "vmalloc-sync-race,      tracked-mask",
            "vmalloc-sync-race,      tracked-mask+fault",
            "vmalloc-sync-race,      eager-generation",
            "hotplug-kernel-mapping, sync-after-populate",
            "hotplug-kernel-mapping, arch-sync-kernel-mappings",
            "vmalloc-fault-in-nmi,   lazy-fault",
            "vmalloc-fault-in-nmi,   preallocate",
    })
    void defaultSchedulePassesAndPerformsTheCheckedAccess(String scenario, String variant) {
        Machine m = Explorer.replay(scenario(scenario), variant, new int[0], 1_000_000, null);
        assertNull(m.violation(), () -> m.violation().describe());
        assertTrue(m.kernelAccesses() > 0, "the checked kernel access ran");
    }

    @ParameterizedTest(name = "{0} {1} with {2} is caught, needing a preemption")
    @CsvSource({
            "vmalloc-sync-race,      tracked-mask,        random,     4",
            "vmalloc-sync-race,      tracked-mask,        pct,        4",
            "vmalloc-sync-race,      eager-generation,    pct,        4",
            "hotplug-kernel-mapping, sync-after-populate, random,     4",
            "hotplug-kernel-mapping, sync-after-populate, exhaustive, 4",
            "vmalloc-fault-in-nmi,   lazy-fault,          random,     5",
            "vmalloc-fault-in-nmi,   lazy-fault,          exhaustive, 5",
    })
    void brokenIsCaughtThroughAPreemption(String scenario, String variant, String strategy, int invariant) {
        Scenario sc = scenario(scenario);
        Explorer.Summary s = explore(sc, variant, strategy, 42, 3_000, strategy.equals("pct") ? 3 : 2);
        assertNotNull(s.violation(), "no violation in " + s.schedules() + " schedules");
        assertEquals(invariant, s.violation().invariant(), s.violation().describe());
        String msg = s.violation().message();
        assertTrue(invariant == 5 ? msg.contains("inside an NMI handler") : msg.contains("kernel page fault")
                && msg.contains("error code 0x2") && msg.contains("oops"), msg);
        int[] choices = s.schedule().choices();
        assertTrue(Explorer.preemptions(sc, variant, choices, 1_000_000) >= 1, "found only through a preemption");
    }

    @ParameterizedTest(name = "{0} {1} passes, its access checked in every schedule")
    @CsvSource({
            "vmalloc-sync-race,      tracked-mask+fault",
            "hotplug-kernel-mapping, arch-sync-kernel-mappings",
            "vmalloc-fault-in-nmi,   preallocate",
    })
    void fixPassesWithItsCheckInEverySchedule(String scenario, String variant) {
        for (String strategy : List.of("random", "pct")) {
            Counting c = new Counting(scenario(scenario));
            Explorer.Summary r = explore(c, variant, strategy, 7, 300, strategy.equals("pct") ? 3 : 0);
            c.tally();
            assertNull(r.violation(), () -> r.violation().describe());
            assertTrue(c.ran >= 300, strategy + ": " + c.ran + " runs");
            assertEquals(c.ran, c.checked, strategy + ": runs without the checked kernel access");
        }
    }

    /** Mail 001: on PAE (and the other modes) the race is at the sync level - the pmd on x86-32. */
    @ParameterizedTest(name = "vmalloc-sync-race on {0}")
    @EnumSource(PagingMode.class)
    void vmallocSyncRaceInEveryMode(PagingMode mode) {
        Counting broken = new Counting(new VmallocSyncRace(mode));
        Explorer.Summary s = explore(broken, "tracked-mask", "random", 42, 2_000, 2);
        assertNotNull(s.violation(), mode + ": no violation in " + s.schedules() + " schedules");
        assertEquals(4, s.violation().invariant(), s.violation().describe());
        Machine dflt = Explorer.replay(new VmallocSyncRace(mode), "tracked-mask", new int[0], 1_000_000, null);
        assertNull(dflt.violation(), () -> dflt.violation().describe());
        assertTrue(dflt.kernelAccesses() > 0);
        Counting fixed = new Counting(new VmallocSyncRace(mode));
        Explorer.Summary f = explore(fixed, "tracked-mask+fault", "random", 7, 200, 0);
        fixed.tally();
        assertNull(f.violation(), () -> f.violation().describe());
        assertEquals(fixed.ran, fixed.checked);
    }
}
