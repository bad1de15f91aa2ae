package ptlab.study.faultlocking;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import ptlab.engine.Explorer;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Strategy;
import ptlab.tools.Scenarios;

/**
 * The fault-locking races (issue 13): each broken variant is found at a fixed seed and its
 * schedule replays to the same violation; its schedule without preemption passes (the bug needs
 * the search); the correct paths pass random, PCT and exhaustive search, and their checks ran.
 * The full counts (100,000 schedules) are in scripts/fault-locking-explore.sh.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FaultLockingScenarioTest {

    static Explorer.Summary explore(Scenario sc, String variant, String strategy, long seed, long n, int depth) {
        return Explorer.explore(sc, variant, Explorer.Settings.of(strategy, seed, n, depth), () -> false, null);
    }

    @ParameterizedTest(name = "{0} {1} with {2} finds it")
    @CsvSource({
            "fault-vs-munmap,      speculative-broken,     pct,    'still holds entry|where no vma is'",
            "fork-vs-vma-fault,    per-vma-fork-unlocked,  pct,    'was lost'",
            "pte-reclaim-vs-fault, pte-reclaim-no-recheck, random, 'still holds entry|which is free'",
            "pte-reclaim-vs-fault, pte-reclaim-no-recheck, pct,    'still holds entry|which is free'",
    })
    void brokenVariantIsFoundAndReplays(String scenario, String variant, String strategy, String words) {
        Scenario sc = Scenarios.byName(scenario);
        Explorer.Summary s = explore(sc, variant, strategy, 42, 20_000, 3);
        assertNotNull(s.violation(), "no violation in " + s.schedules() + " schedules");
        assertTrue(java.util.regex.Pattern.compile(words).matcher(s.violation().message()).find(),
                s.violation().message());
        int invariant = s.violation().invariant();
        Machine replay = Explorer.replay(sc, variant, s.schedule().choices(), Explorer.DEFAULT_MAX_STEPS, null);
        assertNotNull(replay.violation(), "the saved schedule did not replay the violation");
        assertEquals(invariant, replay.violation().invariant());
        assertTrue(Explorer.preemptions(sc, variant, s.schedule().choices(), Explorer.DEFAULT_MAX_STEPS) >= 1);
    }

    @ParameterizedTest(name = "{0} {1}: the schedule without preemption passes")
    @CsvSource({
            "fault-vs-munmap,      speculative-broken",
            "fork-vs-vma-fault,    per-vma-fork-unlocked",
            "pte-reclaim-vs-fault, pte-reclaim-no-recheck",
    })
    void brokenVariantNeedsAPreemption(String scenario, String variant) {
        for (int first = 0; first < 3; first++) {
            Machine m = Scenarios.byName(scenario).build(variant);
            if (first >= m.cpuCount()) {
                break;
            }
            Machine.Outcome o = m.run(runToCompletion(first), new int[Explorer.DEFAULT_MAX_STEPS],
                    Explorer.DEFAULT_MAX_STEPS);
            assertEquals(Machine.Outcome.DONE, o, () -> m.violation() == null ? o.toString() : m.violation().describe());
        }
    }

    /** Runs the current CPU as long as it can go on; starts with {@code first}, then the lowest enabled. */
    static Strategy runToCompletion(int first) {
        return new Strategy() {
            int cur = first;

            @Override
            public int choose(Machine m, long enabled, int step) {
                if (cur < 0 || (enabled & (1L << cur)) == 0) {
                    cur = Long.numberOfTrailingZeros(enabled);
                }
                return cur;
            }
        };
    }

    @ParameterizedTest(name = "{0} {1}: random, pct and exhaustive search find nothing")
    @CsvSource({
            "fault-vs-munmap,      speculative",
            "fault-vs-munmap,      speculative-retry",
            "fault-vs-munmap,      per-vma",
            "fault-vs-munmap,      mmap-lock",
    })
    void correctPathsPassOnTwoCpus(String scenario, String variant) {
        SpeculativeVsMunmap sc = new SpeculativeVsMunmap();
        Explorer.Summary e = explore(sc, variant, "exhaustive", 0, 200_000, 2);
        assertNull(e.violation(), () -> e.violation().describe());
        assertTrue(e.exhausted(), "exhaustive search did not complete");
        Explorer.Summary r = explore(sc, variant, "random", 7, 2_000, 0);
        assertNull(r.violation(), () -> r.violation().describe());
        Explorer.Summary p = explore(sc, variant, "pct", 7, 2_000, 3);
        assertNull(p.violation(), () -> p.violation().describe());
        assertTrue(sc.endChecks() >= r.schedules() + p.schedules() + 1, "the end check ran in every schedule: "
                + sc.endChecks());
    }

    @Test
    void perVmaPassesTheForkAndReclaimRaces() {
        ForkVsVmaFault fork = new ForkVsVmaFault();
        for (String v : new String[] {"per-vma", "mmap-lock"}) {
            Explorer.Summary r = explore(fork, v, "random", 7, 2_000, 0);
            assertNull(r.violation(), () -> r.violation().describe());
            Explorer.Summary p = explore(fork, v, "pct", 7, 2_000, 3);
            assertNull(p.violation(), () -> p.violation().describe());
        }
        assertTrue(fork.readBacks() >= 4_000 * 3, "CPU2's read-back check ran: " + fork.readBacks());
        PteReclaimVsFault reclaim = new PteReclaimVsFault();
        Explorer.Summary r = explore(reclaim, "per-vma", "random", 7, 2_000, 0);
        assertNull(r.violation(), () -> r.violation().describe());
        Explorer.Summary p = explore(reclaim, "per-vma", "pct", 7, 2_000, 3);
        assertNull(p.violation(), () -> p.violation().describe());
        assertTrue(reclaim.readBacks() >= 4_000, "CPU0's read-back check ran in every schedule: " + reclaim.readBacks());
    }

    /** Four CPUs, every kind of vma change: the correct paths pass random and PCT search, and the checks ran. */
    @ParameterizedTest(name = "faults-vs-writers {0}: random and pct find nothing on 4 CPUs")
    @CsvSource({"per-vma", "speculative", "speculative-retry", "mmap-lock"})
    void correctPathsPassOnFourCpus(String variant) {
        FaultsVsWriters sc = new FaultsVsWriters();
        Explorer.Summary r = explore(sc, variant, "random", 7, 1_000, 0);
        assertNull(r.violation(), () -> r.violation().describe());
        Explorer.Summary p = explore(sc, variant, "pct", 7, 1_000, 3);
        assertNull(p.violation(), () -> p.violation().describe());
        assertTrue(sc.endChecks() >= 2_000, "end check in every schedule: " + sc.endChecks());
        assertTrue(sc.readBacks() >= 4_000, "both faulting CPUs read back in every schedule: " + sc.readBacks());
    }
}
