package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Exact schedule counts of exhaustive search under a preemption bound (iterative context
 * bounding), on {@link ExhaustiveCountTest}'s tiny scenario: two CPUs, each runs three steps
 * (its start and two stores to one shared variable), so every pair of steps of different CPUs
 * is dependent and nothing is pruned. A switch away from a CPU that could go on is a preemption.
 */
class ExhaustivePreemptionBoundTest {

    private static Explorer.Summary exhaust(int bound, long schedules) {
        return Explorer.explore(ExhaustiveCountTest.twoStores(true), null,
                Explorer.Settings.of("exhaustive", 0, schedules, bound), () -> false, null);
    }

    /**
     * Bound 0: each CPU runs to its end before the other starts, in either order: 2 runs.
     * Bound 1: the first CPU runs k = 1, 2 or 3 steps, the other all of its own, the first the
     * rest (a switch from a CPU that has finished is free): 3 runs for each first CPU, 6.
     * Bound 2 adds one more switch: the first CPU runs i, the other j < 3, the first the rest
     * (i = 1, 2; j = 1, 2), then the other finishes: 4 more per first CPU, 14.
     * Unbounded: all C(6,3) = 20 interleavings.
     */
    @ParameterizedTest
    @CsvSource({"0, 2", "1, 6", "2, 14", "10, 20"})
    void exhaustiveSearchOfATinyScenarioExploresExactlyTheSchedulesWithinTheBound(int bound, long expected) {
        Explorer.Summary s = exhaust(bound, 10_000);
        assertTrue(s.exhausted(), "bound " + bound);
        assertEquals(expected, s.schedules() - s.pruned(), "complete runs at bound " + bound);
        assertEquals(0, s.truncated());
    }

    /** A schedule budget smaller than the search stops it there, and the summary says it is not exhausted. */
    @Test
    void aBudgetBelowTheSearchSizeIsNotReportedAsExhausted() {
        Explorer.Summary s = exhaust(10, 5);
        assertEquals(5, s.schedules());
        assertFalse(s.exhausted());
        Explorer.Summary all = exhaust(10, 20);
        assertEquals(20, all.schedules() - all.pruned());
        assertTrue(all.exhausted(), "exactly the search size: exhausted");
    }

    /**
     * The search's frames hold one entry per step up to the step limit: a limit equal to the
     * runs' length (6 steps) still explores all 20 interleavings, none cut.
     */
    @Test
    void aStepLimitEqualToTheRunLengthStillExploresEverySchedule() {
        Explorer.Summary s = Explorer.explore(ExhaustiveCountTest.twoStores(true), null,
                new Explorer.Settings("exhaustive", 0, 10_000, 10, 6, 0, 1), () -> false, null);
        assertTrue(s.exhausted());
        assertEquals(20, s.schedules() - s.pruned());
        assertEquals(0, s.truncated());
    }
}
