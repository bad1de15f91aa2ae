package ptlab.kernel;

import java.util.concurrent.locks.StampedLock;

/**
 * struct rw_semaphore (Linux v6.6), as {@code mm->mmap_lock}: many readers or one writer, not recursive,
 * sleeping rather than spinning. {@code down_read/up_read/down_write/up_write} keep Linux's
 * names; {@code downgrade_write} turns the write hold into a read hold without a window.
 *
 * <p>Built on {@link StampedLock}, whose uncontended paths allocate nothing; the writer's
 * thread is remembered for {@code mmap_assert_write_locked()}.
 */
public final class RwSemaphore extends KernelLock {

    private final StampedLock lock = new StampedLock();
    private volatile Thread writer;
    private long writeStamp;

    /** A semaphore no scheduler sees (tests, a kernel run straight through). */
    public RwSemaphore(String name) {
        this(name, Interleaving.NONE);
    }

    /** Named {@code owner + field} ({@code "mm3" + ".mmap_lock"}), joined only when asked for. */
    public RwSemaphore(String owner, String field, Interleaving interleaving) {
        super(owner, field, interleaving);
    }

    public RwSemaphore(String name, Interleaving interleaving) {
        super(name, interleaving);
    }


    public void down_read() {
        Interleaving o = observer();
        o.beforeAcquire(this, Interleaving.READ);
        if (writer == Thread.currentThread()) {
            throw new IllegalStateException("down_read of " + name() + " while holding it for write (deadlock)");
        }
        lock.readLock();
        o.afterAcquire(this, Interleaving.READ);
    }

    /** down_read_trylock(). */
    public boolean down_read_trylock() {
        Interleaving o = observer();
        o.beforeTryAcquire(this, Interleaving.READ);
        if (lock.tryReadLock() == 0) {
            return false;
        }
        o.afterAcquire(this, Interleaving.READ);
        return true;
    }

    public void up_read() {
        observer().beforeRelease(this, Interleaving.READ);
        if (!lock.tryUnlockRead()) {
            throw new IllegalStateException("up_read of " + name() + " not held for read");
        }
    }

    public void down_write() {
        Interleaving o = observer();
        o.beforeAcquire(this, Interleaving.WRITE);
        if (writer == Thread.currentThread()) {
            throw new IllegalStateException("recursive down_write of " + name() + " (deadlock)");
        }
        writeStamp = lock.writeLock();
        writer = Thread.currentThread();
        o.afterAcquire(this, Interleaving.WRITE);
    }

    public void up_write() {
        if (writer != Thread.currentThread()) {
            throw new IllegalStateException("up_write of " + name() + " not held for write by this thread");
        }
        observer().beforeRelease(this, Interleaving.WRITE);
        writer = null;
        lock.unlockWrite(writeStamp);
    }

    /** downgrade_write(): atomically from writer to reader. */
    public void downgrade_write() {
        if (writer != Thread.currentThread()) {
            throw new IllegalStateException("downgrade_write of " + name() + " not held for write by this thread");
        }
        Interleaving o = observer();
        o.beforeRelease(this, Interleaving.WRITE);
        writer = null;
        if (lock.tryConvertToReadLock(writeStamp) == 0) {
            throw new IllegalStateException("downgrade_write of " + name() + " failed");
        }
        o.afterAcquire(this, Interleaving.READ);
    }

    public boolean isWriteLocked() {
        return lock.isWriteLocked();
    }

    public boolean isWriteLockedByCurrentThread() {
        return writer == Thread.currentThread();
    }

    public boolean isReadLocked() {
        return lock.isReadLocked();
    }

    /** mmap_assert_locked(): held for read or write (by someone; readers are not tracked per thread). */
    public boolean isLocked() {
        return lock.isReadLocked() || lock.isWriteLocked();
    }

    @Override
    public String toString() {
        return "rw_semaphore " + name();
    }
}
