package ptlab.kernel;

/**
 * What every kernel lock of the model has: a name for messages and traces, and the
 * {@link Interleaving} of the kernel that created it, to which its acquire and release paths
 * report (the engine makes them scheduling points). Fixed at construction.
 */
public abstract sealed class KernelLock permits SpinLock, RwSemaphore {

    /** The name is {@code owner + field} ({@code field} null: {@code owner} alone), joined when asked for. */
    private final String owner;
    private final String field;
    private final Interleaving interleaving;

    protected KernelLock(String name, Interleaving interleaving) {
        this(name, null, interleaving);
    }

    protected KernelLock(String owner, String field, Interleaving interleaving) {
        this.owner = owner;
        this.field = field;
        this.interleaving = interleaving;
    }

    public final String name() {
        return field == null ? owner : owner + field;
    }

    protected final Interleaving observer() {
        return interleaving;
    }
}
