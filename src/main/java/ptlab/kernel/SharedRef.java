package ptlab.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A kernel pointer that other CPUs read without holding the lock that orders it
 * ({@code cpu_tlbstate.loaded_mm}, a VMA's anon_vma, the root of an mm's VMA tree published
 * RCU-style). As {@link SharedLong}: every get, set and compare-and-set is announced to the
 * kernel's {@link Interleaving} at this variable's location, so it is a scheduling point.
 * Stores are releases and loads acquires (rcu_assign_pointer / rcu_dereference): whatever was
 * written into an object before it was published is seen by a CPU that loads the pointer.
 */
public final class SharedRef<T> implements Named {

    private static final VarHandle VALUE;

    static {
        try {
            VALUE = MethodHandles.lookup().findVarHandle(SharedRef.class, "value", Object.class);
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
    private volatile T value;

    public SharedRef(Interleaving il, String name, T initial) {
        this(il, name, null, initial);
    }

    /** Named {@code owner + field} ({@code "mm3" + "->pgd"}), joined only if the name is asked for. */
    public SharedRef(Interleaving il, String owner, String field, T initial) {
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

    public long location() {
        return location;
    }

    /** rcu_dereference / READ_ONCE. */
    public T get() {
        il.beforeShared(location, Interleaving.SHARED_LOAD);
        return value;
    }

    /** rcu_assign_pointer / WRITE_ONCE. */
    public void set(T v) {
        il.beforeShared(location, Interleaving.SHARED_STORE);
        value = v;
    }

    /** cmpxchg on the pointer. */
    public boolean compareAndSet(T expected, T v) {
        il.beforeShared(location, Interleaving.SHARED_RMW);
        return VALUE.compareAndSet(this, expected, v);
    }

    /**
     * The value without a scheduling point. Allowed only where no other CPU can write it
     * concurrently: code holding a lock that every writer of this variable holds, the
     * variable's only writer reading its own writes, and checkers and traces between steps.
     */
    public T plainGet() {
        return value;
    }

    /**
     * Sets without a scheduling point: only while no other CPU can read the variable (before
     * the object holding it is published, or under a lock every reader holds).
     */
    public void plainSet(T v) {
        value = v;
    }

    @Override
    public String toString() {
        return name() + "=" + value;
    }
}
