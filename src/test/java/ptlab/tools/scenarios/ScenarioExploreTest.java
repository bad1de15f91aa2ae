package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Schedule;
import ptlab.engine.TraceRecorder;
import ptlab.tools.Scenarios;

/** The three scenarios of issue #5: each broken protocol is caught, each correct one passes, with fixed seeds. */
// A stuck engine (e.g. a Java monitor held across a CPU switch) fails the test instead of hanging the build.
@org.junit.jupiter.api.Timeout(value = 120, unit = java.util.concurrent.TimeUnit.SECONDS,
        threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
public class ScenarioExploreTest {

    public static Explorer.Summary explore(String scenario, String variant, String strategy, long seed, long n, int depth) {
        return Explorer.explore(Scenarios.byName(scenario), variant, Explorer.Settings.of(strategy, seed, n, depth),
                () -> false, null);
    }

    @ParameterizedTest(name = "{0} {1} with {2} finds invariant {3}")
    @CsvSource({
            "pte-clear-vs-dirty,    plain-store,       random,     1",
            "pte-clear-vs-dirty,    plain-store,       pct,        1",
            "pte-clear-vs-dirty,    plain-store,       exhaustive, 1",
            "tlb-stale-after-unmap, no-shootdown,      random,     3",
            "tlb-stale-after-unmap, no-shootdown,      pct,        3",
            "tlb-stale-after-unmap, no-shootdown,      exhaustive, 3",
            "free-pgtables-vs-walk, free-before-flush, random,     2",
            "free-pgtables-vs-walk, free-before-flush, pct,        2",
            "free-pgtables-vs-walk, free-before-flush, exhaustive, 2",
    })
    void brokenProtocolIsCaught(String scenario, String variant, String strategy, int invariant) {
        Explorer.Summary s = explore(scenario, variant, strategy, 42, 10_000, strategy.equals("pct") ? 3 : 2);
        assertNotNull(s.violation(), "no violation found");
        assertEquals(invariant, s.violation().invariant(), s.violation().describe());
        assertTrue(s.violation().message().contains("CPU"), s.violation().message());
        assertNotNull(s.schedule());
    }

    @ParameterizedTest(name = "{0} {1}: exhaustive search (2 preemptions) finds nothing")
    @CsvSource({
            "pte-clear-vs-dirty,    xchg",
            "tlb-stale-after-unmap, shootdown",
            "free-pgtables-vs-walk, mmu-gather",
    })
    void correctProtocolPassesExhaustively(String scenario, String variant) {
        Explorer.Summary s = explore(scenario, variant, "exhaustive", 0, 1_000_000, 2);
        assertNull(s.violation(), () -> s.violation().describe());
        assertTrue(s.exhausted(), "search did not complete");
        assertTrue(s.schedules() > 10, "too few interleavings: " + s.schedules());
    }

    @ParameterizedTest(name = "{0} {1}: 3000 random and 3000 pct schedules find nothing")
    @CsvSource({
            "pte-clear-vs-dirty,    xchg",
            "tlb-stale-after-unmap, shootdown",
            "free-pgtables-vs-walk, mmu-gather",
    })
    void correctProtocolPassesRandomAndPct(String scenario, String variant) {
        assertNull(explore(scenario, variant, "random", 7, 3000, 0).violation());
        assertNull(explore(scenario, variant, "pct", 7, 3000, 3).violation());
    }

    @Test
    void sameSeedSameResult() {
        for (String strategy : new String[]{"random", "pct"}) {
            Explorer.Summary a = explore("pte-clear-vs-dirty", "plain-store", strategy, 123, 10_000, 3);
            Explorer.Summary b = explore("pte-clear-vs-dirty", "plain-store", strategy, 123, 10_000, 3);
            assertEquals(a.schedules(), b.schedules());
            assertEquals(a.steps(), b.steps());
            assertEquals(a.violation(), b.violation());
            assertArrayEquals(a.schedule().choices(), b.schedule().choices());
            Explorer.Summary ok1 = explore("pte-clear-vs-dirty", "xchg", strategy, 5, 500, 3);
            Explorer.Summary ok2 = explore("pte-clear-vs-dirty", "xchg", strategy, 5, 500, 3);
            assertEquals(ok1.steps(), ok2.steps());
        }
    }

    @Test
    void replayOfSavedScheduleReproducesTheViolation(@TempDir Path dir) throws Exception {
        for (String[] sv : new String[][]{{"pte-clear-vs-dirty", "plain-store"}, {"tlb-stale-after-unmap", "no-shootdown"},
                {"free-pgtables-vs-walk", "free-before-flush"}}) {
            Explorer.Summary s = explore(sv[0], sv[1], "random", 9, 10_000, 0);
            Path f = dir.resolve(sv[0] + ".json");
            s.schedule().save(f);
            Schedule loaded = Schedule.load(f);
            assertEquals(s.schedule(), loaded);
            TraceRecorder trace = new TraceRecorder();
            Machine m = Explorer.replay(Scenarios.byName(loaded.scenario()), loaded.variant(), loaded.choices(),
                    Explorer.DEFAULT_MAX_STEPS, trace);
            assertEquals(s.violation(), m.violation());
            assertEquals(loaded.violation(), m.violation().describe());
            assertEquals(m.steps(), trace.lines().stream().filter(l -> l.step() >= 0).count());
        }
    }

    @Test
    void lostDirtyBitTraceShowsTheRace() {
        Explorer.Summary s = explore("pte-clear-vs-dirty", "plain-store", "exhaustive", 0, 10_000, 2);
        TraceRecorder trace = new TraceRecorder();
        Explorer.replay(Scenarios.byName("pte-clear-vs-dirty"), "plain-store", s.schedule().choices(),
                Explorer.DEFAULT_MAX_STEPS, trace);
        StringBuilder sb = new StringBuilder();
        trace.lines().forEach(l -> sb.append(l.format()).append('\n'));
        String t = sb.toString();
        // the walker's CAS sets D, then CPU1's plain store wipes it
        int cas = t.indexOf("walk-cas    pte 0x4008: 0x10027 [P RW US A] -> 0x10067 [P RW US A D]");
        int wipe = t.indexOf("store       pte 0x4008: 0x10067 [P RW US A D] -> 0x0 [np]");
        assertTrue(cas > 0 && wipe > cas, t);
        assertTrue(s.schedule().preemptions() <= 2, "preemptions " + s.schedule().preemptions());
    }

    @Test
    void shardsPartitionTheSeedSpace() {
        Scenario sc = Scenarios.byName("pte-clear-vs-dirty");
        long total = 0;
        for (int k = 0; k < 3; k++) {
            total += Explorer.explore(sc, "xchg", new Explorer.Settings("random", 1, 300, 0, 10_000, k, 3),
                    () -> false, null).schedules();
        }
        assertEquals(300, total);
    }
}
