package ptlab.tools.scenarios;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.engine.Exhaustive;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Strategies;
import ptlab.engine.Strategy;
import ptlab.tools.Scenarios;

/**
 * The engine's rule (Machine's class comment), checked on every registered scenario and
 * variant: wherever two adjacent steps of different CPUs have operations that exhaustive
 * search calls independent, running them in the other order must end in the same state (same
 * outcome, same violated invariant, same physical memory). Java state shared between CPUs but
 * touched between scheduling points breaks this at once: e.g. two CPUs allocating frames in
 * either order get different frames, so memory differs.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class IndependenceRuleTest {

    private static final int SCHEDULES = 5;
    private static final int SWAPS_PER_SCHEDULE = 200;
    private static final int MAX_STEPS = 20_000;

    /** Random choices, recording each step's enabled set and every enabled choice's next operation. */
    private static final class Recording implements Strategy {
        final Strategies.Random random = new Strategies.Random();
        final List<long[]> at = new ArrayList<>();   // per step: enabled, then (op, addr) per choice

        @Override
        public int choose(Machine m, long enabled, int step) {
            int n = m.choiceCount();
            long[] r = new long[1 + 2 * n];
            r[0] = enabled;
            for (int k = 0; k < n; k++) {
                if ((enabled & (1L << k)) != 0) {
                    r[1 + 2 * k] = m.nextOp(k);
                    r[2 + 2 * k] = m.nextAddr(k);
                }
            }
            at.add(r);
            return random.choose(m, enabled, step);
        }
    }

    private record End(Machine.Outcome outcome, int invariant, long steps, long memory) {
        static End of(Machine m, Machine.Outcome o) {
            return new End(o, m.violation() == null ? 0 : m.violation().invariant(), m.steps(),
                    m.memory().contentHash());
        }
    }

    private static End replay(Scenario sc, String variant, int[] trail) {
        Machine m = sc.build(variant);
        Machine.Outcome o = m.run(new Strategies.Replay(trail, trail.length), new int[MAX_STEPS], MAX_STEPS);
        return End.of(m, o);
    }

    @Test
    void swappingIndependentAdjacentStepsNeverChangesTheEnd() {
        int swaps = 0;
        for (Scenario sc : Scenarios.all()) {
            for (Scenario.Variant v : sc.variants()) {
                for (int seed = 1; seed <= SCHEDULES; seed++) {
                    swaps += checkOne(sc, v.name(), seed);
                }
            }
        }
        assertTrue(swaps > 100, "the check ran: " + swaps + " swaps");
    }

    private static int checkOne(Scenario sc, String variant, long seed) {
        Machine m = sc.build(variant);
        Recording rec = new Recording();
        rec.random.reset(Strategies.scheduleSeed(seed, 0));
        int[] trail = new int[MAX_STEPS];
        Machine.Outcome o = m.run(rec, trail, MAX_STEPS);
        int len = (int) m.steps();
        int[] ran = Arrays.copyOf(trail, len);
        End original = End.of(m, o);
        assertEquals(original, replay(sc, variant, ran), sc.name() + " " + variant + ": replay is deterministic");
        int cpus = m.cpuCount();
        int done = 0;
        for (int i = 0; i + 1 < len && done < SWAPS_PER_SCHEDULE; i++) {
            int a = ran[i];
            int b = ran[i + 1];
            long[] r = rec.at.get(i);
            if (a == b || a >= cpus || b >= cpus || (r[0] & (1L << b)) == 0) {
                continue;
            }
            if (o == Machine.Outcome.VIOLATION && i + 2 == len) {
                continue;   // the last step found the violation: run first, it ends the run before the other step
            }
            if (!Exhaustive.independentOps((int) r[1 + 2 * a], r[2 + 2 * a], (int) r[1 + 2 * b], r[2 + 2 * b])) {
                continue;
            }
            int[] swapped = ran.clone();
            swapped[i] = b;
            swapped[i + 1] = a;
            End e = replay(sc, variant, swapped);
            String what = String.format("%s %s seed %d: steps %d (CPU%d %s 0x%x) and %d (CPU%d %s 0x%x) swapped",
                    sc.name(), variant, seed, i, a, ptlab.engine.Op.name((int) r[1 + 2 * a]), r[2 + 2 * a], i + 1, b,
                    ptlab.engine.Op.name((int) r[1 + 2 * b]), r[2 + 2 * b]);
            assertEquals(original, e, what);
            done++;
            i++;   // the next pair starts after the swapped one
        }
        return done;
    }
}
