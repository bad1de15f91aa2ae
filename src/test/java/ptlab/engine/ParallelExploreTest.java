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

    private static Explorer.Summary run(Scenario sc, String variant, int maxSteps, int shard, int shards, long schedules,
                                        int jobs) {
        return Explorer.explore(sc, variant, new Explorer.Settings("random", 1, schedules, 0, maxSteps, shard, shards),
                jobs, () -> false, null);
    }

    /**
     * A violation in the very first schedule (index 0, the first schedule of the first chunk):
     * paravirt-bypass's direct store to a pinned pmd breaks invariant 10 at once. Every worker
     * count reports that schedule, also in a shard where it is the shard's first.
     */
    @Test
    void aViolationInTheFirstScheduleIsFoundOnEveryWorkerCount() {
        Scenario pv = Scenarios.byName("paravirt-bypass");
        Explorer.Summary one = run(pv, "bypass", Explorer.DEFAULT_MAX_STEPS, 0, 1, 200, 1);
        assertNotNull(one.schedule());
        assertEquals(0, one.schedule().index(), "the case needs a violation in schedule 0");
        assertEquals(1, one.schedules());
        for (int jobs : new int[] {2, 3}) {
            assertSameResult(one, run(pv, "bypass", Explorer.DEFAULT_MAX_STEPS, 0, 1, 200, jobs));
        }
        Explorer.Summary shardOne = run(pv, "bypass", Explorer.DEFAULT_MAX_STEPS, 2, 3, 200, 1);
        assertNotNull(shardOne.schedule());
        assertEquals(2, shardOne.schedule().index(), "shard 3/3's first schedule is index 2");
        assertSameResult(shardOne, run(pv, "bypass", Explorer.DEFAULT_MAX_STEPS, 2, 3, 200, 2));
    }

    /** The last invariant (10, pinned-table writes) is added up from every worker's chunks like the others. */
    @Test
    void theLastInvariantsChecksAreAddedUpToo() {
        Scenario pv = Scenarios.byName("paravirt-bypass");
        Explorer.Summary one = run(pv, "hooks", Explorer.DEFAULT_MAX_STEPS, 0, 1, 150, 1);
        assertNull(one.violation());
        assertTrue(one.checks(Violation.INVARIANTS) > 0, "invariant 10's check ran");
        assertSameResult(one, run(pv, "hooks", Explorer.DEFAULT_MAX_STEPS, 0, 1, 150, 2));
    }

    /** Schedules cut off at the step limit are counted as truncated, as many with N workers as with one. */
    @Test
    void truncatedSchedulesAreCountedOnEveryWorkerCount() {
        Explorer.Summary one = run(SC, "mprotect-xchg", 12, 0, 1, 150, 1);
        assertTrue(one.truncated() > 0 && one.truncated() <= one.schedules(), "truncated " + one.truncated());
        assertSameResult(one, run(SC, "mprotect-xchg", 12, 0, 1, 150, 2));
    }

    /**
     * A shard K/N of S schedules runs the indices K-1, K-1+N, ... below S: ceil((S - K + 1) / N)
     * of them, on any number of workers. 10 schedules split 3 ways are 4 + 3 + 3.
     */
    @Test
    void eachShardRunsItsShareOfTheSchedulesOnEveryWorkerCount() {
        long[] expected = {4, 3, 3};
        for (int shard = 0; shard < 3; shard++) {
            assertEquals(expected[shard], run(SC, "mprotect-xchg", Explorer.DEFAULT_MAX_STEPS, shard, 3, 10, 1).schedules());
            assertEquals(expected[shard], run(SC, "mprotect-xchg", Explorer.DEFAULT_MAX_STEPS, shard, 3, 10, 2).schedules(),
                    "shard " + (shard + 1) + "/3 on 2 workers");
        }
        assertEquals(2, run(SC, "mprotect-xchg", Explorer.DEFAULT_MAX_STEPS, 1, 4, 6, 2).schedules(), "indices 1 and 5 of 6");
    }

    /** The reported run time is this run's wall-clock time in seconds. */
    @Test
    void theRunTimeIsTheWallClockTime() {
        long t0 = System.nanoTime();
        Explorer.Summary s = run(SC, "mprotect-xchg", Explorer.DEFAULT_MAX_STEPS, 0, 1, 100, 2);
        double wall = (System.nanoTime() - t0) / 1e9;
        assertTrue(s.seconds() > 0 && s.seconds() <= wall, "seconds " + s.seconds() + ", wall " + wall);
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

    /**
     * The thread that waits for the workers is interrupted (a host shutting the search down):
     * explore fails with that InterruptedException as its cause and leaves the thread's interrupt
     * status set for its caller, without waiting for the workers to finish.
     */
    @Test
    void anInterruptedWaitFailsTheSearchAndKeepsTheInterruptStatus() throws InterruptedException {
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<Throwable> thrown = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean statusKept = new java.util.concurrent.atomic.AtomicBoolean();
        Thread caller = new Thread(() -> {
            try {
                Explorer.explore(SC, "mprotect-xchg", Explorer.Settings.of("random", 1, 1_000_000, 0), 2, stop::get,
                        n -> running.countDown());
            } catch (RuntimeException e) {
                thrown.set(e);
                statusKept.set(Thread.currentThread().isInterrupted());
            }
        });
        caller.start();
        running.await();
        caller.interrupt();
        caller.join(10_000);
        stop.set(true);                                     // now end the workers (and a caller still waiting)
        caller.join();
        assertNotNull(thrown.get(), "explore failed");
        assertTrue(thrown.get().getCause() instanceof InterruptedException, "cause " + thrown.get().getCause());
        assertTrue(statusKept.get(), "the interrupt status is kept for the caller");
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
