package ptlab.study.vmallocsync;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.HdrHistogram.Histogram;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.WalkResult;
import ptlab.kernel.Cpu;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.Interleaving;
import ptlab.kernel.KernelLock;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Task;
import ptlab.kernel.VmSplit;
import ptlab.kernel.vmalloc.KernelMappingSync;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.engine.CostMeter;
import ptlab.engine.CostTable;
import ptlab.engine.Op;

/**
 * Study 1 (DESIGN.md, issue 6): the same workload under each vmalloc-sync strategy, timed in
 * model cycles.
 *
 * <h2>How time is kept</h2>
 * A discrete-event loop over C CPUs, each with its own clock: the CPU with the smallest clock
 * performs its next workload operation, which runs to completion on the real kernel layer
 * (page tables in simulated memory, the CPU's own MMU and TLB). Its cost is measured, not
 * assumed: a {@link CostMeter} on physical memory charges every load/store/CAS by the kernel and
 * every walker access from the {@link CostTable}; on top come, from the same table, lock and
 * unlock of pgd_lock, clear_page for each allocated frame (512 stores), {@code free} per freed
 * frame, an IPI send per remote CPU plus a full flush for each batched kernel TLB flush,
 * {@code interrupt} per NMI and per page fault, {@code tlb_flush_all} per CR3 load. pgd_lock is
 * a resource in model time ({@link PgdLockTimeline}): every hold - pgd_ctor in fork, pgd_dtor in
 * exit, each pgd_list walk of a sync (one per sync-level entry, as Linux drops pgd_lock between
 * entries) - is measured in meter cycles, charged spin_lock/spin_unlock plus each mm's
 * page_table_lock taken inside it, and placed on the CPU's timeline; a hold that finds another
 * CPU's in progress waits for its end. (This loop is used rather than the engine's fiber-based
 * timed mode because 10,000 processes and 100,000 vmalloc operations per strategy must run in
 * seconds; operations do not interleave inside one another, which the explorer covers
 * separately.) A vmalloc that fails is counted ({@code vmalloc_failures}), not recorded as a
 * latency.
 *
 * <h2>Workload</h2>
 * {@code procs} processes are forked first. Then each CPU in turn draws: 40% a vmalloc-family
 * operation (vmalloc of 4 pages for half of them, as
 * VMAP_STACK thread stacks, 1..64 pages log-uniform for most others, 0.5% of 1..4 MiB; ioremap for 20% of allocations, of
 * 1..16 pages or, 15% of those, a 2 MiB..1 GiB BAR (2..16 MiB on x86-32); the matching
 * vfree/iounmap, keeping about 256 areas live); 20% a kernel access to a live area from process
 * context and 10% from interrupt context; 15% a context switch to a process not running
 * elsewhere; 15% a fork (while fewer than {@code procs} live) or an exit. NMIs arrive on every
 * CPU as a Poisson process of {@code nmiRate} per million cycles; the handler touches a
 * vmalloc'ed buffer (perf's ring buffer).
 *
 * <h2>Checks</h2>
 * Every kernel access is a real translation by that CPU's MMU. A not-present fault on a live
 * vmalloc address goes to the strategy's vmalloc_fault(); if it cannot fix it, that is a
 * violation of invariant 4 (Linux: oops). A translation to the wrong frame is one too. At the
 * end every live process's sync-level entries are compared with init_mm's (except for
 * lazy-fault, which fills them on demand). A fault taken inside an NMI is counted; its IRET
 * re-enables NMIs before the handler finished, opening the nested-NMI window of mail 003
 * (each handler that ran with NMIs open is a hazard); an NMI of the same CPU that arrives in
 * that window, or was latched before it opened, is delivered there and its handler runs on top
 * of the first: counted as nested from that real nesting ({@code nmiHandler}).
 */
public final class VmallocSyncExperiment {

    /** Live vm areas the workload keeps around (it allocates below half, frees above 1.5x). */
    static final int LIVE_AREAS = 256;

    /**
     * The workload; {@code split} is the x86-32 user/kernel split (null: 3G; must be null on
     * x86-64) and {@code topReserve} the x86-32 space above vmalloc (null: the kernel's own).
     */
    public record Params(PagingMode mode, int procs, int vmallocOps, int cpus, double nmiRate, long seed, long ramBytes,
                         VmSplit split, Long topReserve) {
        public Params {
            if (topReserve != null && mode.isLongMode()) {
                throw new IllegalArgumentException("--top-reserve applies to x86-32 and x86-32-pae only, not "
                        + mode.cliName());
            }
            if (split != null && mode.isLongMode()) {
                throw new IllegalArgumentException("--vmsplit applies to x86-32 and x86-32-pae only, not " + mode.cliName());
            }
            if (procs < 1) {
                throw new IllegalArgumentException("--procs must be at least 1, got " + procs);
            }
            if (vmallocOps < 1) {
                throw new IllegalArgumentException("--vmallocs must be at least 1, got " + vmallocOps);
            }
            if (cpus < 1 || cpus > 64) {
                throw new IllegalArgumentException("--cpus must be 1..64, got " + cpus);
            }
            if (!(nmiRate >= 0) || Double.isInfinite(nmiRate)) {
                throw new IllegalArgumentException("--nmi-rate must be a non-negative number, got " + nmiRate);
            }
        }

        public Params(PagingMode mode, int procs, int vmallocOps, int cpus, double nmiRate, long seed, long ramBytes) {
            this(mode, procs, vmallocOps, cpus, nmiRate, seed, ramBytes, null, null);
        }

        /** Enough RAM for 10,000 processes: 2 GiB on x86-64, 512 MiB (mail 001's machine) on x86-32. */
        public static long defaultRam(PagingMode mode) {
            return mode.isLongMode() ? 2L << 30 : 512L << 20;
        }

        public Params withProcs(int n) {
            return new Params(mode, n, vmallocOps, cpus, nmiRate, seed, ramBytes, split, topReserve);
        }
    }

    /** One strategy's results; latencies in model cycles. */
    public record Row(String strategy, boolean broken, long fullSyncs, long entriesCopied, long mmsWalked, long walkCycles,
                      long vmallocFaults, long faultsInNmi, long nestedNmiHazards, long nestedNmis,
                      long vmallocLatencyP50, long vmallocLatencyP99, long vmallocLatencyMax,
                      long forkLatencyP50, long forkLatencyP99, long switchOverhead, long pageTableBytes,
                      long bootTableBytes, long vmallocLimit, long vmallocFailures, long violations,
                      String firstViolation, long events, double wallSeconds, long modelCycles,
                      Histogram vmallocLatency, Histogram forkLatency,
                      long vmallocAttempts, long pgdListWalks, long pgdLockWaitCycles) {

        public double eventsPerSecond() {
            return wallSeconds > 0 ? events / wallSeconds : 0;
        }
    }

    private VmallocSyncExperiment() {
    }

    /** Runs the workload of {@code p} under {@code strategy}. */
    public static Row run(Params p, VmallocSyncStrategy strategy, CostTable costs) {
        return new Run(p, strategy, costs).go();
    }

    /** Every strategy in turn, each on a fresh kernel with the same seed. */
    public static List<Row> runAll(Params p, List<VmallocSyncStrategy> strategies, CostTable costs) {
        List<Row> rows = new ArrayList<>();
        for (VmallocSyncStrategy s : strategies) {
            rows.add(run(p, s, costs));
        }
        return rows;
    }

    private static final class Run {
        final Params p;
        final VmallocSyncStrategy strategy;
        final CostTable costs;
        final Kernel k;
        final Vmalloc v;
        final KernelMappingSync sync;
        final CostMeter meter;
        /** Per-CPU workload streams and per-CPU NMI streams, so every strategy sees the same draws per CPU. */
        final SplittableRandom[] cpuRnd;
        final SplittableRandom[] nmiRnd;
        SplittableRandom rnd;
        final List<Task> live = new ArrayList<>();
        final List<Long> areas = new ArrayList<>();
        final long[] clock;
        final long[] nextNmi;
        final long clearPage;
        final long pgdLockCost;
        final long mmioBase;
        final long mmioWindow;
        final int maxBarShift;
        /** pgd_lock in model time; the current operation's holds (meter cycles at acquire, length) until placed on it. */
        final PgdLockTimeline pgdLock = new PgdLockTimeline();
        /** The kernel's interleaving: it times pgd_lock (the kernel is built with it, issue 10's injected hooks). */
        final PgdLockMeter pgdLockMeter = new PgdLockMeter();
        long[] holdAt = new long[16];
        long[] holdLen = new long[16];
        int holds;
        /** IPIs the current operation sent (switch-check): target CPU and its handler's cycles. */
        int[] ipiTarget = new int[8];
        long[] ipiCycles = new long[8];
        int ipis;
        long ipiHandlerCycles;
        /** Cycles spent inside pgd_list walks (under pgd_lock), accumulated. */
        long walkCycles;
        long walkStart;

        final Histogram vmallocLat = new Histogram(3);
        final Histogram forkLat = new Histogram(3);
        long switchHookCycles;
        long switches;
        long faultsInNmi;
        long hazards;
        long nestedNmis;
        static final int MAX_NMI_NESTING = 8;
        /** Set by access() when a #PF inside an NMI returned: its IRET's offset in the access's cycles, else -1. */
        long iretOffset = -1;
        long violations;
        String firstViolation;
        long events;
        long vmallocOpsDone;
        long failedVmallocCycles;
        /** vmalloc and ioremap calls (vfree/iounmap not counted): recorded latencies plus failures. */
        long vmallocAttempts;
        /** Cycles CPUs waited for pgd_lock, all operations. */
        long pgdLockWait;
        final WalkResult walk = new WalkResult();

        Run(Params p, VmallocSyncStrategy strategy, CostTable costs) {
            this.p = p;
            this.strategy = strategy;
            this.costs = costs;
            KernelConfig base = KernelConfig.defaults().withRam(p.ramBytes()).withCpus(p.cpus());
            base = base.withTopReserve(p.topReserve());
            if (p.split() != null) {
                base = base.withVmSplit(p.split());
            }
            KernelConfig cfg = strategy.configure(p.mode(), base);
            this.k = new Kernel(p.mode(), cfg, pgdLockMeter, KernelVariant.CORRECT);
            this.v = new Vmalloc(k, strategy);
            this.sync = v.sync();
            this.sync.setWalkObserver(new KernelMappingSync.WalkObserver() {
                @Override
                public void walkBegin() {
                    walkStart = meter.cycles();
                }

                @Override
                public void walkEnd() {
                    walkCycles += meter.cycles() - walkStart;
                }
            });
            this.meter = new CostMeter(costs);
            SplittableRandom root = new SplittableRandom(p.seed());
            this.rnd = root.split();
            this.cpuRnd = new SplittableRandom[p.cpus()];
            this.nmiRnd = new SplittableRandom[p.cpus()];
            for (int c = 0; c < p.cpus(); c++) {
                cpuRnd[c] = root.split();
                nmiRnd[c] = root.split();
            }
            this.clock = new long[p.cpus()];
            this.nextNmi = new long[p.cpus()];
            this.clearPage = 512 * costs.cost(Op.STORE);
            this.pgdLockCost = costs.cost(Op.LOCK) + costs.cost(Op.UNLOCK);
            pgdLockMeter.pgdLock = k.arch().pgd_lock;
            sync.setCrossCall((target, fn) -> {
                long before = meter.cycles();
                fn.run();                                          // the handler's memory accesses, metered
                long handler = meter.cycles() - before;
                ipiHandlerCycles += handler;                       // the target's time, not the sender's
                if (ipis == ipiTarget.length) {
                    ipiTarget = java.util.Arrays.copyOf(ipiTarget, ipis * 2);
                    ipiCycles = java.util.Arrays.copyOf(ipiCycles, ipis * 2);
                }
                ipiTarget[ipis] = target.id();
                ipiCycles[ipis++] = handler;
            });
            if (p.mode().isLongMode()) {
                mmioBase = 1L << 40;
                mmioWindow = 1L << 39;
                maxBarShift = 30;
            } else {
                mmioBase = p.mode().isPae() ? 0xF_0000_0000L : 0xC000_0000L;
                mmioWindow = 512L << 20;
                maxBarShift = 24;
            }
        }

        /**
         * Measures every pgd_lock hold (pgd_ctor in fork, pgd_dtor in exit, each pgd_list walk of
         * a sync) in meter cycles, charges spin_lock/spin_unlock and the page_table_locks the
         * sync took inside the hold, and records the hold for {@link #placeHolds}.
         */
        private final class PgdLockMeter implements Interleaving {
            /** The kernel's pgd_lock, once the kernel exists; the other locks are not timed here. */
            KernelLock pgdLock;
            long acquiredAt;
            long pgtPairsAt;

            @Override
            public void afterAcquire(KernelLock lock, int mode) {
                if (lock != pgdLock) {
                    return;
                }
                meter.charge(costs.cost(Op.LOCK));
                acquiredAt = meter.cycles();
                pgtPairsAt = sync.lockPairs() - sync.listWalks();
            }

            @Override
            public void beforeRelease(KernelLock lock, int mode) {
                if (lock != pgdLock) {
                    return;
                }
                meter.charge((sync.lockPairs() - sync.listWalks() - pgtPairsAt) * pgdLockCost);
                if (holds == holdAt.length) {
                    holdAt = java.util.Arrays.copyOf(holdAt, holds * 2);
                    holdLen = java.util.Arrays.copyOf(holdLen, holds * 2);
                }
                holdAt[holds] = acquiredAt;
                holdLen[holds++] = meter.cycles() - acquiredAt;
                meter.charge(costs.cost(Op.UNLOCK));
            }
        }

        /**
         * Delivers the IPIs the operation on CPU c sent at its end ({@code sentAfter} cycles
         * into it), as smp_call_function_single with wait: one IPI send each, then each target
         * takes the interrupt when it arrives or, if it is inside an operation then, at that
         * operation's end (interrupts are taken between operations), runs the handler (its
         * cycles, measured when the handler ran, go to the target's clock) and acknowledges;
         * the sender waits for the last acknowledgement. Returns the sender's extra cycles.
         */
        private long deliverIpis(int c, long sentAfter) {
            if (ipis == 0) {
                return 0;
            }
            long sentAt = clock[c] + sentAfter;
            long done = sentAt;
            for (int i = 0; i < ipis; i++) {
                int t = ipiTarget[i];
                long arrive = sentAt + (i + 1) * costs.cost(Op.IPI_SEND);
                long handled = costs.cost(Op.INTERRUPT) + ipiCycles[i] + costs.cost(Op.IPI_ACK);
                long ack = Math.max(clock[t], arrive) + handled;
                clock[t] += handled;                              // the target's work, wherever it falls
                done = Math.max(done, Math.max(ack, arrive));
            }
            ipis = 0;
            return done - sentAt;
        }

        /**
         * Places the pgd_lock holds of the operation that started at meter cycles {@code s} on
         * CPU c's clock onto the pgd_lock timeline, in order; returns the cycles CPU c waited.
         */
        private long placeHolds(int c, Snap s) {
            long wait = 0;
            for (int i = 0; i < holds; i++) {
                long want = clock[c] + wait + (holdAt[i] - s.cycles);
                wait += pgdLock.acquire(want, holdLen[i]) - want;
            }
            holds = 0;
            pgdLockWait += wait;
            return wait;
        }

        Row go() {
            long wall0 = System.nanoTime();
            k.memory().setMeter(meter);
            Task first = k.createProcess();
            if (first == null) {
                throw new IllegalStateException("out of memory creating the first process");
            }
            live.add(first);
            while (live.size() < p.procs()) {
                if (!fork(-1, false)) {
                    throw new IllegalArgumentException("out of simulated memory after " + live.size()
                            + " processes; use fewer --procs");
                }
            }
            for (int c = 0; c < p.cpus() && c < live.size(); c++) {
                Task t = live.get(c);
                v.switchTo(k.cpu(c), t);
            }
            for (int c = 0; c < p.cpus(); c++) {
                nextNmi[c] = nmiGap(nmiRnd[c]);
            }
            while (vmallocOpsDone < p.vmallocOps()) {
                int c = 0;
                for (int i = 1; i < clock.length; i++) {
                    if (clock[i] < clock[c]) {
                        c = i;
                    }
                }
                pgdLock.forgetBefore(clock[c]);               // c has the smallest clock
                rnd = nmiRnd[c];
                while (nextNmi[c] <= clock[c]) {
                    nmi(c);
                }
                rnd = cpuRnd[c];
                step(c);
                events++;
            }
            endCheck();
            long ptBytes = 0;
            for (int l = 1; l <= 5; l++) {
                ptBytes += k.pageTablePages(l) * KernelLayout.PAGE_SIZE;
            }
            ptBytes += (long) k.arch().pgdSlabPages() * KernelLayout.PAGE_SIZE;
            long makespan = 0;
            for (long t : clock) {
                makespan = Math.max(makespan, t);
            }
            k.memory().setMeter(null);
            double wall = (System.nanoTime() - wall0) / 1e9;
            return new Row(strategy.name(), strategy.broken(), sync.fullSyncs(), sync.entriesCopied(), sync.mmsWalked(), walkCycles,
                    sync.vmallocFaults(), faultsInNmi, hazards, nestedNmis,
                    pct(vmallocLat, 50), pct(vmallocLat, 99), vmallocLat.getMaxValue(),
                    pct(forkLat, 50), pct(forkLat, 99), switches == 0 ? 0 : Math.round((double) switchHookCycles / switches),
                    ptBytes, strategy.bootTableBytes(), v.areas().end() - v.areas().start(), v.allocFailures(),
                    violations, firstViolation, events, wall, makespan, vmallocLat, forkLat,
                    vmallocAttempts, sync.listWalks(), pgdLockWait);
        }

        private static long pct(Histogram h, double q) {
            return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(q);
        }

        private long nmiGap(SplittableRandom r) {
            if (p.nmiRate() <= 0) {
                return Long.MAX_VALUE;
            }
            double mean = 1e6 / p.nmiRate();
            return 1 + (long) (-Math.log(1 - r.nextDouble()) * mean);
        }

        // ---- one workload step ----------------------------------------------------------------

        private void step(int c) {
            double r = rnd.nextDouble();
            if (r < 0.40) {
                vmallocFamily(c);
            } else if (r < 0.60) {
                clock[c] += kernelAccess(c, "process context");
            } else if (r < 0.70) {
                clock[c] += costs.cost(Op.INTERRUPT) + kernelAccess(c, "an interrupt");
            } else if (r < 0.85) {
                contextSwitch(c);
            } else if (live.size() < p.procs()) {
                fork(c, true);
            } else {
                exit(c);
            }
        }

        /** Cycles of everything the kernel did since {@code s}, with the non-memory costs. */
        private long cost(Snap s) {
            long c = meter.cycles() - s.cycles;
            c += (k.allocator().allocations() - s.allocs) * clearPage;
            c += (k.allocator().frees() - s.frees) * costs.cost(Op.FREE);
            long purges = v.areas().purges() - s.purges;
            c += purges * ((p.cpus() - 1) * (costs.cost(Op.IPI_SEND) + costs.cost(Op.IPI_ACK)) + costs.tlbFlushAll());
            c -= ipiHandlerCycles - s.ipiHandler;                  // run on the targets ({@link #deliverIpis})
            return c;
        }

        private final class Snap {
            final long cycles = meter.cycles();
            final long allocs = k.allocator().allocations();
            final long frees = k.allocator().frees();
            final long purges = v.areas().purges();
            final long ipiHandler = ipiHandlerCycles;

            Snap() {
                holds = 0;                                        // holds and IPIs belong to the operation that starts here
                ipis = 0;
            }
            /** Fault entry/exit cycles to add to this access. */
            long extra;
        }

        private void vmallocFamily(int c) {
            vmallocOpsDone++;
            boolean alloc = areas.size() < LIVE_AREAS / 2 || (areas.size() < LIVE_AREAS * 3 / 2 && rnd.nextBoolean());
            Cpu cpu = k.cpu(c);
            Snap s = new Snap();
            if (!alloc) {
                long va = areas.remove(rnd.nextInt(areas.size()));
                if (v.find(va).kind() == Vmalloc.Kind.IOREMAP) {
                    v.iounmap(cpu, va);
                } else {
                    v.vfree(cpu, va);
                }
                clock[c] += cost(s) + placeHolds(c, s);
                return;
            }
            long va;
            vmallocAttempts++;
            if (rnd.nextInt(5) == 0) {
                long size;
                long phys;
                if (rnd.nextInt(100) < 15) {
                    size = 1L << rnd.nextInt(21, maxBarShift + 1);            // a PCI BAR, size-aligned
                    phys = mmioBase + (rnd.nextLong(mmioWindow / size) * size);
                } else {
                    size = (1 + rnd.nextInt(16)) * KernelLayout.PAGE_SIZE;   // device registers
                    phys = mmioBase + rnd.nextLong(mmioWindow / KernelLayout.PAGE_SIZE) * KernelLayout.PAGE_SIZE;
                }
                va = v.ioremap(cpu, phys, size);
            } else {
                int kind = rnd.nextInt(1000);
                long pages = kind < 500 ? 4                                     // a VMAP_STACK thread stack
                        : kind < 995 ? 1 + rnd.nextInt(1 << rnd.nextInt(7))     // 1..64 pages, log-uniform
                        : rnd.nextInt(256, 1025);                               // 1..4 MiB buffers
                va = v.vmalloc(cpu, pages * KernelLayout.PAGE_SIZE);
            }
            long cycles = cost(s) + placeHolds(c, s);             // each walk's pgd_lock hold may wait for a fork's
            cycles += deliverIpis(c, cycles);
            clock[c] += cycles;
            if (va != 0) {
                vmallocLat.recordValue(cycles);
                areas.add(va);
            } else {
                failedVmallocCycles += cycles;                    // counted in vmalloc_failures, not as a latency
            }
        }

        private void contextSwitch(int c) {
            Cpu cpu = k.cpu(c);
            Task next = live.get(rnd.nextInt(live.size()));
            if (next.cpu() != null) {
                return;                                          // running elsewhere (or already here)
            }
            Snap s = new Snap();
            v.switchMmHook(cpu, next);
            long hook = cost(s);
            k.switchTo(cpu, next);
            switchHookCycles += hook;
            switches++;
            clock[c] += cost(s) + costs.tlbFlushAll();
        }

        /** fork() of a random live process; false when out of memory. */
        private boolean fork(int c, boolean timed) {
            Task parent = live.get(rnd.nextInt(live.size()));
            Snap s = new Snap();
            Task child = k.fork(parent);
            if (child == null) {
                return false;
            }
            v.forked(child);
            live.add(child);
            if (timed) {
                long cycles = cost(s) + placeHolds(c, s);         // pgd_alloc's pgd_ctor hold, measured
                forkLat.recordValue(cycles);
                clock[c] += cycles;
            }
            return true;
        }

        private void exit(int c) {
            if (live.size() == 1 && !fork(c, true)) {   // --procs 1: the successor is forked before the last
                return;                                  // process exits, so a parent always exists
            }
            int i = rnd.nextInt(live.size());
            Task t = live.get(i);
            live.set(i, live.get(live.size() - 1));
            live.remove(live.size() - 1);
            Snap s = new Snap();
            k.exit(t);
            long cycles = cost(s) + placeHolds(c, s);             // pgd_dtor: pgd_list_del under pgd_lock
            clock[c] += cycles;
        }

        // ---- kernel accesses and NMIs -----------------------------------------------------------

        /** A read of a live vm area from {@code context} on CPU c; returns its cycles. */
        private long kernelAccess(int c, String context) {
            if (areas.isEmpty()) {
                return 0;
            }
            long va = areas.get(rnd.nextInt(areas.size()));
            return access(c, va, context, false);
        }

        private void nmi(int c) {
            long at = nextNmi[c];                 // NMIs that arrived during a long operation are taken after it,
            nextNmi[c] = at + nmiGap(rnd);           // but their handler timeline starts at their arrival
            if (clock[c] < at) {
                clock[c] = at;
            }
            clock[c] += nmiHandler(c, at, 0);
        }

        /**
         * The perf NMI handler entered at model time {@code at} on CPU c; returns its cycles up
         * to its own IRET. NMIs are blocked while it runs, until an IRET: a #PF taken inside it
         * returns with IRET, which unblocks NMIs ("there is no dedicated 'nmiret'", mail 003), so
         * the next NMI of CPU c that arrives before this handler's end - or arrived while NMIs
         * were blocked and was latched - is taken then, on top of this handler: a real nested
         * NMI, counted, whose own handler runs (and delays this one's end). Nesting stops at
         * depth {@link #MAX_NMI_NESTING}: at an NMI rate above what a handler can serve the CPU
         * would livelock in NMIs (and the real NMI stack is long gone by then).
         */
        private long nmiHandler(int c, long at, int depth) {
            events++;
            long cycles = costs.cost(Op.INTERRUPT);
            long va = 0;
            for (int tries = 0; tries < 4 && va == 0 && !areas.isEmpty(); tries++) {
                long a = areas.get(rnd.nextInt(areas.size()));
                if (v.find(a).kind() == Vmalloc.Kind.VMALLOC) {
                    va = a;                                       // perf's ring buffer is vmalloc'ed
                }
            }
            if (va == 0) {
                return cycles;
            }
            iretOffset = -1;
            long start = cycles;
            cycles += access(c, va, "an NMI handler", true);
            if (iretOffset < 0) {
                return cycles;                                    // no fault: NMIs stayed blocked to the end
            }
            hazards++;                                            // this handler ran with NMIs open after the fault's IRET
            long open = at + start + iretOffset;
            while (nextNmi[c] < at + cycles && depth < MAX_NMI_NESTING) {
                long nestedAt = Math.max(nextNmi[c], open);       // a latched NMI is delivered at the IRET
                nextNmi[c] = nextNmi[c] + nmiGap(rnd);
                nestedNmis++;
                cycles += nmiHandler(c, nestedAt, depth + 1);
            }
            return cycles;
        }

        /**
         * Supervisor read of {@code va} (in a live area) through CPU c's MMU; a not-present fault
         * goes to the vmalloc fault path. Returns the cycles spent.
         */
        private long access(int c, long va, String context, boolean inNmi) {
            Cpu cpu = k.cpu(c);
            Vmalloc.VmStruct vm = v.find(va);
            long off = rnd.nextLong(vm.size() / KernelLayout.PAGE_SIZE) * KernelLayout.PAGE_SIZE;
            long addr = va + off;
            long expect = vm.pages() != null ? vm.pages()[(int) (off / KernelLayout.PAGE_SIZE)] : vm.physAddr() + off;
            Snap s = new Snap();
            if (!translate(cpu, addr)) {
                MmStruct mm = cpu.loadedMm();
                if (walk.exception != WalkResult.EXC_PF) {
                    return violation(String.format("CPU%d: #GP on kernel address 0x%x", c, addr), s);
                }
                boolean fixed = v.kernelFault(mm, addr);
                long cycles = costs.cost(Op.INTERRUPT);
                if (!fixed) {
                    return cycles + violation(String.format("CPU%d in %s with %s loaded: kernel page fault at 0x%x (%s, "
                            + "sync-level entry %s) on a live vmalloc mapping: oops", c, context, mm, addr,
                            vm.kind().name().toLowerCase(), k.layout().syncLevel() + (sync.inSync(mm, addr)
                            ? " as init_mm's" : " unlike init_mm's")), s);
                }
                if (inNmi) {
                    faultsInNmi++;
                    iretOffset = cost(s) + cycles;                // the fault handler's IRET: NMIs unblocked from here
                }
                if (!translate(cpu, addr)) {
                    return cycles + violation(String.format("CPU%d: vmalloc_fault() at 0x%x returned but the access "
                            + "faults again", c, addr), s);
                }
                s.extra = cycles;
            }
            if (walk.pa - (addr & (KernelLayout.PAGE_SIZE - 1)) != expect) {
                return violation(String.format("CPU%d: kernel address 0x%x translates to 0x%x, the mapping says 0x%x",
                        c, addr, walk.pa, expect), s);
            }
            return cost(s) + s.extra;
        }

        private boolean translate(Cpu cpu, long va) {
            long walks = cpu.mmu().walks();
            meter.walkBegin();
            boolean ok = cpu.mmu().translate(va, AccessType.READ, false, false, walk);
            meter.walkEnd();
            if (cpu.mmu().walks() == walks) {
                meter.charge(costs.tlbHit());
            }
            return ok;
        }

        private long violation(String message, Snap s) {
            violations++;
            if (firstViolation == null) {
                firstViolation = message;
            }
            return cost(s);
        }

        /**
         * Invariant 4 at the end: every live process's sync-level entries equal init_mm's for
         * every entry init_mm populated (lazy-fault fills them on demand, so it is exempt).
         */
        private void endCheck() {
            if (strategy.toleratesFaults()) {
                return;
            }
            k.memory().setMeter(null);
            List<MmStruct> mms = new ArrayList<>();
            for (int c = 0; c < p.cpus(); c++) {
                MmStruct loaded = k.cpu(c).loadedMm();
                if (loaded != null && !loaded.isInitMm()) {
                    mms.add(loaded);
                }
            }
            if (!strategy.syncsOnSwitch()) {
                for (Task t : live) {
                    mms.add(t.mm());
                }
            }
            for (MmStruct mm : mms) {
                for (int i = 0; i < sync.generation(); i++) {
                    long va = sync.populatedEntry(i);
                    if (!sync.inSync(mm, va)) {
                        violations++;
                        if (firstViolation == null) {
                            firstViolation = String.format("%s lacks init_mm's %s entry for 0x%x: a kernel mapping it "
                                    + "may not fault on is invisible to it", mm, k.pgtable().name(sync.syncLevel()), va);
                        }
                    }
                }
            }
        }
    }
}
