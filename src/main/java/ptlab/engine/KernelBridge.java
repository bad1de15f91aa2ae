package ptlab.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.kernel.Cpu;
import ptlab.kernel.Cpumask;
import ptlab.kernel.FlushTlbInfo;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Interleaving;
import ptlab.kernel.IpiSender;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelImage;
import ptlab.kernel.KernelLock;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.MmStruct;

/**
 * Runs the kernel layer's own code under the engine: the {@link Interleaving} one kernel is
 * built with. Its locks ({@code SpinLock}, {@code RwSemaphore}), its shared variables
 * ({@code SharedLong}, {@code SharedRef}) and its TLB-flush IPIs (through {@link IpiSender})
 * become scheduling points and events of the one {@link Machine} the bridge is bound to.
 *
 * <h2>Wiring: one bridge, one kernel, one machine</h2>
 * <pre>
 *   KernelBridge b = new KernelBridge();
 *   Kernel k = new Kernel(mode, cfg, b, variant);   // every lock and shared variable holds b
 *   Machine m = new Machine(k.memory(), mode, new ptlab.check.Invariants());
 *   b.install(k, m);                                 // bound once; or all three: boot(mode, cfg, variant)
 * </pre>
 * Nothing is static, global or thread-local: two kernels on two machines in one JVM (or on one
 * thread, one after the other or interleaved) never see each other's hooks. Kernel code run
 * while no CPU of the bridge's machine is running (boot, scenario setup, checkers) is not a
 * scheduling point.
 *
 * <h2>Shared variables</h2>
 * Each shared variable gets a location at creation ({@link #locate}: 0, 1, 2... in creation
 * order, so a schedule replays with the same locations); a get, set or read-modify-write is a
 * point {@link Op#SHARED_LOAD}, {@link Op#SHARED_STORE} or {@link Op#SHARED_RMW} at it.
 *
 * <h2>Locks</h2>
 * The kernel's locks are Java locks owned by the Java thread, and every simulated CPU runs on
 * the same thread, so they cannot tell two simulated CPUs apart. The bridge keeps the
 * simulated ownership itself and parks a CPU before {@code lock()} while another simulated CPU
 * holds the lock (readers share an rwsem, writers and spinlock holders exclude); by the time
 * the Java lock is tried it is free, so it never spins or blocks the thread. A trylock is a
 * scheduling point that never parks: it fails, as in the kernel, when another simulated CPU
 * holds the lock (the Java lock is then held too).
 *
 * <p>Rule for the kernel layer (why the engine cannot hang): a simulated CPU is suspended only
 * at scheduling points, i.e. at simulated-memory accesses and at these lock operations, and
 * never while it holds a Java monitor. The kernel's own monitors (the frame allocator's zone
 * lock, the PAE pgd slab) guard Java bookkeeping only and are dropped before the frame is
 * cleared ({@code FrameAllocator}'s class comment); were a CPU suspended inside one, the next
 * CPU on this same Java thread would block on it forever. A kernel machine checks this at every
 * memory access and fails loudly, naming the CPU and the address, rather than hang.
 *
 * <h2>IPIs</h2>
 * {@link #install} sets the kernel's IPI sender to {@link SimCpu#smpCallFunction}: the flush
 * request is a CALL_FUNCTION interrupt taken by the target at one of its points, and the
 * sender waits for the acknowledgement, as native_flush_tlb_multi() does.
 *
 * <h2>Invariants</h2>
 * {@link #install} also gives the checker the kernel's view of frames: a walker read of a
 * frame the allocator holds free is invariant 2, a user access completing on one invariant 3
 * (Machine's {@code isFreed}), and traces decode every page-table page the kernel allocated.
 * mmu_gather's frees are checked the instant they happen ({@link #tableFreed}, {@link #pageFreed}): a freed
 * page-table page must be in no CPU's paging-structure cache (invariant 2), a freed user page in
 * no CPU's TLB for the addresses the scenario watches ({@link #watchUserRange}, invariant 3).
 * A kernel access that faults where it may not is invariant 4 ({@link #kernelAccess}); the
 * end-of-schedule checks of invariants 1, 4 and 6 over the kernel's state are in
 * {@code ptlab.check} ({@code KernelChecks}, {@code Leaks}); a double free the allocator
 * detects stops the run as invariant 6.
 * User accesses go through {@link #userAccess}: translation and data access are one instruction
 * (no interrupt in between, as on x86), a fault runs {@code do_user_addr_fault} as a #PF.
 *
 * <p>Kernel CPU i must be the machine's CPU i ({@link #addKernelCpu}).
 */
public final class KernelBridge implements Interleaving {

    private Machine machine;
    private Kernel kernel;
    /** Pairs start, length: the user ranges whose freed pages invariant 3 checks. */
    private long[] watched = new long[0];
    /**
     * Name of each shared-variable location, for traces. A kernel scenario's kernel makes 40-60 of
     * them: sized so that starting a schedule does not regrow the list.
     */
    private final List<ptlab.kernel.Named> sharedNames = new ArrayList<>(64);

    /** An unbound bridge: give it to a {@link Kernel}, then {@link #install} it on that kernel's machine. */
    public KernelBridge() {
    }

    /** A kernel, its machine and the bridge between them. */
    public record Booted(Kernel kernel, Machine machine, KernelBridge bridge) {
    }

    /**
     * Boots a kernel over a new bridge and binds it to a new machine over the kernel's memory,
     * whose invariants {@code checker} checks (a fresh {@code ptlab.check.Invariants}).
     */
    public static Booted boot(PagingMode mode, KernelConfig cfg, KernelVariant variant, Checker checker) {
        KernelBridge b = new KernelBridge();
        Kernel k = new Kernel(mode, cfg, b, variant);
        Machine m = new Machine(k.memory(), mode, checker);
        b.install(k, m);
        return new Booted(k, m, b);
    }

    /**
     * {@link #boot(PagingMode, KernelConfig, KernelVariant, Checker)} from a booted kernel's
     * image instead of a boot: the same kernel, machine and bridge, made in a fraction of the
     * time (what an exploration does once per schedule).
     */
    public static Booted boot(KernelImage image, Checker checker) {
        KernelBridge b = new KernelBridge();
        Kernel k = new Kernel(image, b);
        Machine m = new Machine(k.memory(), image.mode(), checker);
        b.install(k, m);
        return new Booted(k, m, b);
    }

    /**
     * A bridge bound to {@code m} for kernel-layer objects made without a {@link Kernel}: locks
     * and shared variables a scenario or test creates itself ({@code new SpinLock(name, bridge)}).
     */
    public static KernelBridge attach(Machine m) {
        KernelBridge b = new KernelBridge();
        b.bind(m);
        return b;
    }

    private void bind(Machine m) {
        if (machine != null) {
            throw new IllegalStateException("bridge already bound to a machine");
        }
        if (m.bridge != null) {
            throw new IllegalStateException("machine already has a kernel bridge");
        }
        this.machine = m;
        m.bridge = this;
    }

    /**
     * Binds this bridge to {@code k} (which must have been built with it) and {@code m} (whose
     * CPU i will be kernel CPU i): its locks, shared variables and flush IPIs become the
     * machine's, its frees and frames are checked (class comment). A kernel runs on one
     * machine at a time: installing it on another between runs moves it there.
     */
    public void install(Kernel k, Machine m) {
        if (k.interleaving() != this) {
            throw new IllegalArgumentException("kernel was built with another interleaving; pass this bridge to its "
                    + "constructor");
        }
        if (machine != null && kernel == k && machine.current() == null) {
            machine.bridge = null;        // the kernel moves on to the next machine (a timed run's next phase)
            machine = null;
        }
        bind(m);
        this.kernel = k;
        k.tlb().setIpiSender(new Ipis(m));
        m.setFrames(new Machine.Frames() {
            @Override
            public boolean isFree(long pa) {
                return k.allocator().useOf(pa) == FrameUse.FREE;
            }

            @Override
            public int pageTableLevel(long pa) {
                return k.allocator().pageTableLevel(pa);
            }

            @Override
            public void checkNoMonitorHeld(SimCpu cpu, long pa) {
                if (Thread.holdsLock(k.allocator())) {
                    throw new IllegalStateException(String.format("CPU%d reached a scheduling point (access to 0x%x) "
                            + "holding the frame allocator's zone lock, a Java monitor: simulated memory must not be "
                            + "touched under it (FrameAllocator)", cpu.id(), pa));
                }
            }
        });
    }

    public Kernel kernel() {
        return kernel;
    }

    /** The machine this bridge is bound to, or null before {@link #install}. */
    public Machine machine() {
        return machine;
    }

    /** The name of shared-variable location {@code loc}, for traces. */
    String sharedName(long loc) {
        return loc >= 0 && loc < sharedNames.size() ? sharedNames.get((int) loc).name() : "shared " + loc;
    }

    /** Shared variables created so far. */
    public int sharedVariables() {
        return sharedNames.size();
    }

    /** Invariant 3 at every freed user page is checked for the pages of [start, start+len). */
    public static void watchUserRange(Machine m, long start, long len) {
        KernelBridge b = m.bridge;
        long[] w = java.util.Arrays.copyOf(b.watched, b.watched.length + 2);
        w[w.length - 2] = start;
        w[w.length - 1] = len;
        b.watched = w;
    }

    /** Names of Pgtable's levels (PTE = 1 .. PGD = 5). */
    private static final String[] LINUX_LEVELS = {"", "pte", "pmd", "pud", "p4d", "pgd"};

    /** The running CPU of this bridge's machine, or null (setup, checkers, no machine yet). */
    private SimCpu running() {
        Machine m = machine;
        return m == null ? null : m.current();
    }

    /** mmu_gather freed a page-table page: invariant 2 at that instant. */
    @Override
    public void tableFreed(long pa, int level) {
        SimCpu c = running();
        if (c != null) {
            machine.checked(6);   // the allocator refused a double free before this (BadFree)
            if (machine.tracing()) {   // formatting costs more than the rest of a free: only for a trace
                machine.note(c, String.format("frees %s page 0x%x (mmu_gather)", LINUX_LEVELS[level], pa));
            }
            machine.kernelFreedPageTable(c, pa);
            if (kernel != null && kernel.faultLocking() != null) {
                checkTableEmpty(machine, pa, level);   // kernels whose faults race free_pgtables (study 3)
            }
        }
    }

    /**
     * Invariants 6 and 8 at a page-table page's free: free_pgtables and the pte-table reclaim
     * unlink a table only when nothing is mapped through it, so a freed table still holding an
     * entry means someone installed into it after it was unlinked — what it maps is leaked,
     * outside any vma's page tables (mail 004's race with free_pgtables(), and the pmd
     * re-check pte_offset_map_rw_nolock() exists for). Checked on kernels built with a
     * FaultLocking only: a page-table migrator frees the old copy of a table with its entries.
     */
    private static void checkTableEmpty(Machine m, long pa, int level) {
        long[] hit = {-1, 0};
        m.unobserved(() -> {
            PhysicalMemory mem = m.memory();
            long base = pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1);
            for (long a = base; a < base + PhysicalMemory.PAGE_SIZE && hit[0] < 0; a += 8) {
                long e = mem.loadLong(a) & ~0x0000_0060_0000_0060L;   // A and D do not make an entry
                if (e != 0) {
                    hit[0] = a;
                    hit[1] = e;
                }
            }
        });
        if (hit[0] >= 0) {
            m.fail(6, String.format("CPU%d freed %s page 0x%x but it still holds entry 0x%x at 0x%x: it was "
                    + "installed after the table was unlinked, and what it maps is leaked", m.current().id(),
                    LINUX_LEVELS[level], pa & ~(long) (PhysicalMemory.PAGE_SIZE - 1), hit[1], hit[0]));
        }
    }

    /** mmu_gather dropped a page: if that freed it, invariant 3 for the watched ranges. */
    @Override
    public void pageFreed(long pa) {
        SimCpu c = running();
        if (c == null || kernel == null || kernel.allocator().useOf(pa) != FrameUse.FREE) {
            return;   // not on a simulated CPU, or put_page left other references
        }
        machine.checked(6);
        if (machine.tracing()) {
            machine.note(c, String.format("frees page 0x%x (mmu_gather)", pa));
        }
        long[] w = watched;
        for (int i = 0; i < w.length; i += 2) {
            for (long va = w[i]; va < w[i] + w[i + 1]; va += PhysicalMemory.PAGE_SIZE) {
                machine.kernelFreedUserPage(c, va, pa);
            }
        }
    }

    @Override
    public void frameAllocated(long pa) {
        if (machine != null) {
            machine.checker().frameAllocated(pa);
        }
    }

    @Override
    public void frameFreed(long pa) {
        if (machine != null) {
            machine.checker().frameReleased(pa);
        }
    }

    @Override
    public void beforeAllocator() {
        SimCpu c = running();
        if (c != null && machine.observing()) {
            c.point(Op.ALLOC, 0, null);
        }
    }

    // ---- shared variables ----------------------------------------------------------------------

    @Override
    public long locate(ptlab.kernel.Named variable) {
        sharedNames.add(variable);
        return sharedNames.size() - 1;
    }

    @Override
    public void beforeShared(long location, int op) {
        SimCpu c = running();
        if (c != null && machine.observing()) {
            if (kernel != null && Thread.holdsLock(kernel.allocator())) {
                throw new IllegalStateException(String.format("CPU%d reached a scheduling point (%s) holding the frame "
                        + "allocator's zone lock, a Java monitor (FrameAllocator)", c.id(), sharedName(location)));
            }
            c.point(Op.SHARED_LOAD + op, location, null);
        }
    }

    /**
     * A user-mode 8-byte access by the task current on kernel CPU {@code cpu.id()}: the MMU's
     * translation and the data access as one instruction ({@link SimCpu#userRead}), and on a
     * page fault the kernel's {@code do_user_addr_fault} as the #PF handler, then the retry (as
     * the kernel's {@code Kernel.access} does outside the engine). False on a signal.
     */
    public static boolean userAccess(SimCpu cpu, boolean write, long va, long value) {
        Kernel k = cpu.machine().bridge.kernel;
        Cpu kcpu = k.cpu(cpu.id());
        for (int attempt = 0; attempt < 16; attempt++) {
            if (write ? cpu.userWrite(va, value) : cpu.userRead(va)) {
                return true;
            }
            if (cpu.lastWalk().exception != ptlab.hw.WalkResult.EXC_PF) {
                return false;                                     // #GP: SIGSEGV
            }
            int errorCode = cpu.lastErrorCode();
            int[] fault = new int[1];
            cpu.exception("#PF", va, () -> {
                cpu.localIrqEnable();   // do_user_addr_fault: a user fault runs with interrupts on (IPIs get in)
                fault[0] = k.do_user_addr_fault(kcpu, kcpu.current(), errorCode, va);
                cpu.localIrqDisable();
            });
            if ((fault[0] & (ptlab.kernel.VmFault.VM_FAULT_SIGSEGV | ptlab.kernel.VmFault.VM_FAULT_SIGBUS
                    | ptlab.kernel.VmFault.VM_FAULT_OOM)) != 0) {
                return false;
            }
        }
        throw new IllegalStateException(String.format("CPU%d: fault loop at va 0x%x", cpu.id(), va));
    }

    /** do_kern_addr_fault() of the kernel under test: a #PF on a kernel address in supervisor mode. */
    @FunctionalInterface
    public interface KernelFaultHandler {
        /**
         * Handles the fault at {@code address} with hardware {@code errorCode} on {@code cpu};
         * true if fixed (vmalloc_fault() copied the entry: the access is retried), false if the
         * kernel would oops.
         */
        boolean fault(Cpu cpu, int errorCode, long address);
    }

    /**
     * A supervisor-mode 8-byte access by kernel code running on {@code cpu} to kernel address
     * {@code va}: translated by the CPU's MMU with its current CR3 ({@link SimCpu#kernelRead}),
     * and on a #PF from the walker the kernel's {@code handler} runs as the exception (inside an
     * NMI handler too, where invariant 5 sees it); then the access is retried. A fault the
     * handler cannot fix is the kernel's oops: invariant 4, naming the error code, the mm whose
     * pgd CR3 holds and what init_mm maps there. Returns true when the access completed; the
     * value read is {@link SimCpu#lastValue()}.
     */
    public static boolean kernelAccess(SimCpu cpu, boolean write, long va, long value, String context,
                                       KernelFaultHandler handler) {
        Machine m = cpu.machine();
        Kernel k = m.bridge.kernel;
        Cpu kcpu = k.cpu(cpu.id());
        m.checked(4);                       // the access either completes or is the kernel's oops
        for (int attempt = 0; attempt < 4; attempt++) {
            if (write ? cpu.kernelWrite(va, value) : cpu.kernelRead(va)) {
                m.countKernelAccess();
                return true;
            }
            int errorCode = cpu.lastErrorCode();
            if (cpu.lastWalk().exception != ptlab.hw.WalkResult.EXC_PF) {
                m.fail(4, String.format("CPU%d (%s): #GP on kernel address 0x%x", cpu.id(), context, va));
                return false;
            }
            boolean[] fixed = new boolean[1];
            cpu.exception("#PF", va, () -> fixed[0] = handler.fault(kcpu, errorCode, va));
            if (!fixed[0]) {
                oops(cpu, k, kcpu, va, errorCode, context);
                return false;
            }
        }
        throw new IllegalStateException(String.format("CPU%d: kernel fault loop at va 0x%x", cpu.id(), va));
    }

    /** The oops of a kernel #PF nobody fixed, reported as invariant 4 (Linux: "BUG: unable to handle page fault"). */
    private static void oops(SimCpu cpu, Kernel k, Cpu kcpu, long va, int errorCode, String context) {
        Machine m = cpu.machine();
        MmStruct mm = kcpu.loadedMm();
        long[] r = new long[2];
        m.unobserved(() -> {
            r[0] = k.lookup(k.initMm(), va);
            r[1] = mm == null ? 0 : k.memory().loadLong(k.pgtable().pgd_offset(mm, va));
        });
        m.fail(4, String.format("CPU%d (%s) with %s loaded: kernel page fault at 0x%x, error code 0x%x (%s), %s: oops",
                cpu.id(), context, mm == null ? "no mm" : "mm " + mm.id(), va, errorCode,
                ptlab.hw.PageFaultError.describe(errorCode),
                r[0] >= 0 ? String.format("although init_mm maps it (-> 0x%x): its top-level entry 0x%x [%s] lacks "
                        + "the kernel mapping (a missing sync)", r[0], r[1], PteBits.describe(r[1]))
                        : "init_mm does not map it either"));
    }

    /** Adds kernel CPU {@code cpu} to {@code m} as the machine CPU of the same number. */
    public static void addKernelCpu(Machine m, Cpu cpu, SimCpu.Program program) {
        int id = m.addCpu(cpu.mmu(), program);
        if (id != cpu.id()) {
            throw new IllegalArgumentException("kernel " + cpu + " must be machine CPU" + cpu.id() + ", not CPU" + id);
        }
        cpu.setIrqControl(new Cpu.IrqControl() {
            @Override
            public void disable() {
                if (m.current() != null) {
                    m.cpu(id).localIrqDisable();   // an interrupts-off section of kernel code on this CPU
                }
            }

            @Override
            public void enable() {
                if (m.current() != null) {
                    m.cpu(id).localIrqEnable();
                }
            }
        });
    }

    /** Timed mode: cycles CPUs of {@code m} waited to take {@code lock} (0 if it was never taken on it). */
    public static long lockWaitCycles(Machine m, KernelLock lock) {
        State s = (State) m.kernelLocks.get(lock);
        return s == null ? 0 : s.waitCycles;
    }

    /**
     * Timed mode: model cycles {@code lock} was held exclusively (spinlock or writer) on
     * {@code m}, summed over its holds: measured from each acquire to its release on the
     * holder's clock, i.e. what the holder did in between as the cost model charged it.
     */
    public static long lockHoldCycles(Machine m, KernelLock lock) {
        State s = (State) m.kernelLocks.get(lock);
        return s == null ? 0 : s.holdCycles;
    }

    /** How often {@code lock} was taken on {@code m}. */
    public static long lockAcquisitions(Machine m, KernelLock lock) {
        State s = (State) m.kernelLocks.get(lock);
        return s == null ? 0 : s.acquisitions;
    }

    /** The simulated ownership of one kernel lock. Invariant: writer != null implies readers == 0. */
    static final class State implements Blocker {
        final int id;
        SimCpu writer;
        int readers;
        /** Timed mode: the model time of the last release; a CPU that waited takes the lock no earlier. */
        long releasedAt;
        /** Timed mode: the last release by a writer (all a reader ever waits for). */
        long writerReleasedAt;
        /** Timed mode: model cycles CPUs spent waiting to take this lock, and how often it was taken. */
        long waitCycles;
        long acquisitions;
        /** Timed mode: the exclusive holder's clock when it took the lock, and the cycles of all exclusive holds. */
        long heldSince;
        long holdCycles;
        /** Mode the parked CPU wants; only one CPU runs at a time, and it sets this just before parking. */
        final int[] wanted;

        State(int id, int cpus) {
            this.id = id;
            this.wanted = new int[cpus];
        }

        @Override
        public boolean blocks(SimCpu cpu) {
            return wanted[cpu.id()] == READ ? writer != null : writer != null || readers > 0;
        }

        /** "rw_semaphore mmap_lock for read", for traces. */
        String describe(Machine m, SimCpu cpu) {
            int w = wanted[cpu.id()];
            return m.lockName(id) + (w == READ ? " for read" : w == WRITE ? " for write" : "");
        }
    }

    /** The lock's simulated state, kept by the machine (so it goes away with it). */
    private static State state(Machine m, KernelLock lock) {
        Map<Object, Object> locks = m.kernelLocks;
        State s = (State) locks.get(lock);
        if (s == null) {
            s = new State(1000 + locks.size(), m.cpuCount());
            locks.put(lock, s);
            m.lockNames.put((long) s.id, lock.toString());
        }
        return s;
    }

    @Override
    public void beforeAcquire(KernelLock lock, int mode) {
        SimCpu c = running();
        if (c != null) {
            State s = state(c.machine(), lock);
            s.wanted[c.id()] = mode;
            c.await(s, s.id);
        }
    }

    @Override
    public void beforeTryAcquire(KernelLock lock, int mode) {
        SimCpu c = running();
        if (c != null) {
            c.tryLockPoint(state(c.machine(), lock).id);
        }
    }

    @Override
    public void afterAcquire(KernelLock lock, int mode) {
        SimCpu c = running();
        if (c == null) {
            return;
        }
        State s = state(c.machine(), lock);
        if (mode == READ) {
            s.readers++;
        } else {
            s.writer = c;
        }
        long free = mode == READ ? s.writerReleasedAt : s.releasedAt;
        if (free > c.clock) {
            s.waitCycles += free - c.clock;
            c.clock = free;           // it waited for the holder (as SimCpu.lock)
        }
        s.acquisitions++;
        c.machine().chargeLockLine(c, s.id);   // the lock word's atomic (the rwsem count, the spinlock)
        if (mode != READ) {
            s.heldSince = c.clock;
        }
    }

    @Override
    public void beforeRelease(KernelLock lock, int mode) {
        SimCpu c = running();
        if (c == null) {
            return;
        }
        State s = state(c.machine(), lock);
        if (mode != READ) {
            s.holdCycles += c.clock - s.heldSince;   // before the release's own point: the hold, not the unlock
        }
        c.publish(s.id);
        c.machine().chargeLockLine(c, s.id);
        if (mode == READ) {
            s.readers--;
        } else {
            s.writer = null;
            s.writerReleasedAt = Math.max(s.writerReleasedAt, c.clock);
        }
        s.releasedAt = Math.max(s.releasedAt, c.clock);
    }

    /**
     * The kernel's flush IPIs as the machine's: one {@link SimCpu#onEachCpuMask} per request
     * (all IPIs, then the local flush, then one wait), and the running CPU as the kernel's
     * smp_processor_id(), so a caller that names no CPU still flushes the CPU it runs on.
     */
    private record Ipis(Machine m) implements IpiSender {
        @Override
        public void flushTlbMulti(Cpu self, Cpu[] cpus, Cpumask mask, FlushTlbInfo info) {
            SimCpu sender = m.current();
            if (sender == null) {
                IpiSender.SYNCHRONOUS.flushTlbMulti(self, cpus, mask, info);   // outside a run (setup)
                return;
            }
            if (self == null || self.id() != sender.id()) {
                throw new IllegalStateException("flush from kernel " + self + " while machine CPU" + sender.id() + " runs");
            }
            sender.onEachCpuMask(mask, (t, arg) -> cpus[t.id()].flush_tlb_func(info, t == sender), 0);
        }

        @Override
        public Cpu thisCpu() {
            SimCpu c = m.current();
            return c == null ? null : m.bridge.kernel.cpu(c.id());
        }
    }
}
