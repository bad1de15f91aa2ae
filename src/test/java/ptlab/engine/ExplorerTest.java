package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * What an exploration reports and how it shrinks what it found, on {@link MachineTest}'s
 * two-CPU counter (each CPU: start, load X, store X+1; the end check wants 2). The lost update
 * needs one preemption: a CPU switched away between its load and its store.
 */
class ExplorerTest {

    private static final Scenario RACY = MachineTest.scenario("racy", () -> MachineTest.counter(false));
    private static final Scenario CAS = MachineTest.scenario("cas", () -> MachineTest.counter(true));

    private static Explorer.Summary explore(Scenario sc, String strategy, long schedules, int depth) {
        return Explorer.explore(sc, null, Explorer.Settings.of(strategy, 5, schedules, depth), () -> false, null);
    }

    /** Every setting names the bad value in its message (the CLI prints it as the one line of exit 2). */
    @Test
    void settingsRejectEachBadValueByName() {
        assertBad("--strategy must be random, pct or exhaustive, not 'dfs'",
                () -> new Explorer.Settings("dfs", 0, 1, 0, 10, 0, 1));
        assertBad("--schedules must be at least 1, got 0", () -> new Explorer.Settings("random", 0, 0, 0, 10, 0, 1));
        assertBad("--max-depth must be at least 0, got -1", () -> new Explorer.Settings("random", 0, 1, -1, 10, 0, 1));
        assertBad("--max-depth must be at least 1, got 0", () -> new Explorer.Settings("pct", 0, 1, 0, 10, 0, 1));
        assertBad("step limit must be at least 1, got 0", () -> new Explorer.Settings("random", 0, 1, 0, 0, 0, 1));
        assertBad("--shard K/N needs 1 <= K <= N", () -> new Explorer.Settings("random", 0, 1, 0, 10, 0, 0));
        assertBad("--shard K/N needs 1 <= K <= N", () -> new Explorer.Settings("random", 0, 1, 0, 10, -1, 2));
        assertBad("--shard K/N needs 1 <= K <= N", () -> new Explorer.Settings("random", 0, 1, 0, 10, 2, 2));
        assertBad("--shard splits the seed space", () -> new Explorer.Settings("exhaustive", 0, 1, 0, 10, 1, 2));
        // the smallest legal values
        new Explorer.Settings("random", 0, 1, 0, 1, 0, 1);
        new Explorer.Settings("pct", 0, 1, 1, 1, 1, 2);
        new Explorer.Settings("exhaustive", 0, 1, 0, 1, 0, 1);
        assertEquals(Explorer.DEFAULT_MAX_STEPS, Explorer.Settings.of("random", 0, 1, 0).maxSteps());
    }

    private static void assertBad(String message, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().startsWith(message), e.getMessage());
    }

    /** The summary names what ran and counts schedules and steps; a correct scenario has no violation. */
    @Test
    void aCleanRandomExplorationCountsEveryScheduleAndStep() {
        long t0 = System.nanoTime();
        Explorer.Summary s = explore(CAS, "random", 50, 0);
        double wall = (System.nanoTime() - t0) / 1e9;
        assertTrue(s.seconds() > 0 && s.seconds() <= wall, s.seconds() + " s of " + wall + " s");
        assertNull(s.violation());
        assertNull(s.schedule());
        assertEquals("cas", s.scenario());
        assertEquals("only", s.variant());
        assertEquals("random", s.strategy());
        assertEquals(5, s.seed());
        assertEquals(50, s.schedules());
        assertFalse(s.exhausted(), "random search never exhausts");
        assertFalse(s.interrupted());
        assertEquals(0, s.truncated());
        assertEquals(0, s.pruned());
        assertTrue(s.steps() >= 50 * 6, "at least start, load and CAS on each CPU: " + s.steps());
        assertEquals(s.schedules() / s.seconds(), s.schedulesPerSecond(), 1e-9);
        assertEquals(s.steps() / s.seconds(), s.stepsPerSecond(), 1e-9);
    }

    /** A Ctrl-C before the first schedule: nothing runs, and the summary says it was interrupted. */
    @Test
    void aStopRequestEndsTheExplorationBeforeTheNextSchedule() {
        int[] asked = {0};
        Explorer.Summary s = Explorer.explore(CAS, null, Explorer.Settings.of("random", 5, 100, 0),
                () -> ++asked[0] > 3, null);
        assertTrue(s.interrupted());
        assertEquals(3, s.schedules(), "three schedules ran before the stop");
        assertFalse(s.exhausted());
    }

    /** Progress is reported every 64 schedules, with the count so far. */
    @Test
    void progressIsReportedEvery64Schedules() {
        List<Long> seen = new ArrayList<>();
        Explorer.explore(CAS, null, Explorer.Settings.of("random", 5, 200, 0), () -> false, seen::add);
        assertEquals(List.of(64L, 128L, 192L), seen);
    }

    /** A schedule cut by the step limit is counted as truncated, not as clean and not as a violation. */
    @Test
    void schedulesCutByTheStepLimitAreCountedAsTruncated() {
        Explorer.Summary s = Explorer.explore(CAS, null, new Explorer.Settings("random", 5, 10, 0, 3, 0, 1),
                () -> false, null);
        assertEquals(10, s.truncated());
        assertEquals(30, s.steps(), "each schedule stops after 3 steps");
        assertNull(s.violation());
    }

    /** The check counters add up over schedules: how often each invariant's check ran, and in how many schedules. */
    @Test
    void invariantCheckCountsAddUpOverSchedules() {
        Scenario sc = MachineTest.scenario("checks", () -> {
            Machine m = MachineTest.counter(true);
            m.addEndCheck(mm -> {
                mm.checked(4);
                mm.checked(4);
                mm.checked(Violation.INVARIANTS);
                return null;
            });
            return m;
        });
        Explorer.Summary s = explore(sc, "random", 7, 0);
        assertEquals(14, s.checks(4));
        assertEquals(7, s.checkedSchedules(4));
        assertEquals(0, s.checks(3));
        assertEquals(0, s.checkedSchedules(3));
        assertEquals(7, s.checks(Violation.INVARIANTS), "the last invariant too");
        assertEquals(7, s.checkedSchedules(Violation.INVARIANTS));
    }

    /**
     * The lost update, found by exhaustive search and shrunk: the shortest list after which the
     * default rule still loses the update is CPU0's start and load, then CPU1 (one preemption);
     * CPU1 then runs to its end and CPU0 stores the stale value: 6 steps.
     */
    @Test
    void aFoundViolationIsShrunkToItsOnePreemption() {
        Explorer.Summary s = explore(RACY, "exhaustive", 1000, 3);
        assertNotNull(s.violation());
        assertEquals("counter is 1", s.violation().message());
        Schedule sch = s.schedule();
        assertArrayEquals(new int[] {0, 0, 1}, sch.choices());
        assertEquals(1, sch.preemptions());
        assertEquals(6, sch.steps());
        assertEquals("racy", sch.scenario());
        assertEquals("only", sch.variant());
        assertEquals("exhaustive", sch.strategy());
        assertEquals(5, sch.seed());
        assertEquals(s.schedules() - 1, sch.index(), "the violating schedule was the last one run");
        assertEquals(s.violation().describe(), sch.violation());
        Machine replayed = Explorer.replay(RACY, "only", sch.choices(), 100, null);
        assertEquals("counter is 1", replayed.violation().message(), "the shrunk schedule replays to the violation");
        assertEquals(6, replayed.steps());
    }

    /** Random search finds the lost update too, and its shrunk schedule is the same minimal one. */
    @Test
    void randomAndPctShrinkToTheSameMinimalSchedule() {
        for (String strategy : List.of("random", "pct")) {
            Explorer.Summary s = explore(RACY, strategy, 1000, 2);
            assertNotNull(s.violation(), strategy);
            assertEquals(1, s.schedule().preemptions(), strategy);
            assertEquals(3, s.schedule().choices().length, strategy + ": " + java.util.Arrays.toString(s.schedule().choices()));
            assertEquals(strategy, s.schedule().strategy());
        }
    }

    /**
     * Schedule i of a random or PCT exploration seeded s is that strategy seeded
     * scheduleSeed(s, i) — for PCT with its change points drawn from the length of one default
     * run (6 steps here) — so a run is a function of its settings: the same first violation,
     * the same step count, as the strategies run by hand.
     */
    @Test
    void scheduleIIsTheStrategySeededWithScheduleSeedI() {
        for (String strategy : List.of("random", "pct")) {
            for (Scenario sc : List.of(RACY, CAS)) {
                Explorer.Summary s = explore(sc, strategy, 40, 2);
                long steps = 0;
                long found = -1;
                int[] trail = new int[1000];
                for (long i = 0; i < 40 && found < 0; i++) {
                    Machine m = sc.build(null);
                    Strategy st;
                    if (strategy.equals("pct")) {
                        Strategies.Pct p = new Strategies.Pct(2);
                        p.reset(Strategies.scheduleSeed(5, i), m.choiceCount(), 6);
                        st = p;
                    } else {
                        Strategies.Random r = new Strategies.Random();
                        r.reset(Strategies.scheduleSeed(5, i));
                        st = r;
                    }
                    if (m.run(st, trail, 1000) == Machine.Outcome.VIOLATION) {
                        found = i;
                    }
                    steps += m.steps();
                }
                String what = strategy + " on " + sc.name();
                assertEquals(steps, s.steps(), what);
                assertEquals(found < 0 ? 40 : found + 1, s.schedules(), what);
                if (found >= 0) {
                    assertEquals(found, s.schedule().index(), what);
                    assertEquals(Strategies.scheduleSeed(5, found), s.schedule().scheduleSeed(), what);
                }
            }
        }
    }

    /** A switch away from a CPU that could go on is a preemption; a switch from a finished CPU is free. */
    @Test
    void preemptionsCountOnlySwitchesAwayFromARunnableCpu() {
        assertEquals(0, Explorer.preemptions(CAS, "only", new int[0], 100), "the default rule never preempts");
        assertEquals(0, Explorer.preemptions(CAS, "only", new int[] {1, 1, 1, 1}, 100), "CPU1 first, to its end");
        assertEquals(1, Explorer.preemptions(CAS, "only", new int[] {0, 1}, 100));
        assertEquals(2, Explorer.preemptions(CAS, "only", new int[] {0, 1, 0}, 100));
        assertEquals(3, Explorer.preemptions(CAS, "only", new int[] {0, 1, 0, 1}, 100));
    }

    /** Replay runs the listed choices, then the default rule, on a fresh machine, and shows every step to a listener. */
    @Test
    void replayReportsEveryStepToItsListener() {
        List<String> trace = new ArrayList<>();
        Machine m = Explorer.replay(CAS, "only", new int[] {1}, 100, new Machine.StepListener() {
            @Override
            public void beforeStep(Machine mm, long step, int choice, SimCpu cpu, int op, long addr) {
                trace.add(step + ":" + choice);
            }

            @Override
            public void afterStep(Machine mm, long step, SimCpu cpu, int op, long addr) {
            }
        });
        assertNull(m.violation());
        assertEquals(m.steps(), trace.size());
        assertEquals("0:1", trace.get(0), "CPU1 first, as listed");
        assertEquals("1:1", trace.get(1), "then CPU1 goes on by the default rule");
    }

    /**
     * An injected event counts as a preemption wherever it comes (here after CPU0 finished);
     * the switch from the event back to a CPU does not. CPU1 starts, CPU0 runs (a preemption),
     * finishes, the NMI on CPU1 comes (a preemption), CPU1 goes on (none): 2.
     */
    @Test
    void anInjectedEventIsAPreemptionAndTheSwitchBackIsNot() {
        Scenario sc = MachineTest.scenario("event", () -> {
            Machine m = new Machine(new ptlab.hw.PhysicalMemory(1 << 20), ptlab.hw.PagingMode.X86_64,
                    new ptlab.check.Invariants());
            m.addCpu(MachineTest.regs(), c -> c.memory().loadLong(MachineTest.X));
            m.addCpu(MachineTest.regs(), c -> {
                c.memory().loadLong(MachineTest.Y);
                c.memory().loadLong(MachineTest.Y);
            });
            m.addInjection(1, Interrupt.of(Interrupt.Kind.NMI, "NMI", c -> { }), 2);
            return m;
        });
        assertEquals(2, Explorer.preemptions(sc, "only", new int[] {1, 0, 0, 2, 1}, 100));
    }

    /**
     * Shrinking first looks for fewer preemptions: a lost update reached with three (CPU0
     * starts, CPU1 starts, CPU0 loads, CPU1 loads) needs one, which the bounded search finds and
     * the shortest-prefix step cuts to CPU0's start and load, then CPU1.
     */
    @Test
    void shrinkingFindsAScheduleWithFewerPreemptionsByBoundedSearch() {
        int[] three = {0, 1, 0, 1};
        Machine m = Explorer.replay(RACY, "only", three, 100, null);
        assertEquals(3, Explorer.preemptions(RACY, "only", three, 100));
        Schedule s = Explorer.shrink(RACY, "only", three, m.violation(), 100, "random", 1, 2, 3);
        assertArrayEquals(new int[] {0, 0, 1}, s.choices());
        assertEquals(1, s.preemptions());
        assertEquals("counter is 1", s.violation().substring(s.violation().indexOf("counter")));
    }

    /** A schedule already at the fewest preemptions keeps its own order: no search with as many replaces it. */
    @Test
    void shrinkingKeepsAScheduleThatHasTheFewestPreemptionsAlready() {
        int[] one = {1, 1, 0};
        Machine m = Explorer.replay(RACY, "only", one, 100, null);
        assertEquals("counter is 1", m.violation().message());
        Schedule s = Explorer.shrink(RACY, "only", one, m.violation(), 100, "random", 1, 2, 3);
        assertArrayEquals(one, s.choices());
        assertEquals(1, s.preemptions());
    }
}
