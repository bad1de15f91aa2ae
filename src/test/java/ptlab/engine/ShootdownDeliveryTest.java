package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.WalkResult;
import ptlab.kernel.Cpu;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;

/**
 * TLB shootdown delivery under the engine, as Linux v6.6 native_flush_tlb_multi() does it:
 * all IPIs sent before one wait (latency is one round trip plus an ICR write per target, not a
 * round trip per target), and a caller that names no CPU still flushes the CPU it runs on.
 */
class ShootdownDeliveryTest {

    /** A kernel of {@code cpus} CPUs, each running a thread of one process, on a machine. */
    private static Object[] threads(int cpus) {
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64,
                KernelConfig.defaults().withRam(32L << 20).withCpus(cpus), KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        for (int i = 1; i < cpus; i++) {
            k.switchTo(k.cpu(i), k.cloneThread(t));
        }
        return new Object[]{k, m, t};
    }

    /** Model cycles CPU0 spends in one flush_tlb_mm() of a process that runs on all {@code cpus} CPUs. */
    private static long shootdownLatency(int cpus) {
        Object[] o = threads(cpus);
        Kernel k = (Kernel) o[0];
        Machine m = (Machine) o[1];
        Task t = (Task) o[2];
        long[] latency = new long[1];
        KernelBridge.addKernelCpu(m, k.cpu(0), c -> {
            long before = c.clock();
            k.tlb().flush_tlb_mm(k.cpu(0), t.mm());
            latency[0] = c.clock() - before;
        });
        for (int i = 1; i < cpus; i++) {
            KernelBridge.addKernelCpu(m, k.cpu(i), c -> { });   // idle: takes the IPI at once
        }
        assertEquals(Machine.Outcome.DONE, m.runTimed(100_000));
        for (int i = 1; i < cpus; i++) {
            assertEquals(1, k.cpu(i).ipisReceived(), "cpu" + i + " got the shootdown");
        }
        return latency[0];
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shootdownOfEightCpusIsOneRoundTripNotSeven() {
        long two = shootdownLatency(2);
        long eight = shootdownLatency(8);
        long send = CostTable.defaults().cost(Op.IPI_SEND);
        assertTrue(two > send, "one round trip " + two);
        // The six more targets cost six more ICR writes (and the read of each one's is_lazy);
        // they are waited for together.
        long perTarget = send + 2 * CostTable.defaults().cost(Op.LOAD);
        assertTrue(eight - two >= 6 * send && eight - two <= 6 * perTarget,
                "latency with 8 CPUs " + eight + ", with 2 CPUs " + two + ": 6 more targets cost " + (eight - two));
        assertTrue(eight < 7 * two / 2, "8 CPUs " + eight + " is far below 7 round trips of " + two);
    }

    /**
     * The vmap lazy purge and PAE's pud_populate flush name no CPU. The CPU running that code
     * had the translation cached; it must lose it (Linux: the local CPU is flushed directly, an
     * IPI is never sent to oneself). The old engine turned the self-IPI into nothing.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void flushNamingNoCpuFlushesTheCpuItRunsOn() {
        Object[] o = threads(2);
        Kernel k = (Kernel) o[0];
        Machine m = (Machine) o[1];
        Task t = (Task) o[2];
        long a = k.mmap(t, 0, 4096, Kernel.PROT_READ | Kernel.PROT_WRITE, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        long kva = k.layout().pageOffset() + (1L << 20);    // direct map: a global kernel translation
        boolean[] cached = new boolean[4];
        KernelBridge.addKernelCpu(m, k.cpu(0), c -> {
            Cpu cpu0 = k.cpu(0);
            k.access(cpu0, a, AccessType.WRITE);
            cpu0.mmu().translate(kva, AccessType.READ, false, false, new WalkResult());
            cached[0] = inTlb(cpu0, a);
            cached[1] = inTlb(cpu0, kva);
            k.tlb().flush_tlb_mm(null, t.mm());               // as pud_populate on PAE
            k.tlb().flush_tlb_kernel_range(null, kva, kva + 4096);   // as __purge_vmap_area_lazy
            cached[2] = inTlb(cpu0, a);
            cached[3] = inTlb(cpu0, kva);
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), c -> { });
        assertEquals(Machine.Outcome.DONE, m.runTimed(100_000));
        assertTrue(cached[0] && cached[1], "both translations were cached before the flushes");
        assertTrue(!cached[2], "the user translation is gone from the CPU that ran flush_tlb_mm(NULL cpu)");
        assertTrue(!cached[3], "the kernel translation is gone from the CPU that ran flush_tlb_kernel_range");
        assertEquals(0, k.cpu(0).ipisReceived(), "no IPI to oneself: flushed locally");
        assertEquals(2, k.cpu(1).ipisReceived(), "the other CPU got both as IPIs");
    }

    /**
     * mm_cpumask beyond one word: on a 128-CPU machine, threads on CPUs 63, 64 and 127 (the
     * last bit of word 0, the first and last of word 1) cache a writable translation; CPU0's
     * mprotect must shoot it down on each of them, and no other CPU gets an IPI. With a
     * kernel that flushes only locally the same run leaves CPU64's entry writable - the check
     * can fail.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shootdownReachesCpusInTheSecondCpumaskWord() {
        assertEquals(Kernel.SIGSEGV, writeAfterMprotectOnCpu64(KernelVariant.CORRECT),
                "CPU64's writable TLB entry was shot down");
        assertEquals(0, writeAfterMprotectOnCpu64(KernelVariant.of(KernelVariant.Bug.LOCAL_FLUSH_ONLY)),
                "without the IPI the stale writable entry on CPU64 lets the write through");
    }

    /** What CPU64's write to the page returns after CPU0 made it read-only (0: the write went through). */
    private static long writeAfterMprotectOnCpu64(KernelVariant variant) {
        int cpus = 128;
        int[] users = {0, 63, 64, 127};
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64,
                KernelConfig.defaults().withRam(64L << 20).withCpus(cpus), variant, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        for (int i = 1; i < users.length; i++) {
            k.switchTo(k.cpu(users[i]), k.cloneThread(t));
        }
        long a = k.mmap(t, 0, 4096, Kernel.PROT_READ | Kernel.PROT_WRITE, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        for (int u : users) {
            assertTrue(k.writeUserLong(k.cpu(u), a, u), "CPU" + u + " writes (and caches the translation)");
            assertTrue(inTlb(k.cpu(u), a), "CPU" + u + " cached it");
        }
        for (int w = 0; w < 2; w++) {
            assertEquals((1L << 63) | 1, t.mm().cpumaskWord(w),
                    "mm_cpumask word " + w + ": CPUs 0/63 and 64/127");
        }
        KernelBridge.addKernelCpu(m, k.cpu(0), c -> assertEquals(0, k.mprotect(t, a, 4096, Kernel.PROT_READ)));
        for (int i = 1; i < cpus; i++) {
            KernelBridge.addKernelCpu(m, k.cpu(i), c -> { });
        }
        assertEquals(Machine.Outcome.DONE, m.runTimed(1_000_000));
        boolean ipis = !variant.has(KernelVariant.Bug.LOCAL_FLUSH_ONLY);
        for (int i = 1; i < cpus; i++) {
            boolean user = i == 63 || i == 64 || i == 127;
            assertEquals(user && ipis ? 1 : 0, k.cpu(i).ipisReceived(), "IPIs received by CPU" + i);
        }
        long r = k.access(k.cpu(64), a, AccessType.WRITE);
        return r < 0 ? r : 0;
    }

    private static boolean inTlb(Cpu cpu, long va) {
        return cpu.mmu().tlb().probe(va, cpu.pcid()) >= 0;
    }
}
