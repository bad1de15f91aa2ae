package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;


import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.SpinLock;
import ptlab.hw.CpuRegisters;
import ptlab.hw.PhysicalMemory;
import ptlab.kernel.Task;

/**
 * The kernel layer's own code under the engine: two processes on two CPUs fault pages in
 * (fault handler, page-table allocation from the shared frame allocator, mmap_lock and
 * page_table_lock as scheduling points), then one munmaps its pages (zap, free_pgtables,
 * flush_tlb_mm_range). Every explored interleaving must finish, without deadlock, with each
 * process's pages mapped where the fault handler put them.
 */
class KernelBridgeTest {

    static final int PAGES = 2;

    static Machine build() {
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(32L << 20).withCpus(2), ptlab.kernel.KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        Task[] tasks = new Task[2];
        long[] base = new long[2];
        for (int i = 0; i < 2; i++) {
            tasks[i] = k.createProcess();
            k.switchTo(k.cpu(i), tasks[i]);
            base[i] = k.mmap(tasks[i], 0, PAGES * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE,
                    Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        }
        for (int i = 0; i < 2; i++) {
            int cpu = i;
            KernelBridge.addKernelCpu(m, k.cpu(i), c -> {
                for (int p = 0; p < PAGES; p++) {
                    long va = base[cpu] + p * 4096L;
                    long pa = k.access(k.cpu(cpu), va, AccessType.WRITE);
                    if (pa < 0) {
                        m.fail(4, "CPU" + cpu + " got signal " + pa + " at 0x" + Long.toHexString(va));
                    }
                    m.memory().storeLong(pa, cpu);
                }
                if (cpu == 1 && k.munmap(tasks[1], base[1], PAGES * 4096L) != 0) {
                    m.fail(4, "munmap failed");
                }
            });
        }
        m.addEndCheck(mm -> {
            for (int p = 0; p < PAGES; p++) {
                long pa = k.lookup(tasks[0].mm(), base[0] + p * 4096L);
                if (pa < 0 || mm.peekLong(pa) != 0) {
                    return new Violation(4, mm.steps(), "process 0's page " + p + " lost");
                }
                if (k.lookup(tasks[1].mm(), base[1] + p * 4096L) >= 0) {
                    return new Violation(3, mm.steps(), "process 1's page " + p + " still mapped after munmap");
                }
            }
            return null;
        });
        return m;
    }

    static final Scenario SCENARIO = MachineTest.scenario("kernel-two-processes", KernelBridgeTest::build);

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void kernelCodeRunsUnderExploration() {
        Explorer.Summary s = Explorer.explore(SCENARIO, null, Explorer.Settings.of("random", 11, 150, 0),
                () -> false, null);
        assertNull(s.violation(), () -> s.violation().describe());
        assertEquals(150, s.schedules());
        assertTrue(s.steps() / s.schedules() > 20, "steps per schedule: " + s.steps() / s.schedules());
        Explorer.Summary p = Explorer.explore(SCENARIO, null, Explorer.Settings.of("pct", 11, 150, 3),
                () -> false, null);
        assertNull(p.violation(), () -> p.violation().describe());
    }

    /**
     * A kernel {@link SpinLock} under the engine: CPU0 and CPU1 each increment a shared word
     * with a plain load and store under spin_lock (so a lost update would show mutual exclusion
     * broken); CPU1 first tries spin_trylock, which must fail rather than wait when CPU0 holds
     * the lock. Exhaustive search: both trylock outcomes occur, no deadlock, no lost update.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void spinLockExcludesAndTrylockFailsInsteadOfWaiting() {
        long counter = 0x20000;
        boolean[] trylockOutcomes = new boolean[2];
        Scenario sc = MachineTest.scenario("kernel-spinlock", () -> {
            PhysicalMemory mem = new PhysicalMemory(1L << 20);
            mem.storeLong(counter, 0);
            Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
            SpinLock lock = new SpinLock("test_lock", KernelBridge.attach(m));
            CpuRegisters regs = new CpuRegisters(PagingMode.X86_64);
            regs.setCr3(0x1000);
            m.addCpu(regs, c -> {
                lock.lock();
                mem.storeLong(counter, mem.loadLong(counter) + 1);
                lock.unlock();
            });
            CpuRegisters regs1 = new CpuRegisters(PagingMode.X86_64);
            regs1.setCr3(0x1000);
            m.addCpu(regs1, c -> {
                boolean got = lock.tryLock();
                trylockOutcomes[got ? 1 : 0] = true;
                if (!got) {
                    lock.lock();
                }
                mem.storeLong(counter, mem.loadLong(counter) + 1);
                lock.unlock();
            });
            m.addEndCheck(mm -> mm.peekLong(counter) == 2 ? null
                    : new Violation(4, mm.steps(), "lost update: counter " + mm.peekLong(counter)));
            return m;
        });
        Explorer.Summary s = Explorer.explore(sc, null, Explorer.Settings.of("exhaustive", 0, 100_000, 3),
                () -> false, null);
        assertNull(s.violation(), () -> s.violation().describe());
        assertTrue(s.exhausted());
        assertTrue(trylockOutcomes[0] && trylockOutcomes[1], "trylock both failed and succeeded in some schedule");
        TraceRecorder trace = new TraceRecorder();
        Explorer.replay(sc, null, new int[]{0, 0, 1}, Explorer.DEFAULT_MAX_STEPS, trace);
        assertTrue(trace.lines().stream().anyMatch(l -> l.format().endsWith("CPU1  trylock     tries spinlock test_lock")),
                () -> trace.lines().stream().map(TraceRecorder.Line::format).reduce("", (a, b) -> a + "\n" + b));
    }

    /**
     * Timed mode with a kernel spinlock: two CPUs each hold it across 50 loads. The second
     * waits for the first, so its clock jumps to the release time and the makespan covers both
     * critical sections one after the other (without the wait it would be about one).
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void timedModeChargesTheWaitForAKernelLock() {
        PhysicalMemory mem = new PhysicalMemory(1L << 20);
        Machine m = new Machine(mem, PagingMode.X86_64, new ptlab.check.Invariants());
        SpinLock lock = new SpinLock("timed_lock", KernelBridge.attach(m));
        for (int i = 0; i < 2; i++) {
            CpuRegisters regs = new CpuRegisters(PagingMode.X86_64);
            regs.setCr3(0x1000);
            m.addCpu(regs, c -> {
                lock.lock();
                for (int k = 0; k < 50; k++) {
                    mem.loadLong(0x20000 + 8 * k);
                }
                lock.unlock();
            });
        }
        assertEquals(Machine.Outcome.DONE, m.runTimed(10_000));
        long section = 50 * m.costs().cost(Op.LOAD);
        assertTrue(m.makespan() >= 2 * section, "makespan " + m.makespan() + " < two sections of " + section);
        assertTrue(Math.abs(m.cpu(0).clock() - m.cpu(1).clock()) >= section,
                "clocks " + m.cpu(0).clock() + " and " + m.cpu(1).clock());
    }

    /**
     * The design rule behind the old hang, enforced: kernel code that reaches a scheduling point
     * while holding the frame allocator's monitor fails at once, naming the CPU and address,
     * instead of blocking the next simulated CPU forever.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void schedulingPointUnderTheZoneLockFailsLoudly() {
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(32L << 20).withCpus(1), ptlab.kernel.KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        KernelBridge.addKernelCpu(m, k.cpu(0), c -> {
            synchronized (k.allocator()) {
                k.memory().loadLong(0x20000);
            }
        });
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> m.run(new Strategies.Random(), new int[100], 100));
        assertTrue(e.getMessage().contains("CPU0 reached a scheduling point (access to 0x20000) holding the frame "
                + "allocator's zone lock"), e.getMessage());
    }
}
