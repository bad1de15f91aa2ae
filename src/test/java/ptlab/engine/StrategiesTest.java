package ptlab.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;

/** The scheduling strategies' choices, step by step, without running a scenario. */
class StrategiesTest {

    private static Machine machine(int cpus) {
        Machine m = new Machine(new PhysicalMemory(1L << 20), PagingMode.X86_64, new ptlab.check.Invariants());
        for (int i = 0; i < cpus; i++) {
            CpuRegisters r = new CpuRegisters(PagingMode.X86_64);
            r.setCr3(0x1000);
            m.addCpu(r, c -> { });
        }
        return m;
    }

    /** Keep the CPU that ran last; else the lowest runnable CPU; an injected event only when no CPU can run. */
    @Test
    void theDefaultChoiceAddsNoPreemption() {
        assertEquals(2, Strategies.defaultChoice(0b0111, 3, 2), "the CPU that ran last goes on");
        assertEquals(0, Strategies.defaultChoice(0b0011, 3, 2), "it cannot: the lowest runnable CPU");
        assertEquals(1, Strategies.defaultChoice(0b1010, 3, -1), "no CPU ran yet: the lowest runnable CPU");
        assertEquals(1, Strategies.defaultChoice(0b1010, 3, 3), "an event ran last: a CPU, not the event again");
        assertEquals(3, Strategies.defaultChoice(0b1000, 3, 0), "only the event is enabled");
        assertEquals(0, Strategies.defaultChoice(0b1, 1, 0));
        assertEquals(63, Strategies.defaultChoice(1L << 63, 64, 5), "64 CPUs: the top bit is a CPU");
        assertEquals(5, Strategies.defaultChoice(1L << 63 | 1L << 5, 64, 5));
    }

    /** splitmix64 (Steele, Lea, Flood 2014): schedule i of seed s is the (i+1)-th output from state s. */
    @Test
    void scheduleSeedsAreSplitmix64() {
        assertEquals(0xE220A8397B1DCDAFL, Strategies.scheduleSeed(0, 0));
        assertEquals(0x6E789E6AA1B965F4L, Strategies.scheduleSeed(0, 1));
        assertEquals(0xBDD732262FEB6E95L, Strategies.scheduleSeed(42, 0));
    }

    @Test
    void nthBitCountsSetBitsFromTheBottom() {
        assertEquals(1, Strategies.nthBit(0b10110, 0));
        assertEquals(2, Strategies.nthBit(0b10110, 1));
        assertEquals(4, Strategies.nthBit(0b10110, 2));
        assertEquals(63, Strategies.nthBit(1L << 63 | 1, 1));
    }

    @Test
    void rngIsUniformInRangeAndReproducible() {
        Strategies.Rng rng = new Strategies.Rng();
        rng.seed(7);
        int[] seen = new int[5];
        List<Integer> first = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            int v = rng.nextInt(5);
            assertTrue(v >= 0 && v < 5, "out of range: " + v);
            seen[v]++;
            if (i < 10) {
                first.add(v);
            }
        }
        for (int v = 0; v < 5; v++) {
            assertTrue(seen[v] > 150, "value " + v + " drawn " + seen[v] + " times in 1000");
        }
        rng.seed(7);
        for (int i = 0; i < 10; i++) {
            assertEquals(first.get(i), rng.nextInt(5), "draw " + i);
        }
        rng.seed(0);
        assertEquals(0xE220A8397B1DCDAFL, rng.next(), "the same generator as the schedule seeds");
    }

    /** Replay follows the list where the listed choice is enabled, else (and after the list) the default choice. */
    @Test
    void replayFollowsTheListThenTheDefault() {
        Machine m = machine(3);
        Strategies.Replay r = new Strategies.Replay(new int[] {2, 1, 0}, 3);
        assertEquals(2, r.choose(m, 0b111, 0));
        assertEquals(1, r.choose(m, 0b111, 1));
        assertEquals(1, r.choose(m, 0b110, 2), "CPU 0 listed but not enabled: keep CPU 1");
        assertEquals(1, r.choose(m, 0b111, 3), "after the list: keep CPU 1");
        assertEquals(0, r.choose(m, 0b101, 4), "CPU 1 cannot: the lowest");
        r.reset(new int[] {2}, 1);
        assertEquals(2, r.choose(m, 0b111, 0));
        r.reset(new int[] {2}, 0);
        assertEquals(0, r.choose(m, 0b111, 0), "an empty list: the default from the start");
    }

    @Test
    void randomChoosesOnlyEnabledChoicesAndRepeatsWithTheSeed() {
        Machine m = machine(4);
        Strategies.Random r = new Strategies.Random();
        r.reset(3);
        int[] got = new int[200];
        boolean[] hit = new boolean[4];
        for (int i = 0; i < got.length; i++) {
            long en = i % 2 == 0 ? 0b1010 : 0b0111;
            got[i] = r.choose(m, en, i);
            assertTrue((en & 1L << got[i]) != 0, "step " + i + " chose " + got[i]);
            hit[got[i]] = true;
        }
        assertTrue(hit[0] && hit[1] && hit[2] && hit[3], "every choice comes up");
        r.reset(3);
        for (int i = 0; i < got.length; i++) {
            assertEquals(got[i], r.choose(m, i % 2 == 0 ? 0b1010 : 0b0111, i));
        }
    }

    /** PCT depth 1: no change point, so the highest-priority enabled choice runs as long as it is enabled. */
    @Test
    void pctWithoutChangePointsRunsTheHighestPriorityChoice() {
        Machine m = machine(3);
        Strategies.Pct p = new Strategies.Pct(1);
        p.reset(11, 3, 10);
        int first = p.choose(m, 0b111, 0);
        for (int step = 1; step < 10; step++) {
            assertEquals(first, p.choose(m, 0b111, step));
        }
        int second = p.choose(m, 0b111 & ~(1L << first), 10);
        assertNotEquals(first, second);
        assertEquals(first, p.choose(m, 0b111, 11), "priorities do not change without a change point");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Strategies.Pct(0));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
    }

    /** PCT depth 2 with one change point at step 0 of a 1-step run: the top choice drops below every other at once. */
    @Test
    void pctDropsTheRunningChoiceBelowEveryOtherAtAChangePoint() {
        Machine m = machine(3);
        for (long seed = 0; seed < 20; seed++) {
            Strategies.Pct p = new Strategies.Pct(2);
            p.reset(seed, 3, 1);                      // the one change point is at step 0
            Strategies.Pct same = new Strategies.Pct(1);
            same.reset(seed, 3, 1);                   // same seed: the same initial priorities
            int top = same.choose(m, 0b111, 0);
            int c = p.choose(m, 0b111, 0);
            assertNotEquals(top, c, "seed " + seed + ": the top choice was demoted at the change point");
            assertEquals(c, p.choose(m, 0b111, 1), "and stays below the others");
            assertEquals(top, p.choose(m, 1L << top, 2), "it still runs when it is the only one enabled");
        }
    }

    /** PCT runs the highest-priority enabled choice: whatever else is enabled, the top one wins while enabled. */
    @Test
    void pctTheTopPriorityChoiceWinsInEveryEnabledSet() {
        Machine m = machine(3);
        boolean[] wasTop = new boolean[3];
        for (long seed = 0; seed < 30; seed++) {
            Strategies.Pct p = new Strategies.Pct(1);
            p.reset(seed, 3, 10);
            int top = p.choose(m, 0b111, 0);
            wasTop[top] = true;
            for (long mask = 1; mask < 8; mask++) {
                if ((mask & 1L << top) != 0) {
                    assertEquals(top, p.choose(m, mask, 1), "seed " + seed + ", enabled " + Long.toBinaryString(mask));
                }
            }
        }
        assertTrue(wasTop[0] && wasTop[1] && wasTop[2], "random priorities: every choice is on top for some seed");
    }

    /** The order in which Pct(1) seeded {@code seed} runs 3 always-enabled choices: its initial priorities, highest first. */
    private static int[] initialOrder(Machine m, long seed) {
        Strategies.Pct p = new Strategies.Pct(1);
        p.reset(seed, 3, 1);
        int top = p.choose(m, 0b111, 0);
        int second = p.choose(m, 0b111 & ~(1L << top), 1);
        return new int[] {top, second, 3 - top - second};
    }

    /**
     * PCT depth 3 with both change points at step 0: the top choice drops to priority 0, then the
     * next one to priority 1 — both below every initial priority, the later one above the earlier.
     */
    @Test
    void pctTheIthChangePointDropsTheRunningChoiceToPriorityI() {
        Machine m = machine(3);
        for (long seed = 0; seed < 20; seed++) {
            int[] order = initialOrder(m, seed);
            Strategies.Pct p = new Strategies.Pct(3);
            p.reset(seed, 3, 1);
            assertEquals(order[2], p.choose(m, 0b111, 0), "seed " + seed + ": both demoted, the third runs");
            assertEquals(order[1], p.choose(m, 0b111 & ~(1L << order[2]), 1), "seed " + seed + ": priority 1 over 0");
            assertEquals(order[0], p.choose(m, 1L << order[0], 2), "seed " + seed);
            assertEquals(order[2], p.choose(m, 0b111, 3), "seed " + seed + ": no more change points");
        }
    }

    /**
     * PCT draws from one splitmix64 stream seeded with the schedule seed: first the permutation
     * of priorities (Fisher-Yates, one draw per choice but the first), then the d-1 change
     * points, uniform in the first k steps (k at least 1). So the change point of depth 2 over 3
     * choices is the third draw, in [0, k): every step of the first k comes up, none after.
     */
    @Test
    void pctChangePointsAreTheDrawsAfterThePermutationWithinTheFirstKSteps() {
        Machine m = machine(3);
        boolean[] seen = new boolean[5];
        for (long seed = 0; seed < 60; seed++) {
            Strategies.Rng rng = new Strategies.Rng();
            rng.seed(seed);
            rng.nextInt(3);
            rng.nextInt(2);
            int expected = rng.nextInt(5);
            int[] order = initialOrder(m, seed);
            Strategies.Pct p = new Strategies.Pct(2);
            p.reset(seed, 3, 5);
            int change = -1;
            for (int step = 0; step < 12; step++) {
                int c = p.choose(m, 0b111, step);
                if (c != order[0] && change < 0) {
                    change = step;
                    assertEquals(order[1], c, "seed " + seed + ": the next priority takes over");
                }
            }
            assertEquals(expected, change, "seed " + seed);
            seen[change] = true;
            Strategies.Pct none = new Strategies.Pct(2);
            none.reset(seed, 3, 0);                   // k = 0 counts as 1: the change point is step 0
            assertEquals(order[1], none.choose(m, 0b111, 0), "seed " + seed);
        }
        for (int s = 0; s < 5; s++) {
            assertTrue(seen[s], "change point at step " + s + " for some seed");
        }
    }

    /** The most choices a machine has (63 CPUs and an event, or 64 in all): PCT ranks every one, each exactly once. */
    @Test
    void pctRanksAll64ChoicesOfTheLargestMachine() {
        Machine m = machine(1);
        Strategies.Pct p = new Strategies.Pct(1);
        p.reset(9, 64, 100);
        long left = -1L;
        for (int n = 0; n < 64; n++) {
            int c = p.choose(m, left, n);
            assertTrue((left & 1L << c) != 0, "choice " + c + " came up twice");
            left &= ~(1L << c);
        }
        assertEquals(0, left);
    }
}
