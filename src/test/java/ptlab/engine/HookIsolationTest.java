package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;
import ptlab.tools.Scenarios;

/**
 * One interleaving per kernel, injected at construction: two kernels on two machines in one JVM
 * never see each other's hooks — not when one's code runs inside a step of the other's machine
 * on the same Java thread (where a thread-local "current machine" would capture it), and not
 * when two explorations run on two threads at once.
 */
class HookIsolationTest {

    private static KernelBridge.Booted boot() {
        return KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(32L << 20).withCpus(2),
                KernelVariant.CORRECT, new ptlab.check.Invariants());
    }

    /** CPU0 of machine A faults a page in; with {@code alsoB}, it also drives kernel B's mmap, fault and munmap. */
    private static Machine runA(boolean alsoB, List<String> trace) {
        KernelBridge.Booted a = boot();
        KernelBridge.Booted b = boot();
        Kernel ka = a.kernel();
        Kernel kb = b.kernel();
        Task ta = ka.createProcess();
        ka.switchTo(ka.cpu(0), ta);
        long va = ka.mmap(ta, 0, 4096, Kernel.PROT_READ | Kernel.PROT_WRITE, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        Task tb = kb.createProcess();
        kb.switchTo(kb.cpu(0), tb);
        Machine m = a.machine();
        KernelBridge.addKernelCpu(m, ka.cpu(0), cpu -> {
            KernelBridge.userAccess(cpu, true, va, 1);
            if (alsoB) {   // kernel B's locks, shared variables and frees: B's machine is not running
                long vb = kb.mmap(tb, 0, 4096, Kernel.PROT_READ | Kernel.PROT_WRITE,
                        Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
                assertTrue(kb.writeUserLong(kb.cpu(0), vb, 7));
                assertEquals(0, kb.munmap(tb, vb, 4096));
            }
            KernelBridge.userAccess(cpu, false, va, 0);
        });
        TraceRecorder rec = new TraceRecorder();
        m.setListener(rec);
        assertEquals(Machine.Outcome.DONE, m.run(new Strategies.Random(), new int[10_000], 10_000));
        assertSame(m, a.bridge().machine());
        assertNull(b.bridge().machine().current());
        assertEquals(0, b.machine().steps(), "machine B never ran a step");
        rec.lines().forEach(l -> trace.add(l.format()));
        return m;
    }

    @Test
    void anotherKernelsCodeInsideAStepIsNoPointOfThisMachine() {
        List<String> alone = new ArrayList<>();
        List<String> withB = new ArrayList<>();
        Machine m0 = runA(false, alone);
        Machine m1 = runA(true, withB);
        assertTrue(m0.steps() > 3, "A's fault is several points: " + alone);
        assertEquals(alone, withB, "kernel B's locks, shared variables and frees left A's schedule unchanged");
    }

    @Test
    void twoExplorationsOnTwoThreadsAtOnceGiveTheSingleThreadResult() throws Exception {
        Scenario sc = Scenarios.byName("tlb-stale-after-unmap");
        Explorer.Settings s = Explorer.Settings.of("random", 5, 200, 0);
        Explorer.Summary ref = Explorer.explore(sc, "munmap-shootdown", s, () -> false, null);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Explorer.Summary>> runs = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Callable<Explorer.Summary> c = () -> Explorer.explore(sc, "munmap-shootdown", s, () -> false, null);
                runs.add(pool.submit(c));
            }
            for (Future<Explorer.Summary> f : runs) {
                Explorer.Summary r = f.get();
                assertNull(r.violation(), () -> r.violation().describe());
                assertEquals(ref.schedules(), r.schedules());
                assertEquals(ref.steps(), r.steps(), "same steps as alone: no hook crossed between the threads");
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
