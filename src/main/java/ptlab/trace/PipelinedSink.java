package ptlab.trace;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Runs an {@link AccessSink} on a thread of its own, so that parsing a trace (on the caller's
 * thread) and replaying it (here) use two cores. Accesses are passed in batches:
 *
 * <pre>
 *   reader thread                                  replay thread
 *   access() ─► fill batch ─► full ─► ready ───────► take ─► target.access() for each, in order
 *                  ▲                                                       │
 *                  └──────────── take ◄── free ◄───────────────────────────┘
 * </pre>
 *
 * The target sees exactly the calls it would have seen directly, in the same order, so the
 * result of a replay does not depend on whether it was pipelined. Batches are allocated once and
 * recycled: nothing is allocated per access. {@link #finish} hands over the last partial batch
 * and waits until the target has seen every access; an exception the target throws is rethrown
 * there (or by a later {@link #access}), after which the remaining batches are discarded.
 */
public final class PipelinedSink implements AccessSink, AutoCloseable {

    /** Accesses per batch: large enough that the hand-over (a lock and maybe a wake-up) costs nothing. */
    static final int BATCH = 1 << 14;
    private static final int BATCHES = 4;

    private static final class Batch {
        final long[] address = new long[BATCH];
        final int[] kindAndSize = new int[BATCH];   // size << 2 | kind (size <= MAX_ACCESS_SIZE = 2^20)
        int count;
        boolean last;
    }

    private final AccessSink target;
    private final BlockingQueue<Batch> ready = new ArrayBlockingQueue<>(BATCHES);
    private final BlockingQueue<Batch> free = new ArrayBlockingQueue<>(BATCHES);
    private final Thread consumer;
    private volatile Throwable failure;
    private Batch current;
    private boolean finished;

    public PipelinedSink(AccessSink target) {
        this.target = target;
        for (int i = 0; i < BATCHES - 1; i++) {
            free.add(new Batch());
        }
        current = new Batch();
        consumer = new Thread(this::consume, "ptlab-replay");
        consumer.setDaemon(true);
        consumer.start();
    }

    @Override
    public void access(int kind, long address, int size) {
        Batch b = current;
        int n = b.count;
        b.address[n] = address;
        b.kindAndSize[n] = size << 2 | kind;
        b.count = n + 1;
        if (n + 1 == BATCH) {
            handOver();
        }
    }

    private void handOver() {
        if (failure != null) {
            finish();                     // stops the replay thread and rethrows its exception
        }
        try {
            ready.put(current);
            current = free.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted handing accesses to the replay thread", e);
        }
    }

    /** Delivers the accesses still buffered and waits until the target has processed all of them. */
    public void finish() {
        if (!finished) {
            finished = true;
            current.last = true;
            try {
                ready.put(current);
                consumer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for the replay thread", e);
            }
        }
        Throwable f = failure;
        if (f instanceof RuntimeException r) {
            throw r;
        }
        if (f instanceof Error e) {
            throw e;
        }
        if (f != null) {
            throw new IllegalStateException(f);
        }
    }

    @Override
    public void close() {
        finish();
    }

    private void consume() {
        try {
            while (true) {
                Batch b = ready.take();
                if (failure == null) {
                    deliver(b);
                }
                if (b.last) {
                    return;
                }
                b.count = 0;
                free.put(b);
            }
        } catch (InterruptedException e) {
            failure = e;
        }
    }

    private void deliver(Batch b) {
        AccessSink t = target;
        long[] address = b.address;
        int[] ks = b.kindAndSize;
        try {
            for (int i = 0, n = b.count; i < n; i++) {
                t.access(ks[i] & 3, address[i], ks[i] >>> 2);
            }
        } catch (RuntimeException | Error e) {
            failure = e;                  // the reader learns of it at its next hand-over or finish()
        }
    }
}
