package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;

/**
 * The machine's own rules: how it is built (limits, what must come before start), which
 * choices are enabled, how a run ends (step limit, deadlock, end checks, a strategy's bad
 * choice, a crashed CPU), and what it tells traces.
 */
class MachineRulesTest {

    private static Machine machine() {
        return new Machine(new PhysicalMemory(1L << 20), PagingMode.X86_64, new ptlab.check.Invariants());
    }

    private static final Strategies.Replay DEFAULT = new Strategies.Replay(new int[0], 0);

    @Test
    void cpusAndMemoryModeAreFixedWhenTheMachineStarts() {
        Machine m = machine();
        m.addCpu(MachineTest.regs(), c -> { });
        assertEquals(1, m.cpuCount(), "counted before start");
        m.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "NMI", c -> { }), 1);
        assertEquals(2, m.choiceCount(), "the CPUs, then the events");
        m.start();
        m.start();   // a second start changes nothing
        assertEquals(1, m.cpuCount());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.addCpu(MachineTest.regs(), c -> { }));
        assertEquals("CPUs are added before the machine starts", e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> m.addCpu(m.cpu(0).mmu(), c -> { }));
        assertEquals("CPUs are added before the machine starts", e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> m.setMemoryPoints(false));
        assertEquals("memory points are chosen before the machine starts", e.getMessage());
    }

    /**
     * Up to NR_CPUS CPUs (timed runs: mm_cpumask has a word per 64); an exploration sees the
     * enabled choices as one long, so CPUs plus events at most 64 there.
     */
    @Test
    void atMostNrCpusCpusAnd64ChoicesToExplore() {
        Machine m = machine();
        for (int i = 0; i < ptlab.kernel.KernelConfig.NR_CPUS; i++) {
            m.addCpu(MachineTest.regs(), c -> { });
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.addCpu(MachineTest.regs(), c -> { }));
        assertEquals("at most " + ptlab.kernel.KernelConfig.NR_CPUS + " CPUs", e.getMessage());
        Machine full = machine();
        for (int i = 0; i < 63; i++) {
            full.addCpu(MachineTest.regs(), c -> { });
        }
        full.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "NMI", c -> { }), 1);
        // 63 + 1 = 64 choices: explorable
        assertEquals(Machine.Outcome.DONE, full.run(new Strategies.Random(), new int[1000], 1000));
        assertEquals(64, full.choiceCount());
        Machine over = machine();
        for (int i = 0; i < 63; i++) {
            over.addCpu(MachineTest.regs(), c -> { });
        }
        over.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "NMI", c -> { }), 1);
        over.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "NMI2", c -> { }), 1);
        e = assertThrows(IllegalArgumentException.class, () -> over.run(new Strategies.Random(), new int[1000], 1000));
        assertTrue(e.getMessage().startsWith("explore: at most 64 CPUs plus injectable events, got 65"), e.getMessage());
    }

    @Test
    void aNumaNodeOutsideTheDistanceTableIsRefusedByName() {
        Machine m = machine();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.setNuma(new int[] {0, 2}, NodeDistance.uniform(2, 20)));
        assertEquals("CPU node 2 outside the distance table of 2 nodes", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> m.setNuma(new int[] {-1}, NodeDistance.uniform(2, 20)));
        assertTrue(e.getMessage().startsWith("CPU node -1 "), e.getMessage());
    }

    /** An event is enabled while its budget lasts, its CPU has not finished, and (if it has one) its arming condition holds. */
    @Test
    void anEventIsEnabledOnlyWhileArmedWithBudgetOnALiveCpu() {
        Machine m = machine();
        boolean[] armed = {false};
        m.addCpu(MachineTest.regs(), c -> {
            c.memory().loadLong(MachineTest.X);
            c.memory().loadLong(MachineTest.X);
        });
        m.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "NMI", c -> { }), 1);
        m.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "PMI", c -> { }), 1, () -> armed[0]);
        m.start();
        assertEquals(0b011, m.enabledMask(), "the CPU and the unconditional event; the PMU NMI is not armed");
        armed[0] = true;
        assertEquals(0b111, m.enabledMask());
        assertEquals(Op.INTERRUPT, m.nextOp(1), "an event's next operation is an interrupt entry");
        assertEquals(-1, m.nextAddr(2));
        assertEquals(Op.START, m.nextOp(0));
        int[] trail = new int[100];
        assertEquals(Machine.Outcome.DONE, m.run(new Strategies.Replay(new int[] {1}, 1), trail, 100));
        assertEquals(1, trail[0], "the NMI first");
    }

    @Test
    void aRunStopsAtTheStepLimit() {
        Machine m = MachineTest.counter(false);
        int[] trail = new int[3];
        assertEquals(Machine.Outcome.STEP_LIMIT, m.run(DEFAULT, trail, 3));
        assertEquals(3, m.steps());
        assertNull(m.violation());
    }

    @Test
    void aStrategyThatChoosesADisabledCpuIsAnInternalError() {
        // CPU0 finishes after its 3 steps (start, load, store); CPU1 runs once; then CPU0 again
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> MachineTest.counter(false).run((mm, en, step) -> step == 3 ? 1 : 0, new int[100], 100));
        assertEquals("strategy chose 0, which is not enabled", e.getMessage());
        e = assertThrows(IllegalStateException.class,
                () -> MachineTest.counter(false).run((mm, en, step) -> 2, new int[100], 100));
        assertEquals("strategy chose 2, which is not enabled", e.getMessage());
    }

    @Test
    void aCrashInsideACpuNamesTheCpuAndTheStep() {
        Machine m = machine();
        m.addCpu(MachineTest.regs(), c -> c.memory().loadLong(MachineTest.X));
        m.addCpu(MachineTest.regs(), c -> {
            throw new ArithmeticException("boom");
        });
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> m.run(new Strategies.Replay(new int[] {0, 1}, 2), new int[100], 100));
        assertEquals("CPU1 crashed at step 1: java.lang.ArithmeticException: boom", e.getMessage());
    }

    /** End checks run once every CPU has finished; the first violation ends the run. */
    @Test
    void endChecksRunWhenEveryCpuHasFinished() {
        Machine m = MachineTest.counter(true);
        List<Long> at = new ArrayList<>();
        m.addEndCheck(mm -> {
            at.add(mm.steps());
            return null;
        });
        m.addEndCheck(mm -> new Violation(6, mm.steps(), "second check"));
        m.addEndCheck(mm -> {
            at.add(-1L);
            return null;
        });
        assertEquals(Machine.Outcome.VIOLATION, m.run(DEFAULT, new int[100], 100));
        assertEquals(List.of(m.steps()), at, "the first check ran once at the end, the third never");
        assertEquals("second check", m.violation().message());
    }

    /** A step check runs after every step; the violation it returns ends the run after that step. */
    @Test
    void stepChecksRunAfterEveryStep() {
        Machine m = MachineTest.counter(true);
        List<Long> at = new ArrayList<>();
        m.addStepCheck(mm -> {
            at.add(mm.steps());
            return mm.steps() == 4 ? new Violation(6, mm.steps(), "at four") : null;
        });
        assertEquals(Machine.Outcome.VIOLATION, m.run(DEFAULT, new int[100], 100));
        assertEquals(List.of(1L, 2L, 3L, 4L), at);
        assertEquals(4, m.steps());
        assertEquals("at four", m.violation().message());
    }

    /** A CPU blocked for ever while another has finished is a deadlock, listing every CPU's state. */
    @Test
    void noRunnableCpuBeforeTheEndIsADeadlock() {
        Machine m = machine();
        SimLock l = new SimLock("A", 1);
        m.addCpu(MachineTest.regs(), c -> c.lock(l));
        m.addCpu(MachineTest.regs(), c -> c.lock(l));
        assertEquals(Machine.Outcome.VIOLATION, m.run(DEFAULT, new int[100], 100));
        assertEquals(Violation.DEADLOCK, m.violation().invariant());
        assertEquals("no CPU can run: CPU0 idle; CPU1 waits at lock A", m.violation().message());
    }

    /** Traces name what they know: page-table entries by level, locks and shared variables by name. */
    @Test
    void tracesDescribeWordsLocksAndVariables() {
        Machine m = machine();
        m.memory().storeLong(0x5008, 0x7003);
        m.memory().storeLong(0x6010, 0x42);
        m.registerPageTable(0x5123, 1);
        assertTrue(m.isPageTable(0x5ff8), "the whole frame");
        assertFalse(m.isPageTable(0x6000));
        assertTrue(m.describeWord(0x5008).startsWith("pte 0x5008 = 0x7003 ["), m.describeWord(0x5008));
        assertEquals("0x6010 = 0x42", m.describeWord(0x6010));
        assertEquals(0x42, m.peekLong(0x6013), "peekLong reads the aligned word");
        assertEquals("lock 7", m.lockName(7));
        m.lockNames.put(7L, "spinlock ptl");
        assertEquals("spinlock ptl", m.lockName(7));
        assertEquals("shared 5", m.sharedName(5));
        assertNull(m.kernel(), "no kernel runs here");
        assertNull(m.frames());
    }

    /** Timed mode: the makespan is the largest CPU clock. */
    @Test
    void theMakespanIsTheLatestCpuClock() {
        Machine m = machine();
        m.addCpu(MachineTest.regs(), c -> c.charge(100));
        m.addCpu(MachineTest.regs(), c -> c.charge(250));
        m.addCpu(MachineTest.regs(), c -> c.charge(40));
        assertEquals(Machine.Outcome.DONE, m.runTimed(1000));
        assertEquals(Math.max(Math.max(m.cpu(0).clock(), m.cpu(1).clock()), m.cpu(2).clock()), m.makespan());
        assertTrue(m.cpu(1).clock() >= 250 && m.makespan() == m.cpu(1).clock(), "CPU1 charged the most");
    }

    /** A timed run stops at its step limit too. */
    @Test
    void aTimedRunStopsAtTheStepLimit() {
        Machine m = MachineTest.counter(true);
        assertEquals(Machine.Outcome.STEP_LIMIT, m.runTimed(2));
        assertEquals(2, m.steps());
    }
}
