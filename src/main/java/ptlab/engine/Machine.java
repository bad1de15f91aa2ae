package ptlab.engine;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import ptlab.hw.CpuRegisters;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.hw.TlbConfig;
import ptlab.kernel.KernelConfig;

/**
 * N simulated CPUs over one {@link PhysicalMemory}, run by one deterministic scheduler on the
 * calling Java thread.
 *
 * <h2>How a step works</h2>
 * <pre>
 *   scheduler (this thread)                      CPU fiber
 *   ───────────────────────                      ─────────
 *   enabled = CPUs not blocked, or with a deliverable interrupt (+ injectable events)
 *   choice  = strategy.choose(enabled)   ◄──┐
 *   current = cpu; resume(cpu.fiber)  ──────┼──► returns from its last point():
 *                                           │      takes deliverable interrupts,
 *                                           │      performs the pending operation,
 *                                           │      runs plain Java up to the next operation
 *                                           │      on shared state: point(op, addr) records it
 *   current = null; steps++   ◄─────────────┴───── and yields
 * </pre>
 * Memory accesses become points through {@link PhysicalMemory.AccessHook}: the machine installs
 * itself as the hook, so the kernel code and every CPU's page walker are interleaved at each
 * load, store and compare-and-swap without knowing it. Accesses made outside any CPU (scenario
 * setup, invariant checkers) are not points. Nothing on this path allocates.
 *
 * <p>The kernel layer's own operations become points through the {@link ptlab.kernel.Interleaving}
 * a kernel is built with ({@link KernelBridge}): lock operations, accesses to shared variables
 * ({@code SharedLong}, {@code SharedRef}), frame-allocator operations, and mmu_gather's frees.
 *
 * <h2>The rule: what may happen between two points</h2>
 * The Java code a CPU runs between two of its points (one step) may touch only
 * <ol>
 * <li>state private to that CPU (its stack, its {@code Cpu}/{@code SimCpu}, its MMU's TLB and
 *     paging-structure caches, per-CPU kernel fields only it writes);</li>
 * <li>state guarded by a kernel lock the CPU holds, and that every writer of it holds to write
 *     (mm_struct fields under mmap_lock, pgd_list under pgd_lock) — the lock's acquire and
 *     release are points;</li>
 * <li>objects not yet published to another CPU (a new vma, a new mm before pgd_list);</li>
 * <li>counters no kernel decision reads (statistics).</li>
 * </ol>
 * Everything another CPU reads without such a lock must be a {@code SharedLong}/{@code SharedRef}
 * (each access a point) or physical memory (each access a point); a shared variable may be read
 * without a point ({@code plainGet}) only under the same conditions 1–2. Under this rule a step's
 * effect on other CPUs is exactly its operation, so {@link Exhaustive}'s dependency by location
 * is sound. Checkers that read several CPUs' state run between steps, after a point dependent
 * on everything ({@link Op#FREE}, {@link Op#CHECK}, {@link Op#ALLOC}), or inside
 * {@link #unobserved}.
 *
 * <p>How a test checks the rule: {@code IndependenceRuleTest} replays schedules of every
 * registered kernel scenario with two adjacent steps of different CPUs swapped whenever
 * {@link Exhaustive} calls their operations independent, and requires the same final physical
 * memory and the same outcome — which fails when Java state shared across CPUs is touched
 * between points in a way the explored schedules exercise. It samples schedules; it cannot
 * prove the rule, so new kernel state read by other CPUs is made shared by review first.
 *
 * <p>Two ways to run: {@link #run(Strategy, int[], int)} asks a {@link Strategy} at every point
 * (explore), {@link #runTimed} picks the runnable CPU with the smallest model clock (timed,
 * costs from a {@link CostTable}).
 *
 * <p>Determinism: the whole state is a function of the scenario and the sequence of choices;
 * the machine reads no clock, no hash of an identity and no other thread.
 */
public final class Machine implements PhysicalMemory.AccessHook {

    public enum Outcome { DONE, VIOLATION, STEP_LIMIT, PRUNED }

    /** Thrown nowhere in normal runs; reserved to unwind a CPU program on purpose. */
    static final class Stop extends RuntimeException {
        Stop() {
            super(null, null, false, false);
        }
    }

    /** Sees every step; used by replay to print the trace. May allocate: not on the explore path. */
    public interface StepListener {
        void beforeStep(Machine m, long step, int choice, SimCpu cpu, int op, long addr);

        void afterStep(Machine m, long step, SimCpu cpu, int op, long addr);

        default void note(Machine m, SimCpu cpu, String text) {
        }

        /** Something the running CPU did inside its current step (a kernel free): listed after the step. */
        default void noteInStep(Machine m, SimCpu cpu, String text) {
            note(m, cpu, text);
        }
    }

    /** Checked after every step with no CPU running; returns null or a violation. */
    @FunctionalInterface
    public interface StepCheck {
        Violation check(Machine m);
    }

    /** An event the explorer may inject: interrupt {@code irq} on CPU {@code cpu}, at most {@code budget} times. */
    public static final class Injection {
        final int cpu;
        final Interrupt irq;
        final int budget;
        int remaining;
        /** Null, or when the event can happen at all (e.g. a PMU NMI only once the counter is armed). */
        final java.util.function.BooleanSupplier armed;

        public Injection(int cpu, Interrupt irq, int budget) {
            this(cpu, irq, budget, null);
        }

        public Injection(int cpu, Interrupt irq, int budget, java.util.function.BooleanSupplier armed) {
            this.cpu = cpu;
            this.irq = irq;
            this.budget = budget;
            this.remaining = budget;
            this.armed = armed;
        }
    }

    private final PhysicalMemory memory;
    private final PagingMode mode;
    private final TlbConfig tlbConfig;
    final CostTable costs;
    SimCpu[] cpus;
    private final List<SimCpu.Program> programs = new ArrayList<>();
    private final List<ptlab.hw.Mmu> mmus = new ArrayList<>();
    private final List<CpuRegisters> registers = new ArrayList<>();
    private final List<Injection> injections = new ArrayList<>();
    private Injection[] injectionArray = new Injection[0];
    private final List<StepCheck> stepChecks = new ArrayList<>();
    private final List<StepCheck> endChecks = new ArrayList<>();

    private SimCpu current;
    private long steps;
    private Violation violation;
    private Throwable crash;
    private StepListener listener;
    /** The invariant checks ({@code ptlab.check.Invariants}): told every event, they judge and count. */
    private final Checker checker;
    /** Timed runs: cache-line ownership costs of memory accesses and kernel lock words (null: off). */
    private CacheLines lines;
    /** Depth of {@link #unobserved} calls. */
    private int unobserved;
    /** Completed user writes go to the shadow record (invariant 1); off for large timed runs. */
    private boolean recordWrites = true;
    /** Timed mode: node distances, or null (every access local). */
    NodeDistance numa;
    /**
     * False: timed at operation granularity ({@link #setMemoryPoints}) - memory accesses are
     * charged to the running CPU by {@link #charger} and are no scheduling points.
     */
    private boolean memoryPoints = true;
    private final Charger charger = new Charger();
    /** Set by {@link #runTimed} for its duration: lets a CPU at a point go on without a switch ({@link #keepRunning}). */
    private boolean timed;
    private int timedMaxSteps;
    /** Set by {@link #run} for its duration: an explored CPU the strategy picks again goes on without a switch ({@link #keepRunning}). */
    private Strategy exploring;
    private int[] exploreTrail;
    private int exploreMaxSteps;
    /**
     * A choice the strategy made at a CPU's point ({@link #keepRunning}) for a step that CPU is not
     * to run: {@link #runLoop} takes it instead of asking again (a strategy draws from a random
     * stream or walks a search tree: it is asked exactly once per step).
     */
    private boolean preChosen;
    private int preChoice;
    /** The enabled choices {@link #preChoice} was made among (the state has not changed since). */
    private long preEnabled;
    private int[] cpuNodes;

    // ---- what traces and invariant 1 need ----
    private final Map<Long, Integer> pageTableLevel = new HashMap<>();
    private final ShadowWrites shadow = new ShadowWrites();
    /** Simulated ownership of kernel-layer locks, for {@link KernelBridge}. */
    final Map<Object, Object> kernelLocks = new java.util.IdentityHashMap<>();
    /** What the kernel's frame allocator knows about a frame, when a kernel runs on this machine. */
    private Frames frames;
    /** Names of locks known by id, for traces (kernel locks register theirs through {@link KernelBridge}). */
    final Map<Long, String> lockNames = new HashMap<>();
    /** The bridge of the kernel running on this machine, if any ({@link KernelBridge#install}). */
    KernelBridge bridge;

    /** The frame allocator's view of physical memory, for invariants 2 and 3 and for traces. */
    public interface Frames {
        /** True if the frame holding {@code pa} is free (in the allocator's free lists). */
        boolean isFree(long pa);

        /** Hardware level (1 = pte) of the page-table page holding {@code pa}, or 0. */
        int pageTableLevel(long pa);

        /**
         * Throws if {@code cpu}, about to be suspended at a scheduling point, holds one of the
         * kernel's Java monitors: the next CPU on this thread would block on it forever.
         */
        default void checkNoMonitorHeld(SimCpu cpu, long pa) {
        }
    }

    /** A machine whose invariants {@code checker} checks (a fresh {@code ptlab.check.Invariants}). */
    public Machine(PhysicalMemory memory, PagingMode mode, TlbConfig tlbConfig, CostTable costs, Checker checker) {
        Fibers.requireAvailable();
        this.memory = memory;
        this.mode = mode;
        this.tlbConfig = tlbConfig;
        this.costs = costs;
        this.checker = checker;
        checker.attach(this);
        hookMemory();
    }

    /** Installs this machine on memory: as the scheduler hook, or in operation-granularity mode as a meter. */
    private void hookMemory() {
        if (memoryPoints) {
            memory.setAccessHook(this);
        } else {
            memory.setMeter(charger);
        }
    }

    /** Takes this machine off memory (setup work, checkers): accesses are neither points nor charged. */
    private void unhookMemory() {
        if (memoryPoints) {
            memory.setAccessHook(null);
        } else {
            memory.setMeter(null);
        }
    }

    /**
     * Timed mode at operation granularity (false; default true): memory accesses by the kernel
     * and the page walkers are charged to the running CPU's clock from the cost table (load,
     * store, cas, walk_ref, walk_cas; a whole-page clear or copy as its 512 stores) without
     * being scheduling points, so a CPU runs a kernel operation's memory work without a switch
     * and yields only at the kernel's locks, shared variables, frame-allocator operations, IPIs
     * and interrupts. For timed studies whose races are explored elsewhere (the vmalloc-sync
     * experiment): at 10^5 operations over 10^3 processes a switch per access would cost
     * minutes. What it gives up: invariant 2's checks at each access (a walker reading a freed
     * table, the kernel storing into a free frame) - they live at the access hook, which is
     * not installed; explore runs keep them. Set before {@link #start}.
     */
    public void setMemoryPoints(boolean on) {
        if (cpus != null) {
            throw new IllegalStateException("memory points are chosen before the machine starts");
        }
        unhookMemory();
        memoryPoints = on;
        hookMemory();
    }

    /**
     * The meter of operation-granularity mode: charges each access to the CPU whose step is
     * running (nothing outside a step: setup and checkers are free). Allocation-free.
     */
    private final class Charger implements PhysicalMemory.AccessHook {
        @Override
        public void beforeAccess(int op, long pa) {
            SimCpu c = current;
            if (c != null) {
                c.chargeMemory(op, 1);
            }
        }

        @Override
        public boolean onlyCounts() {
            return true;
        }

        @Override
        public boolean ignoresAccessesNow() {
            return current == null;   // charges only a running CPU
        }

        @Override
        public void beforeAccesses(int op, int n) {
            SimCpu c = current;
            if (c != null) {
                c.chargeMemory(op, n);
            }
        }
    }

    public Machine(PhysicalMemory memory, PagingMode mode, Checker checker) {
        this(memory, mode, TlbConfig.DEFAULT, CostTable.defaults(), checker);
    }

    // ---- building --------------------------------------------------------------------------

    /** Adds a CPU that will run {@code program} with {@code regs} (CR3 already pointing at its tables). */
    public int addCpu(CpuRegisters regs, SimCpu.Program program) {
        if (cpus != null) {
            throw new IllegalStateException("CPUs are added before the machine starts");
        }
        checkRoomForCpu();
        registers.add(regs);
        mmus.add(null);
        programs.add(program);
        return programs.size() - 1;
    }

    /**
     * Timed runs take up to {@link KernelConfig#NR_CPUS} CPUs (mm_cpumask has a word per 64);
     * an exploration at most 64 choices, CPUs and events together ({@link #run}: a strategy
     * sees the enabled choices as one {@code long}, and a search over more is hopeless anyway).
     */
    private void checkRoomForCpu() {
        if (programs.size() == KernelConfig.NR_CPUS) {
            throw new IllegalArgumentException("at most " + KernelConfig.NR_CPUS + " CPUs");
        }
    }

    /** Adds a CPU over an existing MMU (e.g. a kernel {@code Cpu}'s, CR3 already loaded). */
    public int addCpu(ptlab.hw.Mmu mmu, SimCpu.Program program) {
        if (cpus != null) {
            throw new IllegalStateException("CPUs are added before the machine starts");
        }
        checkRoomForCpu();
        registers.add(mmu.registers());
        mmus.add(mmu);
        programs.add(program);
        return programs.size() - 1;
    }

    /** Lets the explorer inject {@code irq} on {@code cpu} at any point, up to {@code budget} times. */
    public void addInjection(int cpu, Interrupt irq, int budget) {
        injections.add(new Injection(cpu, irq, budget));
    }

    /**
     * {@link #addInjection(int, Interrupt, int)} for an event possible only while {@code armed}
     * says so; {@code armed} must read state that changes only at a scheduling point of the CPU
     * that changes it (a flag set before a {@link SimCpu#publish}).
     */
    public void addInjection(int cpu, Interrupt irq, int budget, java.util.function.BooleanSupplier armed) {
        injections.add(new Injection(cpu, irq, budget, armed));
    }

    public void addStepCheck(StepCheck c) {
        stepChecks.add(c);
    }

    /** Checked once when every CPU has finished its program. */
    public void addEndCheck(StepCheck c) {
        endChecks.add(c);
    }

    /** Invariant 5 off: a fault in an NMI is counted, not reported (strategies that tolerate it). */
    public void tolerateNmiFaults(boolean tolerate) {
        checker.tolerateNmiFaults(tolerate);
    }

    /**
     * Timed mode on a NUMA machine: CPU i is on node {@code cpuNodes[i]}, and every memory
     * access (the kernel's, the user's and the page walker's) is charged its cost times
     * {@code distance(cpu node, frame node) / 10} (SimCpu's point). Explore mode ignores it.
     */
    public void setNuma(int[] cpuNodes, NodeDistance distance) {
        for (int n : cpuNodes) {
            if (n < 0 || n >= distance.nodes()) {
                throw new IllegalArgumentException("CPU node " + n + " outside the distance table of "
                        + distance.nodes() + " nodes");
            }
        }
        this.cpuNodes = cpuNodes.clone();
        this.numa = distance;
    }

    /**
     * Whether completed user writes are recorded for invariant 1 (default on). The record holds
     * a scenario's handful of pages; a timed workload writing thousands turns it off (and then
     * must not rely on {@code check.KernelChecks.dirtyCheck}).
     */
    public void setRecordWrites(boolean on) {
        this.recordWrites = on;
    }

    /** Names a page-table page so traces decode its entries and invariant 2 can watch it. */
    public void registerPageTable(long frame, int level) {
        pageTableLevel.put(frame & ~(long) (PhysicalMemory.PAGE_SIZE - 1), level);
    }

    /** Lets the checker and traces ask the kernel's allocator (see {@link KernelBridge#install}). */
    public void setFrames(Frames f) {
        this.frames = f;
    }

    /** Charges every memory access and kernel lock operation by cache-line ownership ({@link CacheLines}). */
    public void setCacheLines(CacheLines l) {
        this.lines = l;
    }

    public CacheLines cacheLines() {
        return lines;
    }

    /** A kernel lock word's RMW (KernelBridge): its line moves to {@code c} if another CPU holds it. */
    void chargeLockLine(SimCpu c, long lockId) {
        if (lines != null) {
            c.clock += lines.access(c.id, -1 - lockId, true);
        }
    }

    public void setListener(StepListener l) {
        this.listener = l;
    }

    /** Creates the CPUs' fibers and MMUs (each loads CR3 from its registers). Called by run if needed. */
    public void start() {
        if (cpus != null) {
            return;
        }
        cpus = new SimCpu[programs.size()];
        for (int i = 0; i < cpus.length; i++) {
            CpuRegisters regs = registers.get(i);
            SimCpu c;
            if (mmus.get(i) != null) {
                c = new SimCpu(i, this, mmus.get(i), programs.get(i));
            } else {
                c = new SimCpu(i, this, regs, programs.get(i));
                unhookMemory();   // the CR3 load (PAE PDPTEs) is not a scheduling point
                c.mmu.writeCr3(regs.cr3());
                hookMemory();
            }
            cpus[i] = c;
            c.mmu.setFrameGenerations(checker);   // walks and PSC entries remember their tables' generations
            if (cpuNodes != null && i < cpuNodes.length) {
                c.node = cpuNodes[i];
            }
        }
        injectionArray = injections.toArray(new Injection[0]);
        checker.runStarts();
    }

    // ---- accessors ----------------------------------------------------------------------------

    public PhysicalMemory memory() {
        return memory;
    }

    public PagingMode mode() {
        return mode;
    }

    TlbConfig tlbConfig() {
        return tlbConfig;
    }

    public CostTable costs() {
        return costs;
    }

    public SimCpu cpu(int i) {
        return cpus[i];
    }

    public int cpuCount() {
        return cpus == null ? programs.size() : cpus.length;
    }

    /** Choices at each point: the CPUs, then the injectable events. */
    public int choiceCount() {
        return cpuCount() + injections.size();
    }

    public long steps() {
        return steps;
    }

    public Violation violation() {
        return violation;
    }

    /** The CPU whose step is running, or null between steps. */
    public SimCpu current() {
        return current;
    }

    public ShadowWrites shadow() {
        return shadow;
    }

    // ---- checks that prove they ran -----------------------------------------------------------

    /** Invariant {@code invariant}'s check was evaluated once (whatever its result). */
    public void checked(int invariant) {
        checker.checked(invariant);
    }

    /** How often invariant {@code invariant}'s check was evaluated in this run. */
    public long checkRuns(int invariant) {
        return checker.runs(invariant);
    }

    /** This machine's invariant checks. */
    public Checker checker() {
        return checker;
    }

    /** The kernel's view of frames, or null (no kernel runs here). */
    public Frames frames() {
        return frames;
    }

    /** The kernel running on this machine ({@link KernelBridge#install}), or null. */
    public ptlab.kernel.Kernel kernel() {
        return bridge == null ? null : bridge.kernel();
    }

    // ---- the hook: memory accesses are scheduling points -------------------------------------

    /** No CPU runs (a boot, a setup, a checker): {@link #beforeAccess} ignores the access. */
    @Override
    public boolean ignoresAccessesNow() {
        return current == null;
    }

    @Override
    public void beforeAccess(int op, long pa) {
        SimCpu c = current;
        if (c == null) {
            return;   // setup or a checker: not a CPU's operation
        }
        int kind = c.inWalk ? (op == PhysicalMemory.OP_LOAD ? Op.WALK_LOAD : Op.WALK_CAS)
                : (op == PhysicalMemory.OP_LOAD ? Op.LOAD : op == PhysicalMemory.OP_STORE ? Op.STORE : Op.CAS);
        if (frames != null) {
            frames.checkNoMonitorHeld(c, pa);
        }
        c.point(kind, pa, null);
        if (lines != null) {
            c.clock += lines.access(c.id, pa >>> CacheLines.LINE_SHIFT, op != PhysicalMemory.OP_LOAD);
        }
        // the checks, at the moment the access happens (invariant 2)
        if (c.inWalk) {
            checker.walkerAccess(c, pa);
        } else if (op != PhysicalMemory.OP_LOAD) {
            checker.kernelWrite(c, pa, op == PhysicalMemory.OP_STORE);
        }
    }

    /** Parks {@code c} (the running CPU) and returns to the scheduler. */
    void yieldCpu(SimCpu c) {
        Fibers.yieldFiber();
    }

    /** Reports a violation from inside a CPU's step: the run stops at the end of this step. */
    public void fail(int invariant, String message) {
        if (violation == null) {
            violation = new Violation(invariant, steps, message);
        }
        if (current != null) {
            // Never resumed: the CPU's fiber is dropped with the machine.
            for (;;) {
                Fibers.yieldFiber();
            }
        }
    }

    void crash(SimCpu c, Throwable t) {
        crash = t;
    }

    // ---- explore mode ----------------------------------------------------------------------

    /**
     * Runs until every CPU finished, a violation, {@code maxSteps} steps, or the strategy prunes
     * the run (returns -1). The choice made at each step is written to {@code trail[step]}
     * ({@code trail} must hold {@code maxSteps}).
     */
    public Outcome run(Strategy strategy, int[] trail, int maxSteps) {
        start();
        if (choiceCount() > 64) {
            throw new IllegalArgumentException("explore: at most 64 CPUs plus injectable events, got " + choiceCount()
                    + " (timed runs take up to " + KernelConfig.NR_CPUS + " CPUs)");
        }
        exploring = strategy;
        exploreTrail = trail;
        exploreMaxSteps = maxSteps;
        try {
            return runLoop(strategy, trail, maxSteps);
        } finally {
            exploring = null;
            exploreTrail = null;
            preChosen = false;
        }
    }

    private Outcome runLoop(Strategy strategy, int[] trail, int maxSteps) {
        int n = cpus.length;
        for (;;) {
            // a choice made at the point where the CPU that ran last parked comes with its enabled
            // set: the state is the same (keepRunning left steps and the limit to be checked here)
            long enabled = preChosen ? preEnabled : enabledMask();
            if (enabled == 0) {
                return finish();
            }
            if (steps >= maxSteps) {
                return Outcome.STEP_LIMIT;
            }
            int choice;
            if (preChosen) {
                choice = preChoice;
                preChosen = false;
            } else {
                choice = strategy.choose(this, enabled, (int) steps);
            }
            if (choice < 0) {
                return Outcome.PRUNED;
            }
            if ((enabled & (1L << choice)) == 0) {
                throw new IllegalStateException("strategy chose " + choice + ", which is not enabled");
            }
            trail[(int) steps] = choice;
            SimCpu cpu;
            if (choice >= n) {
                Injection inj = injectionArray[choice - n];
                inj.remaining--;
                cpu = cpus[inj.cpu];
                cpu.raise(inj.irq);
                if (listener != null) {
                    listener.note(this, cpu, "inject " + inj.irq.name());
                }
                if (!cpu.runnable()) {
                    steps++;
                    continue;
                }
            } else {
                cpu = cpus[choice];
            }
            step(cpu, choice);
            if (violation != null) {
                return Outcome.VIOLATION;
            }
        }
    }

    /** Bit i set: choice i can be taken now. */
    public long enabledMask() {
        long m = 0;
        SimCpu[] cs = cpus;
        for (int i = 0; i < cs.length; i++) {
            if (cs[i].runnable()) {
                m |= 1L << i;
            }
        }
        Injection[] inj = injectionArray;
        for (int k = 0; k < inj.length; k++) {
            if (inj[k].remaining > 0 && !cs[inj[k].cpu].finished && (inj[k].armed == null || inj[k].armed.getAsBoolean())) {
                m |= 1L << (cs.length + k);
            }
        }
        return m;
    }

    private void step(SimCpu cpu, int choice) {
        int op = cpu.deliverable() ? Op.INTERRUPT : cpu.pendingOp;
        long addr = cpu.pendingAddr;
        if (listener != null) {
            listener.beforeStep(this, steps, choice, cpu, op, addr);
        }
        current = cpu;
        Fibers.resume(cpu.fiber);
        current = null;
        if (crash != null) {
            Throwable t = crash;
            crash = null;
            throw new IllegalStateException("CPU" + cpu.id + " crashed at step " + steps + ": " + t, t);
        }
        if (listener != null) {
            listener.afterStep(this, steps, cpu, op, addr);
        }
        steps++;
        if (violation == null) {
            for (int i = 0; i < stepChecks.size(); i++) {
                Violation v = stepChecks.get(i).check(this);
                if (v != null) {
                    violation = v;
                    break;
                }
            }
        }
    }

    private Outcome finish() {
        for (SimCpu c : cpus) {
            if (!c.finished) {
                StringBuilder sb = new StringBuilder("no CPU can run:");
                for (SimCpu d : cpus) {
                    sb.append(' ').append(d).append(d.finished ? " idle" : " waits at " + Op.name(d.pendingOp)
                            + (d.blocker instanceof SimLock l ? " " + l.name() : ""));
                    sb.append(';');
                }
                violation = new Violation(Violation.DEADLOCK, steps, sb.substring(0, sb.length() - 1));
                return Outcome.VIOLATION;
            }
        }
        for (StepCheck c : endChecks) {
            Violation v = c.check(this);
            if (v != null) {
                violation = v;
                return Outcome.VIOLATION;
            }
        }
        Violation v = checker.scheduleEnded();   // invariant 6: leaks, on machines running a kernel
        if (v != null) {
            violation = v;
            return Outcome.VIOLATION;
        }
        return Outcome.DONE;
    }

    // ---- timed mode ----------------------------------------------------------------------------

    /**
     * Discrete-event run: at each point the runnable CPU with the smallest clock goes next
     * (ties to the lower CPU number); each operation advances its CPU's clock by its cost.
     */
    public Outcome runTimed(int maxSteps) {
        start();
        timed = true;
        timedMaxSteps = maxSteps;
        try {
            return runTimedLoop(maxSteps);
        } finally {
            timed = false;
        }
    }

    /**
     * At a point of the running CPU {@code c}: true when the scheduler would run {@code c} again
     * anyway, so it goes on without a fiber switch (a switch each way is most of what an explored
     * step costs). The step just ended is counted as {@link #step} counts it, and the next one is
     * chosen as the loop would choose it, in the same state: nothing runs between this point and
     * the loop's choice but the switch itself. Nobody may watch single steps (no listener, no step
     * checks), and anything unusual (a violation, a crash, the step limit, a blocked {@code c})
     * is left to the loop.
     *
     * <p>Timed mode: the choice is the runnable CPU with the smallest clock (ties to the lower
     * number, as {@link #runTimedLoop}). Explore mode: the strategy is asked here; if it picks
     * another CPU, an event or prunes, its answer is kept for {@link #runLoop}, which must not
     * ask again (the strategy is asked exactly once per step, so schedules and trails are those
     * of the loop: {@code BootImageExploreTest}, {@code ScheduleResetExactnessTest}).
     */
    boolean keepRunning(SimCpu c) {
        if (listener != null || !stepChecks.isEmpty() || violation != null || crash != null || !c.runnable()) {
            return false;
        }
        if (timed) {
            if (steps + 1 >= timedMaxSteps) {
                return false;
            }
            SimCpu[] cs = cpus;
            for (SimCpu o : cs) {
                if (o != c && o.runnable() && (o.clock < c.clock || (o.clock == c.clock && o.id < c.id))) {
                    return false;
                }
            }
            steps++;
            return true;
        }
        Strategy strategy = exploring;
        if (strategy == null || steps + 1 >= exploreMaxSteps) {
            return false;
        }
        long next = steps + 1;
        long enabled = enabledMask();
        int choice = strategy.choose(this, enabled, (int) next);
        if (choice != c.id) {
            preChosen = true;     // another CPU, an event, or -1 (prune): the loop takes it once c has parked
            preChoice = choice;
            preEnabled = enabled;
            return false;
        }
        steps = next;
        exploreTrail[(int) next] = choice;
        return true;
    }

    private Outcome runTimedLoop(int maxSteps) {
        for (;;) {
            SimCpu next = null;
            for (SimCpu c : cpus) {
                if (c.runnable() && (next == null || c.clock < next.clock)) {
                    next = c;
                }
            }
            if (next == null) {
                return finish();
            }
            if (steps >= maxSteps) {
                return Outcome.STEP_LIMIT;
            }
            step(next, next.id);
            if (violation != null) {
                return Outcome.VIOLATION;
            }
        }
    }

    /** The largest CPU clock: the model time the run took. */
    public long makespan() {
        long t = 0;
        for (SimCpu c : cpus) {
            t = Math.max(t, c.clock);
        }
        return t;
    }

    // ---- what scheduling points and invariants need to know ------------------------------------

    private long kernelAccesses;

    /** A supervisor access through the MMU completed ({@link KernelBridge#kernelAccess}). */
    void countKernelAccess() {
        kernelAccesses++;
    }

    /**
     * Supervisor accesses through the MMU that completed in this run: a scenario whose check is
     * such an access proves with it that the check ran (a correct variant's pass is not vacuous).
     */
    public long kernelAccesses() {
        return kernelAccesses;
    }

    /** A CPU completed a user access at {@code pa} through a translation of {@code va}. */
    void userAccessDone(SimCpu c, long va, long pa, boolean write) {
        checker.userAccessDone(c, va, pa, write);
        if (write && recordWrites) {
            shadow.record(pa, c.id, steps);
        }
    }

    /** A line in the trace (replay) about what the running CPU is doing; nothing outside a step. */
    public void annotate(String text) {
        if (current != null && listener != null) {
            listener.noteInStep(this, current, text);
        }
    }

    /** A line in the trace (replay) about what {@code c} just did that is not a step of its own. */
    /** Whether a listener records notes: callers that must format a note first ask this. */
    boolean tracing() {
        return listener != null;
    }

    void note(SimCpu c, String text) {
        if (listener != null) {
            listener.noteInStep(this, c, text);
        }
    }

    void noteInterrupt(SimCpu c, Interrupt irq) {
        if (listener != null) {
            listener.note(this, c, "takes " + irq.name());
        }
    }

    /**
     * The kernel frees a page-table page. Invariant 2 at this point: no CPU's paging-structure
     * cache may still point to it (a later walk would start inside the freed page), and from now
     * on every walker access to it is reported.
     */
    public void freePageTable(SimCpu by, long frame) {
        by.point(Op.FREE, frame, null);
        checker.scenarioFreed(by, frame);
        checker.pageTableFreed(by, frame);
    }

    /**
     * The kernel frees a data page that {@code va} mapped. Invariant 3 at this point: no CPU may
     * still hold a TLB entry translating {@code va} to it.
     */
    public void freeUserPage(SimCpu by, long va, long frame) {
        by.point(Op.FREE, frame, null);
        checker.scenarioFreed(by, frame);
        checker.userPageFreed(by, va, frame);
    }

    /**
     * A scenario takes a frame it freed ({@link #freePageTable}, {@link #freeUserPage}) back into
     * use — as a data page or another table: the allocator's reuse, for scenarios without a kernel.
     */
    public void reuseFrame(SimCpu by, long frame) {
        by.point(Op.ALLOC, frame, null);
        checker.frameAllocated(frame & ~(long) (PhysicalMemory.PAGE_SIZE - 1));
    }

    /**
     * A point where the running kernel code starts relying on an invariant; the check that
     * follows reads state of other CPUs (shadow writes, TLBs), so it must be ordered against
     * every other CPU's steps — which a point of its own, dependent on everything, does.
     */
    public void relyPoint(SimCpu by, long addr) {
        by.point(Op.CHECK, addr, null);
    }

    /** What choice {@code k} would do next, for partial-order reduction: {@link Op} of its pending operation. */
    public int nextOp(int k) {
        if (k >= cpus.length) {
            return Op.INTERRUPT;
        }
        SimCpu c = cpus[k];
        return c.deliverable() ? Op.INTERRUPT : c.pendingOp;
    }

    public long nextAddr(int k) {
        return k >= cpus.length ? -1 : cpus[k].pendingAddr;
    }

    /** Freed by a scenario ({@link #freePageTable}, {@link #freeUserPage}) or free in the kernel's allocator. */
    public boolean isFreed(long pa) {
        return checker.isFreed(pa);
    }

    /**
     * The kernel freed page-table page {@code frame} (mmu_gather's table free). Invariant 2 at
     * that instant: no CPU's paging-structure cache may still point to it. Later walker reads of
     * it are caught by {@link #isFreed} as long as it stays free.
     */
    public void kernelFreedPageTable(SimCpu by, long frame) {
        checker.pageTableFreed(by, frame);
    }

    /**
     * The kernel freed user page {@code frame}, which {@code va} mapped. Invariant 3 at that
     * instant: no CPU's TLB may still translate {@code va} to it.
     */
    public void kernelFreedUserPage(SimCpu by, long va, long frame) {
        checker.userPageFreed(by, va, frame);
    }

    // ---- traces -----------------------------------------------------------------------------------

    /** Runs {@code r} (a checker's software walk) without its memory accesses becoming scheduling points. */
    public void unobserved(Runnable r) {
        PhysicalMemory.AccessHook scheduler = memory.accessHook();
        PhysicalMemory.AccessHook meter = memory.meter();
        memory.setAccessHook(null);
        memory.setMeter(null);
        unobserved++;
        try {
            r.run();
        } finally {
            unobserved--;
            memory.setMeter(meter);
            memory.setAccessHook(scheduler);
        }
    }

    /** Inside {@link #unobserved}: kernel shared-variable accesses are not scheduling points either. */
    boolean observing() {
        return unobserved == 0;
    }

    /** Reads memory without making it a scheduling point or charging it (traces and checkers). */
    public long peekLong(long pa) {
        long[] v = new long[1];
        unobserved(() -> v[0] = memory.loadLong(pa & ~7L));
        return v[0];
    }

    /** The name of the shared variable at location {@code loc} ("mm1->context.tlb_gen"), for traces. */
    public String sharedName(long loc) {
        return bridge != null ? bridge.sharedName(loc) : "shared " + loc;
    }

    /** "pte 0x2008 = 0x400025 [P RW US A]" for a page-table entry, "0x400000 = 0x1" otherwise. */
    public String describeWord(long pa) {
        long v = peekLong(pa);
        Integer level = pageTableLevel.get(pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1));
        if (level == null && frames != null && frames.pageTableLevel(pa) != 0) {
            level = frames.pageTableLevel(pa);
        }
        if (level != null) {
            return String.format("%s 0x%x = 0x%x [%s]", mode.linuxName(level), pa, v, PteBits.describe(v));
        }
        return String.format("0x%x = 0x%x", pa, v);
    }

    /** The name of lock {@code id} ("rw_semaphore mmap_lock"), or "lock ID". */
    public String lockName(long id) {
        String n = lockNames.get(id);
        return n != null ? n : "lock " + id;
    }

    public boolean isPageTable(long pa) {
        return pageTableLevel.containsKey(pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1))
                || (frames != null && frames.pageTableLevel(pa) != 0);
    }
}
