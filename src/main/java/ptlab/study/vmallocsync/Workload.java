package ptlab.study.vmallocsync;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.HdrHistogram.Histogram;

import ptlab.engine.CostTable;
import ptlab.engine.Interrupt;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Op;
import ptlab.engine.SimCpu;
import ptlab.hw.WalkResult;
import ptlab.kernel.Cpu;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.KernelMappingSync;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.study.vmallocsync.VmallocSyncExperiment.Params;
import ptlab.study.vmallocsync.VmallocSyncExperiment.Row;

/**
 * Study 1's workload as one program per CPU on {@link Machine}'s timed mode (issue 10, "one
 * engine"): the runnable CPU with the lowest model clock goes next, and a CPU runs a whole
 * workload operation's memory work without a switch ({@link Machine#setMemoryPoints} false:
 * every load, store and CAS of the kernel and every walker access is charged to its clock from
 * the {@link CostTable}, clear_page as its 512 stores). It yields where CPUs really meet: at the
 * kernel's locks (pgd_lock, init_mm's page_table_lock, vmap_purge_lock), its shared variables
 * (the sync generation, mm_cpumask, loaded_mm), frame-allocator operations, IPIs and interrupts.
 *
 * <ul>
 * <li>Lock waits are the engine's: a CPU that finds pgd_lock held parks and resumes at its
 *     release time ({@link KernelBridge#lockWaitCycles}); every hold - fork's pgd_ctor, exit's
 *     pgd_dtor, each pgd_list walk of a sync - is measured on the holder's clock
 *     ({@link KernelBridge#lockHoldCycles}).</li>
 * <li>IPIs are delivered as IPIs: switch-check's catch-up and the lazy purge's
 *     flush_tlb_kernel_range() are CALL_FUNCTION interrupts ({@link SimCpu#smpCallFunction})
 *     that the target takes at one of its points with interrupts enabled; the handler runs
 *     there, on the target's clock, with the mm the target has loaded then, and the sender
 *     waits for the acknowledgement.</li>
 * <li>NMIs arrive on every CPU as a Poisson process of {@code nmiRate} per million cycles
 *     ({@link SimCpu#setArrivals}) and are taken at the next point or instruction boundary;
 *     the handler reads a vmalloc'ed buffer (perf's ring buffer) through the MMU. A #PF inside
 *     it (lazy-fault) returns with IRET, which unblocks NMIs: the handler is a hazard, and an
 *     NMI that arrives before it ends - or was latched - is taken on top of it. Nested NMIs
 *     are the engine's count of that real nesting ({@link SimCpu#nestedNmis}).</li>
 * <li>A vmalloc that fails is counted ({@code vmalloc_failures}), never recorded as a
 *     latency.</li>
 * </ul>
 *
 * <h2>Workload</h2>
 * {@code procs} processes are forked first (not timed). Then each CPU in turn draws: 40% a
 * vmalloc-family operation (vmalloc of 4 pages for half of them, as VMAP_STACK thread stacks,
 * 1..64 pages log-uniform for most others, 0.5% of 1..4 MiB; ioremap for 20% of allocations,
 * of 1..16 pages or, 15% of those, a 2 MiB..1 GiB BAR (2..16 MiB on x86-32); the matching
 * vfree/iounmap, keeping about 256 areas live); 20% a kernel read of a live area from process
 * context and 10% from interrupt context; 15% a context switch to a process not running; 15% a
 * fork (while fewer than {@code procs} live) or an exit, each of a process not running on
 * another CPU (both run on the task's own CPU in Linux). A CPU stops when {@code vmallocOps}
 * vmalloc-family operations have been started.
 * Workload bookkeeping is not kernel state: an area or task an operation works on is taken
 * out of the workload's lists for the operation's length, so no other CPU frees the area
 * being read or exits the parent being forked.
 *
 * <h2>Costs beyond memory accesses</h2>
 * From the same table: lock/unlock per lock operation (the per-mm page_table_locks of a
 * pgd_list walk are counted by {@link KernelMappingSync} and charged here, as nothing orders
 * against them), ipi_send/ipi_ack and interrupt per IPI, interrupt per NMI, per page fault and
 * per interrupt-context read, tlb_flush_all per context switch, and {@code free} for each
 * frame-allocator operation (alloc or free: the table's {@code alloc}, the explorer's point,
 * is 0 by default; this run charges the larger of the two).
 *
 * <h2>Checks</h2>
 * Every kernel read is a translation by that CPU's MMU; a not-present fault on a live vmalloc
 * address goes to the strategy's vmalloc_fault(), and one it cannot fix is an oops (invariant
 * 4), counted - the run goes on so that the broken strategy's rate shows. A translation to the
 * wrong frame is one too. At the end every live process's sync-level entries are compared with
 * init_mm's (except for lazy-fault, which fills them on demand). Each read counts as a run of
 * invariant 4's check ({@link Machine#checkRuns}).
 */
final class Workload {

    /** Live vm areas the workload keeps around (it allocates below half, frees above 1.5x). */
    static final int LIVE_AREAS = 256;

    private final Params p;
    private final VmallocSyncStrategy strategy;
    private final CostTable costs;
    private final Kernel k;
    private final Machine m;
    private final Vmalloc v;
    private final KernelMappingSync sync;
    private final SplittableRandom setupRnd;
    private final SplittableRandom[] cpuRnd;
    private final SplittableRandom[] nmiRnd;
    private final long mmioBase;
    private final long mmioWindow;
    private final int maxBarShift;

    /** Tasks no operation is working on; {@link #liveTasks} counts all live ones. */
    private final List<Task> live = new ArrayList<>();
    private int liveTasks;
    /** Live areas no operation is working on. */
    private final List<Long> areas = new ArrayList<>();
    /** Per CPU: the mm a context switch in progress is loading, else null ({@link #cr3Mm}). */
    private final MmStruct[] switchingTo;
    /** vmalloc-family operations started, all CPUs: the run's length. */
    private long vmallocOps;

    private final Histogram vmallocLat = new Histogram(3);
    private final Histogram forkLat = new Histogram(3);
    private long vmallocAttempts;
    private long switches;
    private long switchHookCycles;
    private long hazards;
    private long faultsInNmi;
    private long nmis;
    private long violations;
    private String firstViolation;
    private long events;
    private long walkCycles;
    private long walkStart;
    private long pairsAtWalk;

    Workload(Params p, VmallocSyncStrategy strategy, CostTable costs) {
        this.p = p;
        this.strategy = strategy;
        this.costs = withAllocatorCost(costs);
        KernelConfig base = KernelConfig.defaults().withRam(p.ramBytes()).withCpus(p.cpus());
        base = base.withTopReserve(p.topReserve());
        if (p.split() != null) {
            base = base.withVmSplit(p.split());
        }
        KernelConfig cfg = strategy.configure(p.mode(), base);
        KernelBridge bridge = new KernelBridge();
        this.k = new Kernel(p.mode(), cfg, bridge, KernelVariant.CORRECT);
        this.m = new Machine(k.memory(), p.mode(), cfg.tlb(), this.costs, new ptlab.check.Invariants());
        m.setMemoryPoints(false);
        m.setRecordWrites(false);
        m.tolerateNmiFaults(true);             // counted here; a strategy that cannot fix one oopses (invariant 4)
        bridge.install(k, m);
        this.v = new Vmalloc(k, strategy);
        this.sync = v.sync();
        sync.setWalkObserver(new KernelMappingSync.WalkObserver() {
            @Override
            public void walkBegin() {
                SimCpu c = m.current();
                walkStart = c == null ? 0 : c.clock();
                pairsAtWalk = sync.lockPairs();
            }

            @Override
            public void walkEnd() {
                SimCpu c = m.current();
                if (c == null) {
                    return;
                }
                // the per-mm page_table_locks this walk counted rather than took (all but pgd_lock's pair)
                c.charge((sync.lockPairs() - pairsAtWalk - 1) * (Workload.this.costs.cost(Op.LOCK)
                        + Workload.this.costs.cost(Op.UNLOCK)));
                walkCycles += c.clock() - walkStart;
            }
        });
        deliverCrossCallsAsIpis(sync, m);
        SplittableRandom root = new SplittableRandom(p.seed());
        this.setupRnd = root.split();
        this.switchingTo = new MmStruct[p.cpus()];
        this.cpuRnd = new SplittableRandom[p.cpus()];
        this.nmiRnd = new SplittableRandom[p.cpus()];
        for (int c = 0; c < p.cpus(); c++) {
            cpuRnd[c] = root.split();
            nmiRnd[c] = root.split();
        }
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
     * The sync strategies' smp_call_function_single() as IPIs on {@code m}: a CALL_FUNCTION
     * interrupt to the target, whose handler runs there (its clock, its loaded mm at that
     * time) when it next takes interrupts, while the sender waits for the acknowledgement.
     * Outside a run (boot, setup) the function runs at once.
     */
    static void deliverCrossCallsAsIpis(KernelMappingSync sync, Machine m) {
        sync.setCrossCall((target, fn) -> {
            SimCpu sender = m.current();
            if (sender == null) {
                fn.run();
            } else {
                sender.smpCallFunction(1L << target.id(), (t, arg) -> fn.run(), 0);
            }
        });
    }

    /** The table with each frame-allocator operation charged {@code free} cycles (see the class comment). */
    private static CostTable withAllocatorCost(CostTable costs) {
        CostTable t = CostTable.defaults();
        costs.asMap().forEach(t::set);
        return t.set("alloc", Math.max(costs.cost(Op.ALLOC), costs.cost(Op.FREE)));
    }

    Row run() {
        long wall0 = System.nanoTime();
        setup();
        for (int c = 0; c < p.cpus(); c++) {
            Worker w = new Worker(c);
            KernelBridge.addKernelCpu(m, k.cpu(c), w::run);
        }
        m.start();
        for (int c = 0; c < p.cpus(); c++) {
            SplittableRandom r = nmiRnd[c];
            m.cpu(c).setArrivals(new PerfNmi(c), () -> nmiGap(r));
        }
        Machine.Outcome o = m.runTimed(Integer.MAX_VALUE);
        if (o != Machine.Outcome.DONE) {
            violations++;
            if (firstViolation == null) {
                firstViolation = m.violation() != null ? m.violation().describe() : "run ended " + o;
            }
        }
        endCheck();
        return row((System.nanoTime() - wall0) / 1e9);
    }

    /** The first process and its forks, then one on each CPU; outside the run (not timed). */
    private void setup() {
        Task first = k.createProcess();
        if (first == null) {
            throw new IllegalStateException("out of memory creating the first process");
        }
        live.add(first);
        liveTasks = 1;
        while (liveTasks < p.procs()) {
            Task child = k.fork(live.get(setupRnd.nextInt(live.size())));
            if (child == null) {
                throw new IllegalArgumentException("out of simulated memory after " + liveTasks
                        + " processes; use fewer --procs");
            }
            v.forked(child);
            live.add(child);
            liveTasks++;
        }
        for (int c = 0; c < p.cpus() && c < live.size(); c++) {
            v.switchTo(k.cpu(c), live.get(c));
        }
    }

    private long nmiGap(SplittableRandom r) {
        if (p.nmiRate() <= 0) {
            return Long.MAX_VALUE;
        }
        double mean = 1e6 / p.nmiRate();
        return 1 + (long) (-Math.log(1 - r.nextDouble()) * mean);
    }

    private static <T> T take(List<T> list, int i) {
        T t = list.get(i);
        list.set(i, list.get(list.size() - 1));
        list.remove(list.size() - 1);
        return t;
    }

    // ---- one CPU's program ------------------------------------------------------------------------

    private final class Worker {
        final int id;
        final Cpu kcpu;
        final SplittableRandom rnd;
        SimCpu cpu;

        Worker(int id) {
            this.id = id;
            this.kcpu = k.cpu(id);
            this.rnd = cpuRnd[id];
        }

        void run(SimCpu cpu) {
            this.cpu = cpu;
            while (vmallocOps < p.vmallocOps()) {
                step();
                events++;
            }
        }

        private void step() {
            double r = rnd.nextDouble();
            if (r < 0.40) {
                vmallocFamily();
            } else if (r < 0.60) {
                read("process context");
            } else if (r < 0.70) {
                cpu.localIrqDisable();                         // a device interrupt's handler
                cpu.charge(costs.cost(Op.INTERRUPT));
                read("an interrupt");
                cpu.localIrqEnable();
            } else if (r < 0.85) {
                contextSwitch();
            } else if (liveTasks < p.procs()) {
                fork();
            } else {
                exit();
            }
        }

        private void vmallocFamily() {
            vmallocOps++;
            boolean alloc = areas.size() < LIVE_AREAS / 2 || (areas.size() < LIVE_AREAS * 3 / 2 && rnd.nextBoolean());
            if (!alloc) {
                long va = areas.remove(rnd.nextInt(areas.size()));
                if (v.find(va).kind() == Vmalloc.Kind.IOREMAP) {
                    v.iounmap(kcpu, va);
                } else {
                    v.vfree(kcpu, va);
                }
                return;
            }
            vmallocAttempts++;
            long t0 = cpu.clock();
            long va;
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
                va = v.ioremap(kcpu, phys, size);
            } else {
                int kind = rnd.nextInt(1000);
                long pages = kind < 500 ? 4                                     // a VMAP_STACK thread stack
                        : kind < 995 ? 1 + rnd.nextInt(1 << rnd.nextInt(7))     // 1..64 pages, log-uniform
                        : rnd.nextInt(256, 1025);                               // 1..4 MiB buffers
                va = v.vmalloc(kcpu, pages * KernelLayout.PAGE_SIZE);
            }
            if (va != 0) {
                vmallocLat.recordValue(cpu.clock() - t0);   // failures: Vmalloc.allocFailures(), not a latency
                areas.add(va);
            }
        }

        /** A kernel read of a live area from {@code context}. */
        private void read(String context) {
            if (areas.isEmpty()) {
                return;
            }
            long va = take(areas, rnd.nextInt(areas.size()));
            access(cpu, va, context, rnd);
            areas.add(va);
        }

        private void contextSwitch() {
            if (live.isEmpty()) {
                return;                                       // every task is some other CPU's operand now
            }
            int i = rnd.nextInt(live.size());
            if (live.get(i).cpu() != null) {
                return;                                       // running here or elsewhere
            }
            Task next = take(live, i);
            // context_switch() runs with interrupts off (the runqueue lock): an IPI waits until the
            // new mm is loaded; an NMI does not, and may see CR3 ahead of loaded_mm (switchingTo)
            cpu.localIrqDisable();
            switchingTo[id] = next.mm();
            long t0 = cpu.clock();
            v.switchMmHook(kcpu, next);
            switchHookCycles += cpu.clock() - t0;
            switches++;
            k.switchTo(kcpu, next);
            cpu.charge(costs.tlbFlushAll());                  // the CR3 write
            switchingTo[id] = null;
            cpu.localIrqEnable();
            live.add(next);
        }

        /** fork() of a live process not running on another CPU; false when none was forked. */
        private boolean fork() {
            if (live.isEmpty()) {
                return false;
            }
            int i = rnd.nextInt(live.size());
            if (live.get(i).cpu() != null && live.get(i).cpu() != kcpu) {
                return false;                                // fork runs on the parent's CPU (dup_mmap flushes from it)
            }
            Task parent = take(live, i);
            long t0 = cpu.clock();
            Task child = k.fork(parent);
            if (child != null) {
                v.forked(child);
                forkLat.recordValue(cpu.clock() - t0);        // pgd_alloc's pgd_ctor hold on pgd_lock included
                live.add(child);
                liveTasks++;
            }
            live.add(parent);
            return child != null;
        }

        private void exit() {
            if (liveTasks == 1 && !fork()) {                 // --procs 1: the successor is forked before the last
                return;                                      // process exits, so a parent always exists
            }
            if (live.isEmpty()) {
                return;
            }
            int i = rnd.nextInt(live.size());
            Task t = live.get(i);
            if (t.cpu() != null && t.cpu() != kcpu) {
                return;                                      // do_exit runs on the task's own CPU
            }
            take(live, i);
            liveTasks--;
            k.exit(t);                                       // pgd_dtor: pgd_list_del under pgd_lock
        }
    }

    // ---- kernel reads and NMIs ---------------------------------------------------------------------

    /**
     * perf's sampling NMI on CPU {@code id}: the handler reads a vmalloc'ed buffer. Entry and
     * IRET are charged by the engine ({@code interrupt}).
     */
    private final class PerfNmi implements Interrupt {
        final int id;

        PerfNmi(int id) {
            this.id = id;
        }

        @Override
        public Kind kind() {
            return Kind.NMI;
        }

        @Override
        public String name() {
            return "NMI (perf)";
        }

        @Override
        public void handle(SimCpu cpu) {
            nmis++;
            events++;
            SplittableRandom r = nmiRnd[id];
            int slot = -1;
            for (int tries = 0; tries < 4 && slot < 0 && !areas.isEmpty(); tries++) {
                int i = r.nextInt(areas.size());
                if (v.find(areas.get(i)).kind() == Vmalloc.Kind.VMALLOC) {
                    slot = i;                                 // perf's ring buffer is vmalloc'ed
                }
            }
            if (slot < 0) {
                return;
            }
            long va = take(areas, slot);
            if (access(cpu, va, "an NMI handler", r)) {
                hazards++;                                    // it ran on with NMIs open after the fault's IRET
            }
            areas.add(va);
        }
    }

    /**
     * Supervisor read of a random page of the live area at {@code va} through {@code cpu}'s
     * MMU; a not-present fault goes to the strategy's vmalloc_fault() as the #PF handler.
     * Returns whether a fault was taken and fixed (the handler returned with IRET).
     */
    private boolean access(SimCpu cpu, long va, String context, SplittableRandom r) {
        Vmalloc.VmStruct vm = v.find(va);
        long off = r.nextLong(vm.size() / KernelLayout.PAGE_SIZE) * KernelLayout.PAGE_SIZE;
        long addr = va + off;
        long expect = vm.pages() != null ? vm.pages()[(int) (off / KernelLayout.PAGE_SIZE)] : vm.physAddr() + off;
        m.checked(4);
        boolean faulted = false;
        if (!cpu.kernelRead(addr)) {
            if (cpu.lastWalk().exception != WalkResult.EXC_PF) {
                violation(String.format("CPU%d: #GP on kernel address 0x%x", cpu.id(), addr));
                return false;
            }
            MmStruct mm = cr3Mm(cpu);
            boolean[] fixed = new boolean[1];
            cpu.exception("#PF", addr, () -> {
                cpu.charge(costs.cost(Op.INTERRUPT));
                fixed[0] = v.kernelFault(mm, addr);
            });
            if (!fixed[0]) {
                violation(String.format("CPU%d in %s with %s loaded: kernel page fault at 0x%x (%s, sync-level entry %s) "
                        + "on a live vmalloc mapping: oops", cpu.id(), context, mm, addr, vm.kind().name().toLowerCase(),
                        k.layout().syncLevel() + (sync.inSync(mm, addr) ? " as init_mm's" : " unlike init_mm's")));
                return false;
            }
            faulted = true;
            if (cpu.inNmi()) {
                faultsInNmi++;                                // fixed inside an NMI handler: its IRET reopened NMIs
            }
            if (!cpu.kernelRead(addr)) {
                violation(String.format("CPU%d: vmalloc_fault() at 0x%x returned but the access faults again",
                        cpu.id(), addr));
                return true;
            }
        }
        long pa = cpu.lastWalk().pa - (addr & (KernelLayout.PAGE_SIZE - 1));
        if (pa != expect) {
            violation(String.format("CPU%d: kernel address 0x%x translates to 0x%x, the mapping says 0x%x",
                    cpu.id(), addr, pa, expect));
        }
        return faulted;
    }

    /**
     * The mm whose page tables CR3 holds: what vmalloc_fault() syncs (Linux v6.6
     * arch/x86/mm/fault.c: "pgd_paddr = read_cr3_pa(); ... Do _not_ use "current" here. We
     * might be inside an interrupt in the middle of a task switch"). Between the CR3 write and
     * the store of loaded_mm an NMI sees the next mm in CR3 and the previous one in loaded_mm.
     */
    private MmStruct cr3Mm(SimCpu cpu) {
        long top = cpu.mmu().registers().topTableAddress();
        MmStruct mm = k.cpu(cpu.id()).loadedMm();
        MmStruct next = switchingTo[cpu.id()];
        if ((mm == null || mm.pgd() != top) && next != null && next.pgd() == top) {
            return next;
        }
        return mm;
    }

    private void violation(String message) {
        violations++;
        if (firstViolation == null) {
            firstViolation = message;
        }
    }

    /**
     * Invariant 4 at the end: every live process's sync-level entries equal init_mm's for
     * every entry init_mm populated (lazy-fault fills them on demand, so it is exempt).
     */
    private void endCheck() {
        if (strategy.toleratesFaults()) {
            return;
        }
        m.unobserved(() -> {
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
                m.checked(4);
                for (int i = 0; i < sync.generation(); i++) {
                    long va = sync.populatedEntry(i);
                    if (!sync.inSync(mm, va)) {
                        violation(String.format("%s lacks init_mm's %s entry for 0x%x: a kernel mapping it may not "
                                + "fault on is invisible to it", mm, k.pgtable().name(sync.syncLevel()), va));
                    }
                }
            }
        });
    }

    private Row row(double wall) {
        long ptBytes = 0;
        for (int l = 1; l <= 5; l++) {
            ptBytes += k.pageTablePages(l) * KernelLayout.PAGE_SIZE;
        }
        ptBytes += (long) k.arch().pgdSlabPages() * KernelLayout.PAGE_SIZE;
        long nested = 0;
        for (int c = 0; c < p.cpus(); c++) {
            nested += m.cpu(c).nestedNmis();
        }
        var pgdLock = k.arch().pgd_lock;
        return new Row(strategy.name(), strategy.broken(), sync.fullSyncs(), sync.entriesCopied(), sync.mmsWalked(),
                walkCycles, sync.vmallocFaults(), faultsInNmi, hazards, nested,
                pct(vmallocLat, 50), pct(vmallocLat, 99), vmallocLat.getMaxValue(),
                pct(forkLat, 50), pct(forkLat, 99), switches == 0 ? 0 : Math.round((double) switchHookCycles / switches),
                ptBytes, strategy.bootTableBytes(), v.areas().end() - v.areas().start(), v.allocFailures(),
                violations, firstViolation, events, wall, m.makespan(), vmallocLat, forkLat,
                vmallocAttempts, sync.listWalks(), KernelBridge.lockWaitCycles(m, pgdLock),
                KernelBridge.lockHoldCycles(m, pgdLock), KernelBridge.lockAcquisitions(m, pgdLock), sync.ipis(), nmis,
                m.checkRuns(4));
    }

    private static long pct(Histogram h, double q) {
        return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(q);
    }
}
