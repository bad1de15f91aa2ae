package ptlab.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A 64-bit kernel variable that other CPUs read without holding the lock that orders it
 * (mm_cpumask, tlb_gen, a generation or sequence count, a VMA's bounds and flags). Every get,
 * set and read-modify-write is announced to the kernel's {@link Interleaving} at this
 * variable's location first, so an engine makes it a scheduling point: accesses to different
 * variables are independent, accesses to the same one (unless both are loads) are not.
 *
 * <p>Atomic and sequentially consistent (a VarHandle on a volatile field), as the kernel's
 * atomic_long_t / set_bit operations on x86 are: a locked instruction is a full barrier.
 * {@link #plainGet()} reads without announcing: for checkers, traces, the sole writer, and code
 * holding a lock that every writer holds (the rule in {@code ptlab.engine.Machine}).
 */
public final class SharedLong implements Named {

    private static final VarHandle VALUE;

    static {
        try {
            VALUE = MethodHandles.lookup().findVarHandle(SharedLong.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Interleaving il;
    private final long location;
    /** The name is {@code owner + field} ({@code field} null: {@code owner} alone), joined when asked for. */
    private final String owner;
    private final String field;
    @SuppressWarnings("unused")   // accessed through VALUE
    private volatile long value;

    public SharedLong(Interleaving il, String name, long initial) {
        this(il, name, null, initial);
    }

    /** Named {@code owner + field} ({@code "mm3" + "->pgd"}), joined only if the name is asked for. */
    public SharedLong(Interleaving il, String owner, String field, long initial) {
        this.il = il;
        this.owner = owner;
        this.field = field;
        this.value = initial;
        this.location = il.locate(this);
    }

    @Override
    public String name() {
        return field == null ? owner : owner + field;
    }

    /** Where an {@link Interleaving} sees this variable. */
    public long location() {
        return location;
    }

    /** READ_ONCE / atomic_long_read. */
    public long get() {
        il.beforeShared(location, Interleaving.SHARED_LOAD);
        return value;
    }

    /** WRITE_ONCE / atomic_long_set. */
    public void set(long v) {
        il.beforeShared(location, Interleaving.SHARED_STORE);
        value = v;
    }

    /** cmpxchg. */
    public boolean compareAndSet(long expected, long v) {
        il.beforeShared(location, Interleaving.SHARED_RMW);
        return VALUE.compareAndSet(this, expected, v);
    }

    /** atomic_long_add_return / atomic64_inc_return. */
    public long addAndGet(long delta) {
        il.beforeShared(location, Interleaving.SHARED_RMW);
        return (long) VALUE.getAndAdd(this, delta) + delta;
    }

    /** set_bit()s: a locked OR; returns the old value. */
    public long getAndOr(long bits) {
        il.beforeShared(location, Interleaving.SHARED_RMW);
        return (long) VALUE.getAndBitwiseOr(this, bits);
    }

    /** clear_bit()s: a locked AND with the complement; returns the old value. */
    public long getAndAndNot(long bits) {
        il.beforeShared(location, Interleaving.SHARED_RMW);
        return (long) VALUE.getAndBitwiseAnd(this, ~bits);
    }

    /**
     * The value without a scheduling point. Allowed only where no other CPU can write it
     * concurrently: code holding a lock that every writer of this variable holds, the
     * variable's only writer reading its own writes, and checkers and traces between steps.
     */
    public long plainGet() {
        return value;
    }

    /**
     * Sets without a scheduling point: only while no other CPU can read the variable (before
     * the object holding it is published, or under a lock every reader holds).
     */
    public void plainSet(long v) {
        value = v;
    }

    @Override
    public String toString() {
        return name() + "=" + value;
    }
}
