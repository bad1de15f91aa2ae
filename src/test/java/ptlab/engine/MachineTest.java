package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;

/** The engine itself: points, locks, IPIs, interrupts and the NMI/IRET rule, timed mode, exhaustive search. */
// A stuck engine (e.g. a Java monitor held across a CPU switch) fails the test instead of hanging the build.
@org.junit.jupiter.api.Timeout(value = 120, unit = java.util.concurrent.TimeUnit.SECONDS,
        threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class MachineTest {

    static final long X = 0x1000;
    static final long Y = 0x2000;

    static CpuRegisters regs() {
        return new CpuRegisters(PagingMode.X86_64);
    }

    /** A scenario from a builder, for search tests. */
    static Scenario scenario(String name, java.util.function.Supplier<Machine> build) {
        return new Scenario() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public String description() {
                return name;
            }

            @Override
            public List<Variant> variants() {
                return List.of(new Variant("only", false, name));
            }

            @Override
            public Machine build(String variant) {
                return build.get();
            }
        };
    }

    /** Two CPUs increment a shared counter, with load+store (racy) or a CAS loop; the end check wants 2. */
    static Machine counter(boolean cas) {
        PhysicalMemory mem = new PhysicalMemory(1 << 20);
        Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
        for (int i = 0; i < 2; i++) {
            m.addCpu(regs(), cpu -> {
                if (cas) {
                    long v;
                    do {
                        v = mem.loadLong(X);
                    } while (!mem.compareAndSetLong(X, v, v + 1));
                } else {
                    mem.storeLong(X, mem.loadLong(X) + 1);
                }
            });
        }
        m.addEndCheck(mm -> mm.peekLong(X) == 2 ? null : new Violation(6, mm.steps(), "counter is " + mm.peekLong(X)));
        return m;
    }

    /** 100 CPUs that each store once: a timed run takes them, an exploration (one long of choices) does not. */
    @Test
    void timedRunsTakeMoreThanSixtyFourCpusExplorationsDoNot() {
        PhysicalMemory mem = new PhysicalMemory(1 << 20);
        Machine timed = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
        for (int i = 0; i < 100; i++) {
            long a = X + 8L * i;
            timed.addCpu(regs(), cpu -> mem.storeLong(a, 1));
        }
        assertEquals(Machine.Outcome.DONE, timed.runTimed(10_000));
        for (int i = 0; i < 100; i++) {
            assertEquals(1, timed.peekLong(X + 8L * i), "CPU" + i + " ran");
        }
        Machine explored = new Machine(new PhysicalMemory(1 << 20), PagingMode.X86_64, new ptlab.check.Invariants());
        for (int i = 0; i < 65; i++) {
            explored.addCpu(regs(), cpu -> { });
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> explored.run(new Strategies.Replay(new int[0], 0), new int[100], 100));
        assertTrue(e.getMessage().contains("at most 64") && e.getMessage().contains("got 65"), e.getMessage());
        Machine full = new Machine(new PhysicalMemory(1 << 20), PagingMode.X86_64, new ptlab.check.Invariants());
        for (int i = 0; i < ptlab.kernel.KernelConfig.NR_CPUS; i++) {
            full.addCpu(regs(), cpu -> { });
        }
        assertThrows(IllegalArgumentException.class, () -> full.addCpu(regs(), cpu -> { }));
    }

    @Test
    void exhaustiveFindsLostUpdateAndClearsCasLoop() {
        Explorer.Summary racy = Explorer.explore(scenario("racy", () -> counter(false)), null,
                Explorer.Settings.of("exhaustive", 0, 100_000, 1), () -> false, null);
        assertNotNull(racy.violation());
        assertEquals("counter is 1", racy.violation().message());
        Explorer.Summary ok = Explorer.explore(scenario("cas", () -> counter(true)), null,
                Explorer.Settings.of("exhaustive", 0, 100_000, 3), () -> false, null);
        assertNull(ok.violation());
        assertTrue(ok.exhausted());
    }

    @Test
    void sleepSetsPruneCommutingAccesses() {
        // CPU0 and CPU1 each do 3 stores to their own frame: all interleavings are equivalent
        Scenario sc = scenario("disjoint", () -> {
            PhysicalMemory mem = new PhysicalMemory(1 << 20);
            Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
            m.addCpu(regs(), cpu -> {
                for (int i = 0; i < 3; i++) {
                    mem.storeLong(X + 8 * i, i);
                }
            });
            m.addCpu(regs(), cpu -> {
                for (int i = 0; i < 3; i++) {
                    mem.storeLong(Y + 8 * i, i);
                }
            });
            return m;
        });
        Explorer.Summary s = Explorer.explore(sc, null, Explorer.Settings.of("exhaustive", 0, 100_000, 10),
                () -> false, null);
        assertTrue(s.exhausted());
        // without reduction: C(8,4) = 70 interleavings of the 4 + 4 steps (start + 3 stores each)
        assertTrue(s.schedules() - s.pruned() < 70, s.schedules() + " runs, " + s.pruned() + " pruned");
    }

    @Test
    void lockExcludesAndAbbaDeadlocks() {
        int[] inside = {0};
        Scenario mutex = scenario("mutex", () -> {
            PhysicalMemory mem = new PhysicalMemory(1 << 20);
            Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
            SimLock l = new SimLock("ptl", 1);
            for (int i = 0; i < 2; i++) {
                m.addCpu(regs(), cpu -> {
                    cpu.lock(l);
                    inside[0]++;
                    mem.storeLong(X, cpu.id());
                    if (inside[0] != 1) {
                        m.fail(6, "two CPUs inside");
                    }
                    mem.loadLong(X);
                    inside[0]--;
                    cpu.unlock(l);
                });
            }
            return m;
        });
        assertNull(Explorer.explore(mutex, null, Explorer.Settings.of("exhaustive", 0, 100_000, 4), () -> false,
                null).violation());

        Scenario abba = scenario("abba", () -> {
            Machine m = new Machine(new PhysicalMemory(1 << 20), PagingMode.X86_64, new ptlab.check.Invariants());
            SimLock a = new SimLock("A", 1);
            SimLock b = new SimLock("B", 2);
            m.addCpu(regs(), cpu -> {
                cpu.lock(a);
                cpu.lock(b);
                cpu.unlock(b);
                cpu.unlock(a);
            });
            m.addCpu(regs(), cpu -> {
                cpu.lock(b);
                cpu.lock(a);
                cpu.unlock(a);
                cpu.unlock(b);
            });
            return m;
        });
        Violation v = Explorer.explore(abba, null, Explorer.Settings.of("exhaustive", 0, 100_000, 2), () -> false,
                null).violation();
        assertNotNull(v);
        assertEquals(Violation.DEADLOCK, v.invariant());
        assertTrue(v.message().contains("CPU0 waits at lock"), v.message());
    }

    @Test
    void ipiRunsOnTargetAndSenderWaitsForAck() {
        Machine m = new Machine(new PhysicalMemory(1 << 20), PagingMode.X86_64, new ptlab.check.Invariants());
        long[] ranOn = {-1};
        m.addCpu(regs(), cpu -> m.memory().loadLong(X));
        m.addCpu(regs(), cpu -> {
            cpu.smpCallFunction(1, (t, arg) -> ranOn[0] = t.id() * 100 + arg, 7);
            assertEquals(7, ranOn[0]);
        });
        assertEquals(Machine.Outcome.DONE, m.run(new Strategies.Replay(new int[0], 0), new int[1000], 1000));
        assertEquals(7, ranOn[0]);
    }

    /** One CPU loading in a loop; an NMI can be injected twice; the handler may fault (its IRET reopens NMIs). */
    static Machine nmiMachine(boolean faultInHandler, boolean tolerate) {
        PhysicalMemory mem = new PhysicalMemory(1 << 20);
        Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
        m.tolerateNmiFaults(tolerate);
        m.addCpu(regs(), cpu -> {
            for (int i = 0; i < 5; i++) {
                mem.loadLong(X);
            }
        });
        m.addInjection(0, Interrupt.of(Interrupt.Kind.NMI, "NMI", cpu -> {
            if (faultInHandler) {
                cpu.exception("#PF", 0xffffc90000001000L, () -> { });   // vmalloc_fault from the NMI handler
            }
            mem.loadLong(Y);
            mem.loadLong(Y);
        }), 2);
        return m;
    }

    @Test
    void iretFromFaultInsideNmiOpensNestedNmiWindow() {
        int[] schedule = {0, 1, 1};   // CPU0 starts; NMI; second NMI while in the handler
        Machine blocked = nmiMachine(false, true);
        blocked.run(new Strategies.Replay(schedule, 3), new int[1000], 1000);
        assertEquals(0, blocked.cpu(0).nestedNmis(), "NMIs stay blocked until the handler's IRET");

        Machine nested = nmiMachine(true, true);
        nested.run(new Strategies.Replay(schedule, 3), new int[1000], 1000);
        assertEquals(2, nested.cpu(0).faultsInNmi(), "the outer handler and the nested one both fault");
        assertEquals(1, nested.cpu(0).nestedNmis(), "the fault's IRET unblocked NMIs inside the handler");

        Machine strict = nmiMachine(true, false);
        assertEquals(Machine.Outcome.VIOLATION, strict.run(new Strategies.Replay(schedule, 3), new int[1000], 1000));
        assertEquals(5, strict.violation().invariant());

        Explorer.Summary found = Explorer.explore(scenario("nmi", () -> nmiMachine(true, false)), null,
                Explorer.Settings.of("random", 3, 100, 0), () -> false, null);
        assertEquals(5, found.violation().invariant());
    }

    @Test
    void timedModeRunsSmallestClockFirstWithCostsFromFile(@TempDir Path dir) throws Exception {
        Path costs = dir.resolve("costs.txt");
        Files.writeString(costs, "# slower atomics\ncas = 50   # cycles\nload=3\n");
        CostTable t = CostTable.load(costs);
        assertEquals(50, t.cost(Op.CAS));
        assertEquals(3, t.cost(Op.LOAD));
        assertEquals(4, t.cost(Op.STORE));
        PhysicalMemory mem = new PhysicalMemory(1 << 20);
        Machine m = new Machine(mem, PagingMode.X86_64, ptlab.hw.TlbConfig.DEFAULT, t, new ptlab.check.Invariants());
        m.addCpu(regs(), cpu -> {
            for (int i = 0; i < 10; i++) {
                mem.compareAndSetLong(X, i, i + 1);
            }
        });
        m.addCpu(regs(), cpu -> {
            for (int i = 0; i < 10; i++) {
                mem.loadLong(Y);
            }
        });
        assertEquals(Machine.Outcome.DONE, m.runTimed(10_000));
        assertEquals(500, m.cpu(0).clock());
        assertEquals(30, m.cpu(1).clock());
        assertEquals(500, m.makespan());
        assertThrows(IllegalArgumentException.class, () -> CostTable.defaults().set("nope", 1));
    }
}
