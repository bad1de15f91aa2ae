package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.SpinLock;
import ptlab.kernel.Task;
import ptlab.kernel.VmSplit;

/**
 * Timed mode at operation granularity (issue 10, "one engine"): memory accesses charged without
 * points, the lowest-clock shortcut, timed interrupt arrivals with real NMI nesting, and the
 * measured lock holds the vmalloc-sync experiment is built on.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TimedOperationsTest {

    static CpuRegisters regs() {
        CpuRegisters r = new CpuRegisters(PagingMode.X86_64);
        r.setCr3(0x1000);
        return r;
    }

    /** Memory accesses are charged to the running CPU's clock and are no scheduling points; locks still are. */
    @Test
    void memoryAccessesAreChargedWithoutPoints() {
        PhysicalMemory mem = new PhysicalMemory(1 << 20);
        Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
        m.setMemoryPoints(false);
        SpinLock lock = new SpinLock("l", KernelBridge.attach(m));
        m.addCpu(regs(), cpu -> {
            for (int i = 0; i < 10; i++) {
                mem.storeLong(0x8000 + 8 * i, i);
            }
            lock.lock();
            mem.zeroFrame(0x9000);                               // clear_page: 512 stores
            lock.unlock();
        });
        assertEquals(Machine.Outcome.DONE, m.runTimed(1000));
        CostTable c = m.costs();
        assertEquals(10 * c.cost(Op.STORE) + 512 * c.cost(Op.STORE) + c.cost(Op.LOCK) + c.cost(Op.UNLOCK),
                m.cpu(0).clock());
        assertTrue(m.steps() <= 4, "start, lock, unlock, idle: no step per access, got " + m.steps());
        assertEquals(9L, mem.loadLong(0x8000 + 72), "the accesses happened");
    }

    /**
     * The lowest-clock shortcut (a CPU that would be picked again goes on without a switch)
     * changes nothing: the same run with a step listener, which turns it off, ends with the
     * same clocks, the same lock waits and the same number of steps.
     */
    @Test
    void lowestClockShortcutGivesTheSameRunAsTheSchedulerLoop() {
        long[][] results = new long[2][];
        for (int pass = 0; pass < 2; pass++) {
            PhysicalMemory mem = new PhysicalMemory(1 << 20);
            Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
            m.setMemoryPoints(false);
            KernelBridge b = KernelBridge.attach(m);
            SpinLock lock = new SpinLock("l", b);
            for (int i = 0; i < 3; i++) {
                int id = i;
                m.addCpu(regs(), cpu -> {
                    for (int k = 0; k < 40; k++) {
                        lock.lock();
                        for (int j = 0; j < 5 + 7 * id + (k % 3); j++) {
                            mem.loadLong(0x8000 + 8 * j);
                        }
                        lock.unlock();
                        cpu.charge(13 * (id + 1));
                    }
                });
            }
            if (pass == 1) {
                m.setListener(new Machine.StepListener() {
                    @Override
                    public void beforeStep(Machine mm, long step, int choice, SimCpu cpu, int op, long addr) {
                    }

                    @Override
                    public void afterStep(Machine mm, long step, SimCpu cpu, int op, long addr) {
                    }
                });
            }
            assertEquals(Machine.Outcome.DONE, m.runTimed(1_000_000));
            results[pass] = new long[] {m.cpu(0).clock(), m.cpu(1).clock(), m.cpu(2).clock(), m.steps(),
                KernelBridge.lockWaitCycles(m, lock), KernelBridge.lockHoldCycles(m, lock)};
        }
        assertEquals(java.util.Arrays.toString(results[1]), java.util.Arrays.toString(results[0]));
        assertTrue(results[0][4] > 0, "the CPUs did wait for each other");
    }

    /**
     * Nested NMIs come from real nesting: NMIs arrive in pairs 700 cycles apart on a CPU whose
     * handler runs 3,500. Without an exception in the handler, NMIs stay blocked to its end: the
     * arrivals meanwhile are latched (one) or merged, and none nests. With a #PF in the handler,
     * its IRET unblocks NMIs and the next arrival is taken on top of the running handler.
     */
    @Test
    void anNmiNestsOnlyAfterAnIretInsideTheHandler() {
        for (boolean faults : new boolean[] {false, true}) {
            PhysicalMemory mem = new PhysicalMemory(1 << 20);
            Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
            m.setMemoryPoints(false);
            m.tolerateNmiFaults(true);
            int[] handlers = new int[1];
            int[] outermost = new int[1];
            int[] depth = new int[1];
            m.addCpu(regs(), cpu -> {
                for (int i = 0; i < 2000; i++) {
                    cpu.charge(100);
                    cpu.publish(1);
                }
            });
            m.start();
            SimCpu cpu = m.cpu(0);
            Interrupt nmi = Interrupt.of(Interrupt.Kind.NMI, "NMI", c -> {
                handlers[0]++;
                if (depth[0]++ == 0) {
                    outermost[0]++;
                    if (faults) {
                        c.exception("#PF", 0xdead000, () -> c.charge(100));   // returns with IRET
                    }
                }
                for (int i = 0; i < 5; i++) {
                    c.charge(500);
                    c.publish(2);                                     // points where an NMI could be taken
                }
                depth[0]--;
            });
            long[] gaps = {20_000, 700};                                // pairs: the second lands in the first's handler
            int[] next = new int[1];
            cpu.setArrivals(nmi, () -> gaps[next[0]++ & 1]);
            assertEquals(Machine.Outcome.DONE, m.runTimed(1_000_000));
            assertTrue(handlers[0] > 3, "NMIs were handled: " + handlers[0]);
            if (faults) {
                assertTrue(cpu.nestedNmis() > 0, "an arrival after the fault's IRET nests");
                assertEquals(handlers[0] - outermost[0], cpu.nestedNmis(), "every handler not outermost nested");
                assertEquals(outermost[0], cpu.faultsInNmi());
            } else {
                assertEquals(0, cpu.nestedNmis(), "NMIs blocked for the whole handler: none nests");
                assertEquals(cpu.arrivalsRaised(), handlers[0], "the one that arrived inside was latched and taken after");
            }
        }
    }

    /**
     * fork's pgd_lock hold is measured on the holder's clock: it is what pgd_ctor does under
     * the lock as the cost model charges it, so it grows with the work (x86-32 clones the
     * kernel's top-level entries: 256 with the 3G split, 768 with 1G) and with its cost (the
     * store cost). The private loop's formula knew neither.
     */
    @Test
    void forksPgdLockHoldIsMeasuredAndGrowsWithTheWorkUnderIt() {
        long split3g = forkHold(VmSplit.VMSPLIT_3G, 4);
        long split1g = forkHold(VmSplit.VMSPLIT_1G, 4);
        long dearer = forkHold(VmSplit.VMSPLIT_3G, 8);
        assertTrue(split3g >= 256 * 8, "256 entries loaded and stored under the lock: " + split3g);
        assertTrue(split1g >= split3g + 2 * 256 * 8, "three times the entries: " + split3g + " -> " + split1g);
        assertTrue(dearer >= split3g + 256 * 4, "dearer stores, longer hold: " + split3g + " -> " + dearer);
    }

    private static long forkHold(VmSplit split, long storeCost) {
        PagingMode mode = PagingMode.X86_32;
        KernelConfig cfg = KernelConfig.defaults().withCpus(1).withRam(64L << 20).withVmSplit(split);
        KernelBridge bridge = new KernelBridge();
        Kernel k = new Kernel(mode, cfg, bridge, KernelVariant.CORRECT);
        CostTable costs = CostTable.defaults().set("store", storeCost);
        Machine m = new Machine(k.memory(), mode, cfg.tlb(), costs, new ptlab.check.Invariants());
        m.setMemoryPoints(false);
        bridge.install(k, m);
        Task parent = k.createProcess();
        List<Task> children = new ArrayList<>();
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> children.add(k.fork(parent)));
        assertEquals(Machine.Outcome.DONE, m.runTimed(1_000_000));
        assertTrue(children.get(0) != null, "fork succeeded");
        var pgdLock = k.arch().pgd_lock;
        assertEquals(1, KernelBridge.lockAcquisitions(m, pgdLock), "pgd_alloc's one pgd_lock hold");
        return KernelBridge.lockHoldCycles(m, pgdLock);
    }
}
