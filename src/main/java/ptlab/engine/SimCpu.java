package ptlab.engine;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.WalkResult;
import ptlab.kernel.Cpumask;

/**
 * One simulated CPU: its {@link Mmu} (registers, walker, TLB, paging-structure caches), the
 * program it runs as a fiber, its interrupt state, and its clock in timed mode.
 *
 * <h2>Scheduling points</h2>
 * Every operation on shared state calls {@link #point}: the CPU records what it is about to
 * do (op, address, and what could block it) and yields to the {@link Machine}. When the
 * scheduler picks it again, it first takes any deliverable interrupt (the handler runs nested,
 * on this CPU's stack), then performs the operation and runs on, uninterrupted, up to its
 * next point. So one step = one shared operation plus the CPU-local code after it.
 *
 * <h2>Interrupts</h2>
 * Maskable interrupts (device IRQs, IPIs) are taken at a point when {@link #irqsDisabled()} is
 * false; NMIs when no NMI is being handled — more precisely, as on x86, until the next IRET:
 * an exception taken inside an NMI handler returns with IRET, which unblocks NMIs although the
 * NMI handler has not finished, opening the nested-NMI window Linux's entry code guards
 * against. Nothing is delivered in the middle of an instruction (a user access's walk and
 * data access), since x86 recognizes interrupts only at instruction boundaries.
 */
public final class SimCpu {

    /** What a simulated CPU runs: ordinary Java calling this CPU's operations. */
    @FunctionalInterface
    public interface Program {
        void run(SimCpu cpu);
    }

    /** A function run on a target CPU by {@link #smpCallFunction}: the csd's func(info). */
    @FunctionalInterface
    public interface IpiFunction {
        void call(SimCpu target, long arg);
    }

    private static final Blocker IDLE = cpu -> true;
    private static final int QUEUE = 16;

    final int id;
    final Machine machine;
    final PhysicalMemory memory;
    final Mmu mmu;
    final WalkResult walk = new WalkResult();
    private final Program program;
    Object fiber;

    // ---- the point this CPU is parked at (read by the scheduler) ----
    int pendingOp = Op.START;
    long pendingAddr;
    Blocker blocker;
    boolean finished;

    /** Inside a page walk: memory accesses are the walker's. */
    boolean inWalk;
    /** Inside one instruction (walk + data access): no interrupt is recognized. */
    private boolean inInstruction;

    // ---- interrupt state ----
    private final Interrupt[] queue = new Interrupt[QUEUE];
    private int queued;
    private int irqOff;
    private boolean nmiBlocked;
    private int nmiDepth;
    private long nestedNmis;
    private long faultsInNmi;

    // ---- timed mode ----
    long clock;
    /** NUMA node of this CPU (timed mode charges memory accesses by node distance, {@link Machine#setNuma}). */
    int node;
    /** Tenths of a cycle not yet added to {@link #clock} (accesses scaled by distance/10). */
    private long tenths;
    /** Cycles charged to this CPU's page walker (entry reads and A/D updates). */
    private long walkCycles;

    // ---- results of the last user access ----
    private long lastValue;
    private int lastErrorCode;

    /** smp_call_function's call-single-data of this CPU as a sender: one call in flight at a time. */
    private final Csd csd;
    /** Scratch for {@link #smpCallFunction(long, IpiFunction, long)}'s one-word masks (made on first use). */
    private Cpumask callMask;

    SimCpu(int id, Machine machine, CpuRegisters regs, Program program) {
        this(id, machine, new Mmu(machine.memory(), regs, machine.tlbConfig()), program);
    }

    /** A CPU over an existing MMU (a kernel {@code Cpu}'s), whose CR3 is already loaded. */
    SimCpu(int id, Machine machine, Mmu mmu, Program program) {
        this.id = id;
        this.machine = machine;
        this.memory = machine.memory();
        this.mmu = mmu;
        this.program = program;
        this.csd = new Csd();                 // after machine: its sentAt has one slot per CPU
        this.fiber = Fibers.create(this::body);
    }

    public int id() {
        return id;
    }

    public Machine machine() {
        return machine;
    }

    public Mmu mmu() {
        return mmu;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public long clock() {
        return clock;
    }

    public boolean finished() {
        return finished;
    }

    private void body() {
        try {
            program.run(this);
        } catch (Machine.Stop s) {
            return;
        } catch (ptlab.kernel.FrameAllocator.BadFree bad) {
            machine.fail(6, "CPU" + id + ": " + bad.getMessage());   // invariant 6: the allocator caught a double free
            return;
        } catch (Throwable t) {
            machine.crash(this, t);
            return;
        }
        finished = true;
        for (;;) {
            point(Op.IDLE, 0, IDLE);   // the idle loop: only interrupts wake it
        }
    }

    // ---- scheduling points ----------------------------------------------------------------

    /**
     * Parks this CPU before {@code op} on {@code addr} and returns when the scheduler has picked
     * it and {@code blocker} (may be null) no longer blocks it; interrupts that became
     * deliverable are taken first. Allocates nothing.
     */
    void point(int op, long addr, Blocker b) {
        pendingOp = op;
        pendingAddr = addr;
        blocker = b;
        if (!machine.keepRunning(this)) {
            machine.yieldCpu(this);
        }
        arrivals();
        for (;;) {
            takeInterrupts();
            if (b == null || !b.blocks(this)) {
                break;
            }
            // woken only to take an interrupt: park again at the same point
            pendingOp = op;
            pendingAddr = addr;
            blocker = b;
            machine.yieldCpu(this);
        }
        blocker = null;
        long c = machine.costs.perOp[op];
        NodeDistance numa = machine.numa;
        if (numa != null && Op.isMemory(op)) {
            // An access to a frame on another node costs distance/10 times a local one (SLIT).
            tenths += c * numa.distance(node, memory.nodeOf(addr));
            c = tenths / NodeDistance.LOCAL;
            tenths -= c * NodeDistance.LOCAL;
        }
        clock += c;
        if (op == Op.WALK_LOAD || op == Op.WALK_CAS) {
            walkCycles += c;
        }
    }

    /**
     * {@code n} memory accesses of kind {@code op} (PhysicalMemory's OP_LOAD, OP_STORE, OP_CAS)
     * charged without a scheduling point ({@link Machine#setMemoryPoints}): the walker's inside a
     * walk, the kernel's otherwise. Node distance is not applied here (every access local).
     */
    void chargeMemory(int op, int n) {
        long[] perOp = machine.costs.perOp;
        long c;
        if (inWalk) {
            c = n * perOp[op == PhysicalMemory.OP_LOAD ? Op.WALK_LOAD : Op.WALK_CAS];
            walkCycles += c;
        } else {
            c = n * perOp[op == PhysicalMemory.OP_LOAD ? Op.LOAD : op == PhysicalMemory.OP_STORE ? Op.STORE : Op.CAS];
        }
        clock += c;
    }

    // ---- timed interrupt arrivals ----------------------------------------------------------------

    /** Timed mode: an interrupt source of this CPU, and the model time of its next arrival. */
    private Interrupt arrivalIrq;
    private java.util.function.LongSupplier arrivalGap;
    private long nextArrival = Long.MAX_VALUE;
    private long arrivalsLatched;
    private long arrivalsMerged;

    /**
     * Timed mode: {@code irq} arrives on this CPU at model times gap(), 2 gaps, ... (each call
     * of {@code gap} the distance to the next arrival, e.g. exponential for a Poisson process:
     * perf's sampling NMIs). An arrival is noticed at this CPU's next point or instruction
     * boundary once its clock has passed it, and is taken there as {@link #raise} would have
     * it - an NMI at once unless NMIs are blocked (inside an NMI handler before any IRET), then
     * latched. As on x86, at most one NMI is latched: an arrival while one is already pending
     * merges with it ({@link #arrivalsMerged()}). A finished CPU takes no more arrivals.
     */
    public void setArrivals(Interrupt irq, java.util.function.LongSupplier gap) {
        this.arrivalIrq = irq;
        this.arrivalGap = gap;
        this.nextArrival = clock + gap.getAsLong();
    }

    /** Raises the arrivals whose time has come (at most one pending; the others merge). */
    private void arrivals() {
        if (clock < nextArrival || finished) {
            return;
        }
        boolean pending = false;
        for (int i = 0; i < queued; i++) {
            pending |= queue[i] == arrivalIrq;
        }
        while (nextArrival <= clock) {
            if (pending) {
                arrivalsMerged++;
            } else {
                raise(arrivalIrq);
                arrivalsLatched++;
                pending = true;
            }
            long gap = arrivalGap.getAsLong();
            nextArrival = gap == Long.MAX_VALUE ? Long.MAX_VALUE : nextArrival + Math.max(1, gap);
        }
    }

    /** Arrivals raised on this CPU ({@link #setArrivals}). */
    public long arrivalsRaised() {
        return arrivalsLatched;
    }

    /** Arrivals that found one of their own still pending and merged with it (x86 latches one NMI). */
    public long arrivalsMerged() {
        return arrivalsMerged;
    }

    /** Adds {@code cycles} of work that is no scheduling point (copying a page, building a replica). */
    public void charge(long cycles) {
        clock += cycles;
    }

    /** Model cycles this CPU's page walker was charged (timed mode). */
    public long walkCycles() {
        return walkCycles;
    }

    /** NUMA node this CPU is on (0 unless {@link Machine#setNuma} placed it). */
    public int node() {
        return node;
    }

    /** True if resuming this CPU now would deliver an interrupt before anything else. */
    boolean deliverable() {
        return deliverable(true);
    }

    private boolean deliverable(boolean nmiAllowed) {
        if (queued == 0 || inInstruction) {
            return false;
        }
        for (int i = 0; i < queued; i++) {
            if (queue[i].kind() == Interrupt.Kind.NMI ? nmiAllowed && nmiDeliverable() : irqOff == 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Takes the interrupts deliverable at this boundary, at most one NMI: after an NMI
     * handler's IRET the interrupted code gets on before the next latched NMI is taken, so an
     * NMI storm (arrivals faster than the handler) slows a CPU down instead of stopping it.
     */
    private void takeInterrupts() {
        boolean nmiAllowed = true;
        while (deliverable(nmiAllowed)) {
            nmiAllowed &= !takeInterrupt(nmiAllowed);
        }
    }

    /**
     * NMIs nest at most this deep. Beyond one level a real CPU has already overwritten its NMI
     * stack (the hazard); a model whose NMIs arrive faster than a faulting handler finishes
     * would otherwise recurse without end, so deeper ones stay latched until a level returns.
     */
    static final int MAX_NMI_DEPTH = 8;

    private boolean nmiDeliverable() {
        return !nmiBlocked && nmiDepth < MAX_NMI_DEPTH;
    }

    /** Can the scheduler pick this CPU? */
    boolean runnable() {
        return blocker == null || !blocker.blocks(this) || deliverable();
    }

    // ---- interrupts, NMIs, exceptions ----------------------------------------------------------

    /** Makes {@code irq} pending on this CPU; it is taken at the first point where it is deliverable. */
    public void raise(Interrupt irq) {
        if (queued == QUEUE) {
            throw new IllegalStateException("CPU" + id + ": more than " + QUEUE + " interrupts pending");
        }
        queue[queued++] = irq;
    }

    /** Takes one deliverable interrupt (an NMI first, if allowed); returns whether it was an NMI. */
    private boolean takeInterrupt(boolean nmiAllowed) {
        int pick = -1;
        for (int i = 0; i < queued && pick < 0; i++) {
            if (nmiAllowed && queue[i].kind() == Interrupt.Kind.NMI && nmiDeliverable()) {
                pick = i;   // NMIs first
            }
        }
        for (int i = 0; i < queued && pick < 0; i++) {
            if (queue[i].kind() == Interrupt.Kind.IRQ && irqOff == 0) {
                pick = i;
            }
        }
        Interrupt irq = queue[pick];
        System.arraycopy(queue, pick + 1, queue, pick, queued - pick - 1);
        queue[--queued] = null;
        int savedOp = pendingOp;
        long savedAddr = pendingAddr;
        Blocker savedBlocker = blocker;
        boolean nmi = irq.kind() == Interrupt.Kind.NMI;
        if (nmi) {
            if (nmiDepth > 0) {
                nestedNmis++;   // an NMI inside an NMI handler: only possible after an IRET reopened the window
            }
            machine.checker().nmiHandlerRuns(this, irq, nmiDepth > 0);   // invariant 5
            nmiDepth++;
            nmiBlocked = true;
        }
        irqOff++;   // interrupt gate: IF cleared
        clock += machine.costs.perOp[Op.INTERRUPT];
        machine.noteInterrupt(this, irq);
        irq.handle(this);
        // IRET: restores IF and unblocks NMIs (even when this was not the NMI handler)
        irqOff--;
        nmiBlocked = false;
        if (nmi) {
            nmiDepth--;
        }
        pendingOp = savedOp;
        pendingAddr = savedAddr;
        blocker = savedBlocker;
        return nmi;
    }

    /**
     * An exception (e.g. a page fault) taken by the running code: {@code handler} runs, then
     * IRET — which, as on x86, unblocks NMIs even inside an NMI handler. A page fault inside an
     * NMI handler is counted and reported to the machine (invariant 5).
     */
    public void exception(String name, long address, Runnable handler) {
        boolean pageFault = "#PF".equals(name);
        if (pageFault && nmiDepth > 0) {
            faultsInNmi++;
            machine.checker().faultInNmi(this, address);
        }
        irqOff++;
        handler.run();
        irqOff--;
        nmiBlocked = false;   // IRET
    }

    public void localIrqDisable() {
        irqOff++;
    }

    public void localIrqEnable() {
        if (irqOff == 0) {
            throw new IllegalStateException("CPU" + id + ": local_irq_enable without disable");
        }
        irqOff--;
    }

    public boolean irqsDisabled() {
        return irqOff > 0;
    }

    public boolean inNmi() {
        return nmiDepth > 0;
    }

    public long nestedNmis() {
        return nestedNmis;
    }

    public long faultsInNmi() {
        return faultsInNmi;
    }

    // ---- locks -----------------------------------------------------------------------------

    /** spin_lock / down_write: a scheduling point; waits (blocked, not spinning) while held. */
    public void lock(SimLock l) {
        point(Op.LOCK, l.id(), l);
        if (l.owner == this) {
            throw new IllegalStateException("CPU" + id + " takes " + l + " recursively");
        }
        l.owner = this;
        if (l.releasedAt > clock) {
            clock = l.releasedAt;
        }
    }

    public void unlock(SimLock l) {
        if (l.owner != this) {
            throw new IllegalStateException("CPU" + id + " releases " + l + " it does not hold");
        }
        point(Op.UNLOCK, l.id(), null);
        l.owner = null;
        l.releasedAt = clock;
    }

    /**
     * Waits (blocked, not spinning) until {@code b} lets this CPU go on: a scheduling point that
     * depends on everything. For hand-offs between simulated CPUs (a task migrating, a
     * completion) and for locks the simulator does not own ({@link KernelBridge}).
     */
    public void await(Blocker b, long tag) {
        point(Op.LOCK, tag, b);
    }

    /** A trylock's scheduling point: reads the lock, ordered against its owner, and never waits. */
    public void tryLockPoint(long tag) {
        point(Op.TRYLOCK, tag, null);
    }

    /** A scheduling point that publishes CPU-local Java state to the others (a flag a blocker reads). */
    public void publish(long tag) {
        point(Op.UNLOCK, tag, null);
    }

    // ---- IPIs ------------------------------------------------------------------------------

    /**
     * smp_call_function_many(mask, func, arg, wait=1): sends CALL_FUNCTION IPIs to the CPUs in
     * {@code mask} (this CPU excluded) and waits until every one ran {@code fn} and acknowledged.
     * Sending and waiting are scheduling points; so is each target's acknowledgement.
     */
    public void smpCallFunction(long mask, IpiFunction fn, long arg) {
        smpCallFunction(maskOf(mask), fn, arg);
    }

    /** smp_call_function_many over a {@link Cpumask} (any number of CPUs). */
    public void smpCallFunction(Cpumask mask, IpiFunction fn, long arg) {
        callFunctionMany(mask, fn, arg, false);
        point(Op.IPI_WAIT, 0, csd);
        if (csd.ackedAt > clock) {
            clock = csd.ackedAt;
        }
    }

    /**
     * on_each_cpu_mask(mask, func, arg, wait=1) (Linux v6.6 kernel/smp.c,
     * smp_call_function_many_cond with SCF_RUN_LOCAL): all IPIs to the other CPUs of
     * {@code mask} first, then {@code fn} on this CPU if it is in the mask (interrupts off),
     * then one wait for every acknowledgement — so the cost is one ICR write per target plus
     * the slowest round trip, and the local call overlaps the remote ones.
     */
    public void onEachCpuMask(Cpumask mask, IpiFunction fn, long arg) {
        boolean remote = callFunctionMany(mask, fn, arg, true);
        if (mask.test(id)) {
            localIrqDisable();
            fn.call(this, arg);
            localIrqEnable();
        }
        if (remote) {
            point(Op.IPI_WAIT, 0, csd);
            if (csd.ackedAt > clock) {
                clock = csd.ackedAt;
            }
        }
    }

    /** A one-word mask (CPUs 0..63, as scenarios with a few CPUs name them) in this CPU's scratch cpumask. */
    private Cpumask maskOf(long mask) {
        if (callMask == null) {
            callMask = new Cpumask(machine.cpus.length);
        }
        if (callMask.words() == 1 && machine.cpus.length < 64 && (mask >>> machine.cpus.length) != 0) {
            throw new IllegalArgumentException("CPU mask 0x" + Long.toHexString(mask) + " names CPUs beyond the "
                    + machine.cpus.length + " of this machine");
        }
        callMask.clearAll();
        callMask.setWord(0, mask);
        return callMask;
    }

    /** Queues the call on every CPU of {@code targets} but this one and sends the IPIs; true if any was sent. */
    private boolean callFunctionMany(Cpumask targets, IpiFunction fn, long arg, boolean skipIfNone) {
        if (csd.pending != 0) {
            throw new IllegalStateException("CPU" + id + ": smp_call_function while a call is in flight");
        }
        csd.fn = fn;
        csd.arg = arg;
        csd.ackedAt = 0;
        SimCpu[] cpus = machine.cpus;
        boolean sent = false;
        for (int t = targets.next(-1); t >= 0; t = targets.next(t)) {
            if (t != id) {
                point(Op.IPI_SEND, t, null);
                csd.pending++;
                cpus[t].raise(csd);
                csd.sentAt[t] = clock;
                sent = true;
            }
        }
        return sent || !skipIfNone;
    }

    private final class Csd implements Interrupt, Blocker {
        IpiFunction fn;
        long arg;
        int pending;
        /** Per target: when its IPI left this CPU (the end of its ICR write). */
        final long[] sentAt = new long[machine.cpus.length];
        long ackedAt;

        @Override
        public Kind kind() {
            return Kind.IRQ;
        }

        @Override
        public String name() {
            return "CALL_FUNCTION from CPU" + id;
        }

        @Override
        public void handle(SimCpu target) {
            // The target cannot have finished its interrupt entry before the IPI arrived plus
            // the entry's cost (takeInterrupt charged the entry from the target's own clock).
            long entered = sentAt[target.id] + target.machine.costs.perOp[Op.INTERRUPT];
            if (entered > target.clock) {
                target.clock = entered;
            }
            fn.call(target, arg);
            target.point(Op.IPI_ACK, id, null);   // csd_unlock: the sender may go on
            pending--;
            if (target.clock > ackedAt) {
                ackedAt = target.clock;
            }
        }

        @Override
        public boolean blocks(SimCpu cpu) {
            return pending > 0;
        }
    }

    // ---- TLB maintenance on this CPU -----------------------------------------------------------

    /** INVLPG on this CPU (a scheduling point: the kernel's flush is an ordering event). */
    public void invlpg(long va) {
        point(Op.TLB_FLUSH, va, null);
        mmu.invlpg(va);
    }

    /** Flushes this CPU's whole TLB and paging-structure caches (a CR3 reload with PGE toggled). */
    public void flushTlbAll() {
        point(Op.TLB_FLUSH, -1, null);
        mmu.flushAll();
        clock += machine.costs.tlbFlushAll - machine.costs.perOp[Op.TLB_FLUSH];
    }

    // ---- user accesses -----------------------------------------------------------------------

    /** A user-mode 8-byte load at {@code va}; false on a fault (see {@link #lastErrorCode()}). */
    public boolean userRead(long va) {
        return access(va, AccessType.READ, true, false, 0);
    }

    /** A user-mode 8-byte store of {@code value} at {@code va}; false on a fault. */
    public boolean userWrite(long va, long value) {
        return access(va, AccessType.WRITE, true, true, value);
    }

    /**
     * A supervisor-mode 8-byte load at kernel address {@code va} (vmalloc area, direct map,
     * vmemmap) by the kernel code this CPU runs: translated by this CPU's walker and TLB with its
     * current CR3, as the hardware does for every kernel access - so a kernel mapping missing
     * from the loaded page tables is a #PF from the walker, with its error code
     * ({@link #lastErrorCode()}: P=0, U/S=0 for a missing entry), for the caller's fault path.
     * False on a fault.
     */
    public boolean kernelRead(long va) {
        return access(va, AccessType.READ, false, false, 0);
    }

    /** A supervisor-mode 8-byte store of {@code value} at kernel address {@code va}; false on a fault. */
    public boolean kernelWrite(long va, long value) {
        return access(va, AccessType.WRITE, false, true, value);
    }

    private boolean access(long va, AccessType type, boolean user, boolean write, long value) {
        // an instruction boundary: interrupts raised since the last point are recognized here
        arrivals();
        takeInterrupts();
        inInstruction = true;
        long walksBefore = mmu.walks();
        inWalk = true;
        boolean ok = mmu.translate(va, type, user, false, walk);
        inWalk = false;
        if (mmu.walks() == walksBefore) {
            clock += machine.costs.tlbHit;
        }
        if (!ok) {
            inInstruction = false;
            lastErrorCode = walk.errorCode;
            return false;
        }
        long pa = walk.pa & ~7L;
        if (Long.compareUnsigned(pa, memory.sizeBytes()) >= 0) {
            // Beyond RAM: MMIO (an ioremap'ed BAR). The device answers, not memory: a read of no
            // device returns all ones, a write goes nowhere; neither is a simulated-memory access.
            lastValue = write ? lastValue : -1L;
            inInstruction = false;
            return true;
        }
        if (write) {
            memory.storeLong(pa, value);
        } else {
            lastValue = memory.loadLong(pa);
        }
        inInstruction = false;
        machine.userAccessDone(this, va, pa, write);
        return true;
    }

    /** The value of the last successful {@link #userRead}. */
    public long lastValue() {
        return lastValue;
    }

    /** The page-fault error code of the last failed access. */
    public int lastErrorCode() {
        return lastErrorCode;
    }

    /** The result of this CPU's last translation (for scenarios and the checker). */
    public WalkResult lastWalk() {
        return walk;
    }

    @Override
    public String toString() {
        return "CPU" + id;
    }
}
