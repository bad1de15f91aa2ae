package ptlab.sim;

import java.util.Map;

import ptlab.kernel.Cpu;
import ptlab.kernel.FlushTlbInfo;
import ptlab.kernel.IpiSender;
import ptlab.kernel.Kernel;
import ptlab.kernel.LockObserver;

/**
 * Runs the kernel layer's own code under the engine: its locks ({@code SpinLock},
 * {@code RwSemaphore}, through {@link LockObserver}) and its TLB-flush IPIs (through
 * {@link IpiSender}) become scheduling points and events of the running {@link Machine}.
 *
 * <h2>Locks</h2>
 * The kernel's locks are Java locks owned by the Java thread, and every simulated CPU runs on
 * the same thread, so they cannot tell two simulated CPUs apart. The bridge keeps the
 * simulated ownership itself and parks a CPU before {@code lock()} while another simulated CPU
 * holds the lock (readers share an rwsem, writers and spinlock holders exclude); by the time
 * the Java lock is tried it is free, so it never spins or blocks the thread. A trylock is a
 * scheduling point that never parks: it fails, as in the kernel, when another simulated CPU
 * holds the lock (the Java lock is then held too). The observer is global in the kernel layer;
 * the bridge forwards to the machine running on this thread and does nothing otherwise.
 *
 * <p>Rule for the kernel layer (why the engine cannot hang): a simulated CPU is suspended only
 * at scheduling points, i.e. at simulated-memory accesses and at these lock operations, and
 * never while it holds a Java monitor. The kernel's own monitors (the frame allocator's zone
 * lock, the PAE pgd slab) guard Java bookkeeping only and are dropped before the frame is
 * cleared ({@code FrameAllocator}'s class comment); were a CPU suspended inside one, the next
 * CPU on this same Java thread would block on it forever.
 *
 * <h2>IPIs</h2>
 * {@link #install} sets the kernel's IPI sender to {@link SimCpu#smpCallFunction}: the flush
 * request is a CALL_FUNCTION interrupt taken by the target at one of its points, and the
 * sender waits for the acknowledgement, as native_flush_tlb_multi() does.
 *
 * <p>Kernel CPU i must be the machine's CPU i ({@link #addKernelCpu}).
 */
public final class KernelBridge implements LockObserver {

    private static final ThreadLocal<Machine> ACTIVE = new ThreadLocal<>();
    private static final KernelBridge INSTANCE = new KernelBridge();

    static {
        LockObserver.setGlobal(INSTANCE);
    }

    private KernelBridge() {
    }

    static Machine enter(Machine m) {
        Machine outer = ACTIVE.get();
        ACTIVE.set(m);
        return outer;
    }

    static void exit(Machine outer) {
        ACTIVE.set(outer);
    }

    /** Routes {@code k}'s TLB-flush IPIs through machine {@code m} (whose CPU i is kernel CPU i). */
    public static void install(Kernel k, Machine m) {
        LockObserver.setGlobal(INSTANCE);
        k.tlb().setIpiSender(new Ipis(m));
    }

    /** Adds kernel CPU {@code cpu} to {@code m} as the machine CPU of the same number. */
    public static void addKernelCpu(Machine m, Cpu cpu, SimCpu.Program program) {
        int id = m.addCpu(cpu.mmu(), program);
        if (id != cpu.id()) {
            throw new IllegalArgumentException("kernel " + cpu + " must be machine CPU" + cpu.id() + ", not CPU" + id);
        }
    }

    /** The simulated ownership of one kernel lock. Invariant: writer != null implies readers == 0. */
    private static final class State implements Blocker {
        final int id;
        SimCpu writer;
        int readers;
        /** Mode the parked CPU wants; only one CPU runs at a time, and it sets this just before parking. */
        final int[] wanted = new int[64];

        State(int id) {
            this.id = id;
        }

        @Override
        public boolean blocks(SimCpu cpu) {
            return wanted[cpu.id()] == READ ? writer != null : writer != null || readers > 0;
        }
    }

    /** The lock's simulated state, kept by the machine (so it goes away with it). */
    private static State state(Machine m, Object lock) {
        Map<Object, Object> locks = m.kernelLocks;
        State s = (State) locks.get(lock);
        if (s == null) {
            s = new State(1000 + locks.size());
            locks.put(lock, s);
        }
        return s;
    }

    @Override
    public void beforeAcquire(Object lock, int mode) {
        Machine m = ACTIVE.get();
        SimCpu c = m == null ? null : m.current();
        if (c == null) {
            return;
        }
        State s = state(m, lock);
        s.wanted[c.id()] = mode;
        c.await(s, s.id);
    }

    @Override
    public void beforeTryAcquire(Object lock, int mode) {
        Machine m = ACTIVE.get();
        SimCpu c = m == null ? null : m.current();
        if (c != null) {
            c.publish(state(m, lock).id);   // reads the lock word: ordered against its owner, never parks
        }
    }

    @Override
    public void afterAcquire(Object lock, int mode) {
        Machine m = ACTIVE.get();
        SimCpu c = m == null ? null : m.current();
        if (c == null) {
            return;
        }
        State s = state(m, lock);
        if (mode == READ) {
            s.readers++;
        } else {
            s.writer = c;
        }
    }

    @Override
    public void beforeRelease(Object lock, int mode) {
        Machine m = ACTIVE.get();
        SimCpu c = m == null ? null : m.current();
        if (c == null) {
            return;
        }
        State s = state(m, lock);
        c.publish(s.id);
        if (mode == READ) {
            s.readers--;
        } else {
            s.writer = null;
        }
    }

    private record Ipis(Machine m) implements IpiSender {
        @Override
        public void sendFlushTlb(Cpu from, Cpu target, FlushTlbInfo info) {
            SimCpu sender = m.current();
            if (sender == null) {
                target.flush_tlb_func(info, false);   // outside a run (setup): synchronous
                return;
            }
            sender.smpCallFunction(1L << target.id(), (t, arg) -> target.flush_tlb_func(info, false), 0);
        }
    }
}
