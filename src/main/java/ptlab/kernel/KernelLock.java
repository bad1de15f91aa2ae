package ptlab.kernel;

/**
 * What every kernel lock of the model has: a name for messages and traces, and the
 * {@link Interleaving} of the kernel that created it, to which its acquire and release paths
 * report (the engine makes them scheduling points). Fixed at construction.
 */
public abstract sealed class KernelLock permits SpinLock, RwSemaphore {

    private final String name;
    private final Interleaving interleaving;

    protected KernelLock(String name, Interleaving interleaving) {
        this.name = name;
        this.interleaving = interleaving;
    }

    public final String name() {
        return name;
    }

    protected final Interleaving observer() {
        return interleaving;
    }
}
