package ptlab.study.faultlocking;

import java.util.SplittableRandom;

import org.HdrHistogram.Histogram;

import ptlab.engine.CacheLines;
import ptlab.engine.CostTable;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Op;
import ptlab.engine.SimCpu;
import ptlab.hw.PagingMode;
import ptlab.kernel.Cpu;
import ptlab.kernel.FaultLocking;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Task;

/**
 * Study 3's timed run: the threads of one process fault on fresh memory while others (or the
 * same ones, per the {@link Mix}) mmap, munmap, mprotect, brk and fork, on {@link Machine}'s
 * timed mode — the runnable CPU with the lowest model clock goes next, lock waits are real
 * (a CPU blocked on mmap_lock resumes at its release time), and every memory access and kernel
 * lock word is charged by cache-line ownership ({@link CacheLines}). One run = one fault path,
 * one CPU count; the row reports what the kernel and the machine counted.
 *
 * <p>Costs beyond the {@link CostTable}: a #PF's entry and exit ({@code interrupt}, 1000
 * cycles), clearing the new page ({@link Params#clearPage}), and each cache-line transfer
 * ({@link Params#lineTransfer}). A model second is 10^9 cycles.
 */
public final class FaultLockingExperiment {

    public static final double CYCLES_PER_SECOND = 1e9;

    /**
     * @param faultsPerCpu  faults each thread takes
     * @param lineTransfer  cycles to move a cache line between CPUs
     * @param clearPage     cycles to clear a new page (clear_page)
     * @param extraVmas     vmas mapped (and faulted once) before the run: fork copies them all
     */
    public record Params(PagingMode mode, Mix mix, int faultsPerCpu, long lineTransfer, long clearPage,
                         int extraVmas, long seed) {
        public Params {
            if (faultsPerCpu < 1) {
                throw new IllegalArgumentException("--faults must be at least 1, got " + faultsPerCpu);
            }
            if (extraVmas < 0) {
                throw new IllegalArgumentException("--vmas must not be negative, got " + extraVmas);
            }
        }

        public static Params defaults(PagingMode mode, Mix mix) {
            return new Params(mode, mix, 128, 200, 400, 0, 1);
        }
    }

    /**
     * One path at one CPU count. {@code makespan}: model cycles until the last faulting thread
     * took its last fault; latencies in model cycles.
     */
    public record Row(String path, boolean broken, String mix, int cpus, long faults, long makespan, double faultsPerSecond,
                      long lockless, long retries, long fallbacks, long mmapLockWait, long lineTransfers,
                      long faultP50, long faultP99, long forks, long forkP50, long forkP99, long violations,
                      String violation) {
        public double transfersPerFault() {
            return faults == 0 ? 0 : (double) lineTransfers / faults;
        }
    }

    private FaultLockingExperiment() {
    }

    /** RAM for a run: the arenas in flight, the page tables, forks' children. */
    static long ramFor(Params p, int cpus) {
        long pages = (long) cpus * (p.mix().arenaPages + 16) * 3 + p.extraVmas() * 3L + 8192;
        long bytes = Math.max(64L << 20, pages * 4096 * 2);
        long cap = p.mode() == PagingMode.X86_32 || !p.mode().isLongMode() ? 512L << 20 : 4L << 30;
        return Math.min(bytes, cap);
    }

    public static Row run(Params p, FaultLocking path, int cpus) {
        if (cpus < 1 || cpus > KernelConfig.NR_CPUS) {
            throw new IllegalArgumentException("--cpus: 1.." + KernelConfig.NR_CPUS + " per run (CONFIG_NR_CPUS), got " + cpus);
        }
        KernelConfig cfg = KernelConfig.defaults().withCpus(cpus).withRam(ramFor(p, cpus));
        KernelBridge bridge = new KernelBridge();
        Kernel k = new Kernel(p.mode(), cfg, bridge, KernelVariant.CORRECT, path);
        CostTable costs = CostTable.defaults();
        Machine m = new Machine(k.memory(), p.mode(), cfg.tlb(), costs, new ptlab.check.Invariants());
        bridge.install(k, m);
        CacheLines lines = new CacheLines(p.lineTransfer(), cpus);
        m.setCacheLines(lines);
        m.setRecordWrites(false);                          // thousands of pages; invariant 1 is not studied here
        Task[] threads = new Task[cpus];
        threads[0] = k.createProcess();
        for (int i = 1; i < cpus; i++) {
            threads[i] = k.cloneThread(threads[0]);
        }
        for (int i = 0; i < cpus; i++) {
            k.switchTo(k.cpu(i), threads[i]);
        }
        MmStruct mm = threads[0].mm();
        premap(k, threads[0], p.extraVmas());
        Histogram faultLat = new Histogram(3);
        Histogram forkLat = new Histogram(3);
        long[] faults = new long[1];
        long[] faultersDone = {0};                            // model time the last faulter finished
        int[] faulting = {0};                                 // faulting threads still running
        for (int i = 0; i < cpus; i++) {
            faulting[0] += p.mix().side(i, cpus) ? 0 : 1;
        }
        long entry = costs.cost(Op.INTERRUPT);
        for (int i = 0; i < cpus; i++) {
            int id = i;
            KernelBridge.addKernelCpu(m, k.cpu(i), cpu -> new Worker(k, k.cpu(id), threads[id], p, entry,
                    new SplittableRandom(p.seed() * 1_000_003L + id), faultLat, forkLat, faults, faulting, faultersDone)
                    .run(cpu, p.mix().side(id, cpus)));
        }
        Machine.Outcome o = m.runTimed(Integer.MAX_VALUE);
        long makespan = faultersDone[0];
        String violation = m.violation() == null ? null : m.violation().describe();
        if (o != Machine.Outcome.DONE && violation == null) {
            violation = "run ended " + o;
        }
        long wait = KernelBridge.lockWaitCycles(m, mm.mmap_lock);
        return new Row(path.cliName(), path.broken(), p.mix().cliName(), cpus, faults[0], makespan,
                makespan == 0 ? 0 : faults[0] / (makespan / CYCLES_PER_SECOND), k.faultPaths().lockless(),
                k.faultPaths().retries(), k.faultPaths().fallbacks(), wait, lines.transfers(),
                faultLat.getValueAtPercentile(50), faultLat.getValueAtPercentile(99), forkLat.getTotalCount(),
                forkLat.getValueAtPercentile(50), forkLat.getValueAtPercentile(99), violation == null ? 0 : 1, violation);
    }

    /**
     * Model cycles of one fork() on one CPU of a process with {@code vmas} one-page vmas, each
     * with a page: what "fork: lock VMAs of the parent process when forking" adds is one
     * vma_start_write() per vma — compare {@code per-vma} with {@code per-vma-fork-unlocked}.
     */
    public static long forkCycles(PagingMode mode, FaultLocking path, int vmas, long lineTransfer) {
        Params p = new Params(mode, Mix.READ_MOSTLY, 1, lineTransfer, 400, vmas, 1);
        KernelConfig cfg = KernelConfig.defaults().withCpus(1).withRam(ramFor(p, 1));
        KernelBridge bridge = new KernelBridge();
        Kernel k = new Kernel(mode, cfg, bridge, KernelVariant.CORRECT, path);
        Machine m = new Machine(k.memory(), mode, cfg.tlb(), CostTable.defaults(), new ptlab.check.Invariants());
        bridge.install(k, m);
        m.setCacheLines(new CacheLines(lineTransfer, 1));
        m.setRecordWrites(false);
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        premap(k, t, vmas);
        long[] cycles = new long[1];
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            long t0 = cpu.clock();
            if (k.fork(t) == null) {
                throw new IllegalStateException("fork failed");
            }
            cycles[0] = cpu.clock() - t0;
        });
        if (m.runTimed(Integer.MAX_VALUE) != Machine.Outcome.DONE) {
            throw new IllegalStateException("fork run failed: " + m.violation());
        }
        return cycles[0];
    }

    /** {@code n} one-page vmas (alternately read-only, so they do not merge), each faulted once. */
    private static void premap(Kernel k, Task t, int n) {
        for (int i = 0; i < n; i++) {
            int prot = (i & 1) == 0 ? Kernel.PROT_READ | Kernel.PROT_WRITE : Kernel.PROT_READ;
            long va = k.mmap(t, 0, 4096, prot, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
            if (va < 0) {
                throw new IllegalArgumentException("--vmas " + n + ": mmap failed after " + i + " (" + va + ")");
            }
            if (k.access(t.cpu(), va, (i & 1) == 0 ? ptlab.hw.AccessType.WRITE : ptlab.hw.AccessType.READ) < 0) {
                throw new IllegalStateException("premap fault failed");
            }
        }
    }

    /** One thread's program. */
    private static final class Worker {
        final Kernel k;
        final Cpu kcpu;
        final Task task;
        final Params p;
        final long entry;
        final SplittableRandom rnd;
        final Histogram faultLat;
        final Histogram forkLat;
        final long[] faults;
        final int[] faulting;
        final long[] faultersDone;
        long arena;
        int used;
        int arenas;
        long scratch;
        boolean scratchRo;

        Worker(Kernel k, Cpu kcpu, Task task, Params p, long entry, SplittableRandom rnd, Histogram faultLat,
               Histogram forkLat, long[] faults, int[] faulting, long[] faultersDone) {
            this.faulting = faulting;
            this.faultersDone = faultersDone;
            this.k = k;
            this.kcpu = kcpu;
            this.task = task;
            this.p = p;
            this.entry = entry;
            this.rnd = rnd;
            this.faultLat = faultLat;
            this.forkLat = forkLat;
            this.faults = faults;
        }

        void run(SimCpu cpu, boolean side) {
            Mix mix = p.mix();
            if (side) {
                // Until the last faulter is done (it publishes the count at its last point).
                while (faulting[0] > 0) {
                    cpu.charge(Mix.THINK);
                    if (mix.forkers) {
                        fork(cpu);
                    } else {
                        writer();
                    }
                }
                return;
            }
            for (int done = 0; done < p.faultsPerCpu(); done++) {
                fault(cpu);
            }
            faultersDone[0] = Math.max(faultersDone[0], cpu.clock());
            faulting[0]--;
            cpu.publish(0);                                        // the side threads read the count
            if (arena != 0) {
                k.munmap(task, arena, (long) mix.arenaPages * 4096);
            }
        }

        private void fault(SimCpu cpu) {
            Mix mix = p.mix();
            if (arena == 0 || used == mix.arenaPages) {
                if (arena != 0) {
                    k.munmap(task, arena, (long) mix.arenaPages * 4096);
                }
                boolean fileLike = mix == Mix.CHURN || (arenas++ & 3) == 3;
                arena = k.mmap(task, 0, (long) mix.arenaPages * 4096, Kernel.PROT_READ | Kernel.PROT_WRITE,
                        (fileLike ? Kernel.MAP_SHARED : Kernel.MAP_PRIVATE) | Kernel.MAP_ANONYMOUS);
                if (arena < 0) {
                    throw new IllegalStateException("arena mmap failed: " + arena);
                }
                used = 0;
            }
            long va = arena + (long) used++ * 4096;
            long t0 = cpu.clock();
            cpu.charge(entry + p.clearPage());                    // #PF entry/IRET and clear_page
            if (!KernelBridge.userAccess(cpu, true, va, va)) {
                throw new IllegalStateException("fault on a fresh arena page failed at 0x" + Long.toHexString(va));
            }
            faultLat.recordValue(cpu.clock() - t0);
            faults[0]++;
        }

        /** One vma-changing call on this thread's scratch page: mmap/munmap, mprotect or brk. */
        private void writer() {
            switch (rnd.nextInt(3)) {
                case 0 -> {
                    long va = k.mmap(task, 0, 4096, Kernel.PROT_READ | Kernel.PROT_WRITE,
                            Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
                    if (va >= 0) {
                        k.munmap(task, va, 4096);
                    }
                }
                case 1 -> {
                    if (scratch == 0) {
                        scratch = k.mmap(task, 0, 2 * 4096, Kernel.PROT_READ | Kernel.PROT_WRITE,
                                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
                    }
                    scratchRo = !scratchRo;
                    k.mprotect(task, scratch, 4096, scratchRo ? Kernel.PROT_READ : Kernel.PROT_READ | Kernel.PROT_WRITE);
                }
                default -> {
                    long cur = k.brk(task, 0);
                    k.brk(task, cur + 4096);
                    k.brk(task, cur);
                }
            }
        }

        /** fork(); the child runs on this CPU at once and exits (the parent thread resumes after). */
        private void fork(SimCpu cpu) {
            long t0 = cpu.clock();
            Task child = k.fork(task);
            forkLat.recordValue(cpu.clock() - t0);
            if (child != null) {
                k.switchTo(kcpu, child);
                k.exit(child);
                k.switchTo(kcpu, task);
            }
        }
    }
}
