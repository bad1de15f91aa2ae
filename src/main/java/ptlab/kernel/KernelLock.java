package ptlab.kernel;

/**
 * What every kernel lock of the model has: a name for messages and traces, and the
 * {@link LockObserver} its acquire and release paths report to (its own when set, else the
 * global one, which the engine installs to make lock operations scheduling points).
 */
public abstract sealed class KernelLock permits SpinLock, RwSemaphore {

    private final String name;
    private LockObserver observer;

    protected KernelLock(String name) {
        this.name = name;
    }

    public final String name() {
        return name;
    }

    public final void setObserver(LockObserver observer) {
        this.observer = observer;
    }

    protected final LockObserver observer() {
        LockObserver o = observer;
        return o != null ? o : LockObserver.global();
    }
}
