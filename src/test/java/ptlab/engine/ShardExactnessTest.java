package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import ptlab.tools.Scenarios;

/**
 * Schedule i of an exploration is a function of (seed, i) alone, for every strategy: N shards
 * together run exactly the schedules of one unsharded job (issue 11, item 8b: PCT's run-length
 * estimate used to grow with what the same job had already run, so shards diverged).
 */
class ShardExactnessTest {

    private static final Scenario SC = Scenarios.byName("pte-clear-vs-dirty");

    @ParameterizedTest
    @ValueSource(strings = {"random", "pct"})
    void shardsAddUpToTheUnshardedRun(String strategy) {
        Explorer.Summary whole = run("mprotect-xchg", strategy, 0, 1, 120);
        assertNull(whole.violation());
        long schedules = 0;
        long steps = 0;
        for (int k = 0; k < 3; k++) {
            Explorer.Summary part = run("mprotect-xchg", strategy, k, 3, 120);
            assertNull(part.violation());
            schedules += part.schedules();
            steps += part.steps();
        }
        assertEquals(whole.schedules(), schedules);
        assertEquals(whole.steps(), steps, "the shards ran other schedules than the unsharded job");
    }

    @ParameterizedTest
    @ValueSource(strings = {"random", "pct"})
    void theFirstViolatingScheduleIsTheSameSharded(String strategy) {
        Explorer.Summary whole = run("mprotect-plain-clear", strategy, 0, 1, 400);
        assertNotNull(whole.violation(), "the broken variant must be caught");
        long first = Long.MAX_VALUE;
        for (int k = 0; k < 4; k++) {
            Explorer.Summary part = run("mprotect-plain-clear", strategy, k, 4, 400);
            if (part.schedule() != null) {
                assertEquals(k, part.schedule().index() % 4);
                first = Math.min(first, part.schedule().index());
            }
        }
        assertEquals(whole.schedule().index(), first);
    }

    @ParameterizedTest
    @ValueSource(strings = {"random", "pct", "exhaustive"})
    void aRunIsAFunctionOfItsSettings(String strategy) {
        Explorer.Summary a = run("mprotect-xchg", strategy, 0, 1, 60);
        Explorer.Summary b = run("mprotect-xchg", strategy, 0, 1, 60);
        assertEquals(a.schedules(), b.schedules());
        assertEquals(a.steps(), b.steps());
    }

    private static Explorer.Summary run(String variant, String strategy, int k, int n, long schedules) {
        int depth = strategy.equals("pct") ? 3 : 2;
        return Explorer.explore(SC, variant, new Explorer.Settings(strategy, 7, schedules, depth,
                Explorer.DEFAULT_MAX_STEPS, k, n), () -> false, null);
    }
}
