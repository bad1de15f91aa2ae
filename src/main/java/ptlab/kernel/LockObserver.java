package ptlab.kernel;

/**
 * Hook called around every kernel lock operation ({@link SpinLock}, {@link RwSemaphore}), so a
 * deterministic scheduler can make each acquire and release a scheduling point and a lock
 * checker can record what is held. The default does nothing.
 *
 * <p>A lock uses its own observer when one is set ({@code setObserver}), else the global one
 * ({@link #setGlobal}). Observers must not allocate if they want the fault path to stay
 * allocation-free.
 */
public interface LockObserver {

    int SPIN = 0;
    int READ = 1;
    int WRITE = 2;

    /** Before trying to take {@code lock} in {@code mode} (SPIN, READ or WRITE). */
    default void beforeAcquire(Object lock, int mode) {
    }

    /**
     * Before a trylock of {@code lock} ({@code spin_trylock}, {@code down_read_trylock}), which
     * may fail instead of waiting: a scheduler must not park the caller here.
     */
    default void beforeTryAcquire(Object lock, int mode) {
    }

    /** After {@code lock} was taken. */
    default void afterAcquire(Object lock, int mode) {
    }

    /** Before {@code lock} is released. */
    default void beforeRelease(Object lock, int mode) {
    }

    LockObserver NONE = new LockObserver() {
    };

    /** The observer of every lock that has none of its own. */
    static void setGlobal(LockObserver observer) {
        Holder.global = observer == null ? NONE : observer;
    }

    static LockObserver global() {
        return Holder.global;
    }

    /** Holder of the global observer (interfaces cannot have mutable static fields). */
    final class Holder {
        private Holder() {
        }

        static volatile LockObserver global = NONE;
    }
}
