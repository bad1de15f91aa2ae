package ptlab.engine;

/**
 * A spinlock (or a writer-held mmap lock) of simulated kernel code. Acquire and release are
 * scheduling points. A CPU that finds the lock held is parked as blocked instead of spinning
 * through loads: the interleavings of a spinning CPU's failed attempts are all equivalent, so
 * exploring them would only burn steps.
 *
 * <p>Invariant: {@code owner} changes only inside a step of the CPU that acquires or
 * releases it, right after that CPU's LOCK/UNLOCK point, so no other CPU can observe a
 * half-taken lock.
 */
public final class SimLock implements Blocker {

    private final String name;
    private final int id;
    SimCpu owner;
    long releasedAt;

    public SimLock(String name, int id) {
        this.name = name;
        this.id = id;
    }

    public String name() {
        return name;
    }

    public int id() {
        return id;
    }

    public SimCpu owner() {
        return owner;
    }

    @Override
    public boolean blocks(SimCpu cpu) {
        return owner != null && owner != cpu;
    }

    @Override
    public String toString() {
        return name;
    }
}
