package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import ptlab.tools.Scenarios;

/**
 * Each explore schedule starts from the same booted state, however many schedules ran before it
 * in the same JVM: schedule k run after schedules 0..k-1 has the identical trace (every step,
 * every note, every address), choices, outcome and final memory as schedule k run on its own.
 * Whatever the explorer does to start a schedule cheaply (a kernel booted per schedule on lazily
 * made struct pages and page-table locks, nothing kept across schedules), a leftover of an
 * earlier schedule would show here as a different trace.
 */
class ScheduleResetExactnessTest {

    /** What one schedule did, compared whole. */
    private record Run(List<String> trace, int[] choices, Machine.Outcome outcome, long steps, String violation,
                       long memoryHash) {
    }

    @ParameterizedTest
    @CsvSource({
            "tlb-stale-after-unmap, munmap-shootdown, random",
            "tlb-stale-after-unmap, munmap-shootdown, pct",
            "tlb-stale-after-unmap, munmap-local-flush, random",
            "tlb-gen-vs-cpumask, cpumask-before-gen, random"})
    void scheduleKAfterManyIsScheduleKAlone(String scenario, String variant, String strategy) {
        Scenario sc = Scenarios.byName(scenario);
        boolean broken = sc.variant(variant).broken();
        long seed = broken ? 42 : 11;   // 42: random finds munmap-local-flush's stale TLB entry early (KernelScenarioTest)
        // Schedules 0..k in order, as one exploration runs them; for a broken variant k is the
        // first schedule that breaks the invariant (the explorer's find), else 157.
        List<Run> sequence = new ArrayList<>();
        for (int i = 0; broken ? i < 5_000 : i <= 157; i++) {
            Run r = runOne(sc, variant, strategy, seed, i);
            sequence.add(r);
            if (broken && r.violation() != null) {
                break;
            }
        }
        int k = sequence.size() - 1;
        if (broken) {
            assertNotNull(sequence.get(k).violation(), "the broken variant is caught within 5,000 schedules");
        }
        int[] ks = {k, Math.min(3, k), Math.min(40, k)};
        Run[] alone = new Run[ks.length];
        for (int j = 0; j < ks.length; j++) {
            alone[j] = runOne(sc, variant, strategy, seed, ks[j]);   // each first in a fresh machine
        }
        for (int j = 0; j < ks.length; j++) {
            Run a = alone[j];
            Run b = sequence.get(ks[j]);
            assertTrue(a.trace().size() > 10, "a schedule traces its steps");
            assertEquals(a.trace(), b.trace(), "trace of schedule " + ks[j]);
            assertEquals(Arrays.toString(a.choices()), Arrays.toString(b.choices()), "choices of schedule " + ks[j]);
            assertEquals(a.outcome(), b.outcome());
            assertEquals(a.steps(), b.steps());
            assertEquals(a.violation(), b.violation());
            assertEquals(a.memoryHash(), b.memoryHash(), "simulated memory after schedule " + ks[j]);
        }
        if (broken) {
            assertNotNull(alone[0].violation(), "schedule " + k + " breaks the invariant, run alone too");
        }
    }

    /** Schedule {@code i} as {@link Explorer#explore} runs it: a fresh machine, the strategy seeded by (seed, i). */
    private static Run runOne(Scenario sc, String variant, String strategy, long seed, long i) {
        Machine m = sc.build(variant);
        TraceRecorder trace = new TraceRecorder();
        m.setListener(trace);
        Strategy s;
        if (strategy.equals("pct")) {
            Strategies.Pct pct = new Strategies.Pct(3);
            pct.reset(Strategies.scheduleSeed(seed, i), m.choiceCount(), 40);
            s = pct;
        } else {
            Strategies.Random r = new Strategies.Random();
            r.reset(Strategies.scheduleSeed(seed, i));
            s = r;
        }
        int[] trail = new int[Explorer.DEFAULT_MAX_STEPS];
        Machine.Outcome o = m.run(s, trail, trail.length);
        List<String> lines = new ArrayList<>();
        for (TraceRecorder.Line l : trace.lines()) {
            lines.add(l.format());
        }
        return new Run(lines, Arrays.copyOf(trail, (int) m.steps()), o, m.steps(),
                m.violation() == null ? null : m.violation().describe(), m.memory().contentHash());
    }
}
