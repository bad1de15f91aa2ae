package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import ptlab.tools.Scenarios;

/**
 * {@code explore --jobs N}: worker threads change how fast a search runs, never what it finds.
 * Each case compares N = 2 and 3 with one thread over a kernel-level scenario (a kernel per
 * schedule, booted on the worker's own thread): the schedules run, the steps, every invariant's
 * check counts, the first violation's index and its shrunk schedule.
 */
class ParallelExploreTest {

    private static final Scenario SC = Scenarios.byName("pte-clear-vs-dirty");

    private static Explorer.Summary run(String variant, String strategy, int shard, int shards, long schedules, int jobs) {
        return Explorer.explore(SC, variant, new Explorer.Settings(strategy, 1, schedules,
                strategy.equals("pct") ? 3 : 0, Explorer.DEFAULT_MAX_STEPS, shard, shards), jobs, () -> false, null);
    }

    private static void assertSameResult(Explorer.Summary one, Explorer.Summary many) {
        assertEquals(one.schedules(), many.schedules(), "schedules");
        assertEquals(one.steps(), many.steps(), "steps: other schedules ran");
        assertEquals(one.truncated(), many.truncated(), "truncated");
        assertArrayEquals(one.checks(), many.checks(), "per-invariant check counts");
        assertArrayEquals(one.checkedSchedules(), many.checkedSchedules(), "schedules per invariant");
        assertEquals(one.violation() == null ? null : one.violation().describe(),
                many.violation() == null ? null : many.violation().describe());
        if (one.schedule() != null) {
            assertEquals(one.schedule().index(), many.schedule().index(), "first violating schedule");
            assertArrayEquals(one.schedule().choices(), many.schedule().choices(), "shrunk schedule");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"random", "pct"})
    void aCorrectVariantRunsTheSameSchedulesOnEveryWorkerCount(String strategy) {
        Explorer.Summary one = run("mprotect-xchg", strategy, 0, 1, 300, 1);
        assertNull(one.violation());
        assertTrue(one.checks(1) > 0, "invariant 1's check ran");
        for (int jobs : new int[] {2, 3}) {
            assertSameResult(one, run("mprotect-xchg", strategy, 0, 1, 300, jobs));
        }
    }

    /** Random search first breaks mprotect-plain-clear at schedule 104: the second chunk of 64, not the first. */
    @Test
    void theFirstViolationIsTheOneThreadFindsEvenInALaterChunk() {
        Explorer.Summary one = run("mprotect-plain-clear", "random", 0, 1, 2000, 1);
        assertNotNull(one.schedule());
        assertTrue(one.schedule().index() >= ParallelExplorer.CHUNK, "the case needs a violation past the first chunk, found at "
                + one.schedule().index());
        assertEquals(one.schedule().index() + 1, one.schedules(), "one thread stops at the violating schedule");
        for (int jobs : new int[] {2, 3}) {
            assertSameResult(one, run("mprotect-plain-clear", "random", 0, 1, 2000, jobs));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"random", "pct"})
    void aShardOnSeveralWorkersIsThatShardOnOne(String strategy) {
        for (String variant : new String[] {"mprotect-xchg", "mprotect-plain-clear"}) {
            assertSameResult(run(variant, strategy, 1, 3, 500, 1), run(variant, strategy, 1, 3, 500, 2));
        }
    }

    @Test
    void progressCountsEverySchedule() {
        AtomicLong last = new AtomicLong();
        Explorer.Summary s = Explorer.explore(SC, "mprotect-xchg", Explorer.Settings.of("random", 1, 640, 0), 2,
                () -> false, n -> last.accumulateAndGet(n, Math::max));
        assertEquals(640, s.schedules());
        assertEquals(640, last.get());
    }

    @Test
    void aStopRequestEndsEveryWorker() {
        AtomicLong asked = new AtomicLong();
        Explorer.Summary s = Explorer.explore(SC, "mprotect-xchg", Explorer.Settings.of("random", 1, 1_000_000, 0), 2,
                () -> asked.incrementAndGet() > 200, null);
        assertTrue(s.interrupted());
        assertTrue(s.schedules() < 1000, "ran " + s.schedules());
    }

    @Test
    void exhaustiveSearchIgnoresWorkersAndStillExhausts() {
        Explorer.Summary one = Explorer.explore(SC, "mprotect-xchg", Explorer.Settings.of("exhaustive", 1, 100_000, 1), 1,
                () -> false, null);
        Explorer.Summary two = Explorer.explore(SC, "mprotect-xchg", Explorer.Settings.of("exhaustive", 1, 100_000, 1), 2,
                () -> false, null);
        assertTrue(one.exhausted());
        assertEquals(one.schedules(), two.schedules());
        assertEquals(one.exhausted(), two.exhausted());
    }

    @Test
    void noWorkersIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> Explorer.explore(SC, "mprotect-xchg",
                Explorer.Settings.of("random", 1, 10, 0), 0, () -> false, null));
    }
}
