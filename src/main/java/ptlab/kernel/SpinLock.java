package ptlab.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * spinlock_t: a non-recursive mutual-exclusion lock, as {@code spin_lock()/spin_unlock()}.
 * Used for {@code mm->page_table_lock}, the split page-table locks ({@code ptlock} of a
 * PMD or PTE page) and {@code pgd_lock}.
 *
 * <p>It spins (with {@link Thread#onSpinWait()}, then yields) on a compare-and-swap of the owner,
 * allocates nothing, and detects the one deadlock a spinlock can detect cheaply: taking it again
 * on the thread that holds it (AA deadlock), which throws naming the lock.
 */
public final class SpinLock extends KernelLock {

    private static final VarHandle OWNER;

    static {
        try {
            OWNER = MethodHandles.lookup().findVarHandle(SpinLock.class, "owner", Thread.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused")   // accessed through OWNER
    private volatile Thread owner;
    private long acquisitions;
    private long contended;

    /** A lock no scheduler sees (tests, a kernel run straight through). */
    public SpinLock(String name) {
        this(name, Interleaving.NONE);
    }

    public SpinLock(String name, Interleaving interleaving) {
        super(name, interleaving);
    }

    /** Named {@code owner + field} ({@code "mm3" + ".page_table_lock"}), joined only when asked for. */
    public SpinLock(String owner, String field, Interleaving interleaving) {
        super(owner, field, interleaving);
    }


    /** spin_lock(). */
    public void lock() {
        Interleaving o = observer();
        o.beforeAcquire(this, Interleaving.SPIN);
        Thread me = Thread.currentThread();
        if (!OWNER.compareAndSet(this, (Thread) null, me)) {
            if (owner == me) {
                throw new IllegalStateException("recursive spin_lock of " + name() + " (AA deadlock)");
            }
            contended++;
            int spins = 0;
            while (!OWNER.compareAndSet(this, (Thread) null, me)) {
                if (++spins < 100) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        }
        acquisitions++;
        o.afterAcquire(this, Interleaving.SPIN);
    }

    /** spin_trylock(). */
    public boolean tryLock() {
        Interleaving o = observer();
        o.beforeTryAcquire(this, Interleaving.SPIN);
        if (!OWNER.compareAndSet(this, (Thread) null, Thread.currentThread())) {
            return false;
        }
        acquisitions++;
        o.afterAcquire(this, Interleaving.SPIN);
        return true;
    }

    /** spin_unlock(); unlocking a lock this thread does not hold throws. */
    public void unlock() {
        if (owner != Thread.currentThread()) {
            throw new IllegalStateException("spin_unlock of " + name() + " not held by this thread (owner " + owner + ")");
        }
        observer().beforeRelease(this, Interleaving.SPIN);
        OWNER.setRelease(this, (Thread) null);
    }

    /** lockdep_assert_held(). */
    public boolean isHeldByCurrentThread() {
        return owner == Thread.currentThread();
    }

    public boolean isLocked() {
        return owner != null;
    }

    public long acquisitions() {
        return acquisitions;
    }

    public long contended() {
        return contended;
    }

    @Override
    public String toString() {
        return "spinlock " + name();
    }
}
