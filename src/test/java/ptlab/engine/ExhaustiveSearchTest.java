package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;

/**
 * The exhaustive search's rules one at a time: which operations commute (dependency by
 * location), what counts as a preemption, and that a replayed prefix must see the same
 * choices as before.
 */
class ExhaustiveSearchTest {

    /** Independent steps at different locations are pruned; the same location never (unless both only read). */
    @Test
    void accessesCommuteOnlyAtDifferentLocationsOrWhenBothRead() {
        // physical memory: the location is the 4 KiB frame
        assertTrue(Exhaustive.independentOps(Op.STORE, 0x1000, Op.STORE, 0x2000), "different frames");
        assertTrue(Exhaustive.independentOps(Op.STORE, 0x1ff8, Op.CAS, 0x2000), "adjacent frames");
        assertFalse(Exhaustive.independentOps(Op.STORE, 0x1000, Op.STORE, 0x1ff8), "one frame, two words");
        assertFalse(Exhaustive.independentOps(Op.LOAD, 0x1000, Op.STORE, 0x1000));
        assertFalse(Exhaustive.independentOps(Op.STORE, 0x1000, Op.LOAD, 0x1008));
        assertTrue(Exhaustive.independentOps(Op.LOAD, 0x1000, Op.LOAD, 0x1000), "two loads commute");
        assertTrue(Exhaustive.independentOps(Op.WALK_LOAD, 0x1000, Op.LOAD, 0x1000), "a walk read and a load");
        assertFalse(Exhaustive.independentOps(Op.WALK_LOAD, 0x1000, Op.CAS, 0x1000), "a walk read and a CAS");
        assertFalse(Exhaustive.independentOps(Op.WALK_CAS, 0x1000, Op.LOAD, 0x1000), "A/D set and a load");
        // shared variables: the location is the variable itself
        assertTrue(Exhaustive.independentOps(Op.SHARED_STORE, 5, Op.SHARED_STORE, 6), "two variables");
        assertTrue(Exhaustive.independentOps(Op.SHARED_STORE, 0x1000, Op.SHARED_RMW, 0x1008),
                "two variables, whatever their numbers share");
        assertFalse(Exhaustive.independentOps(Op.SHARED_STORE, 5, Op.SHARED_LOAD, 5));
        assertFalse(Exhaustive.independentOps(Op.SHARED_RMW, 5, Op.SHARED_RMW, 5));
        assertTrue(Exhaustive.independentOps(Op.SHARED_LOAD, 5, Op.SHARED_LOAD, 5));
        // a variable and a frame are different locations, even at the same number
        assertTrue(Exhaustive.independentOps(Op.SHARED_STORE, 0x1000, Op.STORE, 0x1000));
        assertTrue(Exhaustive.independentOps(Op.STORE, 0x1000, Op.SHARED_RMW, 0x1000));
        // everything else is dependent on everything
        for (int other : new int[] {Op.START, Op.LOCK, Op.UNLOCK, Op.TRYLOCK, Op.IPI_SEND, Op.IPI_WAIT, Op.IPI_ACK,
                Op.TLB_FLUSH, Op.INTERRUPT, Op.IDLE, Op.FREE, Op.CHECK, Op.ALLOC}) {
            assertFalse(Exhaustive.independentOps(other, 0x1000, Op.LOAD, 0x2000), Op.name(other) + " vs load");
            assertFalse(Exhaustive.independentOps(Op.SHARED_LOAD, 7, other, 8), "shared load vs " + Op.name(other));
            assertFalse(Exhaustive.independentOps(other, 1, other, 2), Op.name(other) + " twice");
        }
    }

    /** A started machine with {@code cpus} CPUs and {@code events} injectable events, for driving the search by hand. */
    private static Machine machine(int cpus, int events) {
        Machine m = new Machine(new PhysicalMemory(1L << 20), PagingMode.X86_64, new ptlab.check.Invariants());
        for (int i = 0; i < cpus; i++) {
            CpuRegisters r = new CpuRegisters(PagingMode.X86_64);
            r.setCr3(0x1000);
            m.addCpu(r, c -> { });
        }
        for (int k = 0; k < events; k++) {
            m.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "NMI", c -> { }), 1);
        }
        m.start();
        return m;
    }

    /** At bound 0 an injected event is never taken after the first step, even when no CPU can run. */
    @Test
    void anInjectedEventAlwaysCountsAsAPreemption() {
        Machine m = machine(1, 2);
        Exhaustive dfs = new Exhaustive(0, 10);
        dfs.begin(m);
        assertEquals(0, dfs.choose(m, 0b111, 0));
        assertEquals(0, dfs.choose(m, 0b111, 1));
        assertEquals(-1, dfs.choose(m, 0b110, 2), "only events are enabled: bound 0 prunes the run");
        Exhaustive one = new Exhaustive(1, 10);
        one.begin(m);
        assertEquals(0, one.choose(m, 0b111, 0));
        assertEquals(1, one.choose(m, 0b110, 1), "bound 1: the event is the one preemption");
        assertEquals(-1, one.choose(m, 0b100, 2), "a second event needs a second preemption");
    }

    /** A switch from an event back to a CPU, or from a CPU that cannot go on, costs nothing. */
    @Test
    void switchingAwayFromAnEventOrABlockedCpuIsFree() {
        Machine m = machine(2, 1);
        Exhaustive dfs = new Exhaustive(0, 10);
        dfs.begin(m);
        assertEquals(2, dfs.choose(m, 0b100, 0), "only the event can happen");
        assertEquals(0, dfs.choose(m, 0b111, 1), "back to the lowest CPU, no preemption");
        assertEquals(1, dfs.choose(m, 0b110, 2), "CPU0 blocked: CPU1, no preemption");
        assertEquals(1, dfs.choose(m, 0b011, 3));
        assertEquals(1, dfs.choose(m, 0b010, 4));
    }

    /** A scenario whose runs differ for the same choices is refused when the search replays a prefix. */
    @Test
    void aNondeterministicScenarioIsRefused() {
        int[] builds = {0};
        Scenario sc = MachineTest.scenario("nondeterministic", () -> {
            PhysicalMemory mem = new PhysicalMemory(1L << 20);
            Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
            int loads = builds[0]++ == 0 ? 2 : 1;     // the second build's CPU0 ends a step earlier
            m.addCpu(MachineTest.regs(), c -> {
                for (int i = 0; i < loads; i++) {
                    mem.loadLong(MachineTest.X);
                }
            });
            m.addCpu(MachineTest.regs(), c -> mem.loadLong(MachineTest.Y));
            return m;
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Explorer.explore(sc, null,
                Explorer.Settings.of("exhaustive", 0, 100, 5), () -> false, null));
        assertEquals("scenario is not deterministic: at step 2 enabled 10, before 11", e.getMessage());
    }

    /** runs() counts every run the search began, pruned() those abandoned because every choice was asleep. */
    @Test
    void theSearchCountsItsRunsAndPrunedRuns() {
        Scenario sc = ExhaustiveCountTest.twoStores(false);
        Exhaustive dfs = new Exhaustive(10, 1000);
        int[] trail = new int[1000];
        long pruned = 0;
        long runs = 0;
        do {
            Machine m = sc.build(null);
            dfs.begin(m);
            runs++;
            if (m.run(dfs, trail, 1000) == Machine.Outcome.PRUNED) {
                pruned++;
                dfs.notePruned();
            }
        } while (dfs.advance());
        assertEquals(runs, dfs.runs());
        assertEquals(pruned, dfs.pruned());
        assertTrue(pruned > 0, "own variables: some orders are equivalent to one explored before");
        assertEquals(ExhaustiveCountTest.EXPECTED_INDEPENDENT, runs - pruned);
    }
}
