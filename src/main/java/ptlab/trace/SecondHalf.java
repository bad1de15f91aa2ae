package ptlab.trace;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * The second thread of a two-thread replay ({@code trace replay --threads 2}, the default on two
 * cores): it parses the second part of each buffer's complete lines into a record buffer while
 * the reading thread parses the first part straight into the sink ({@link TraceReader}'s
 * {@code replayBuffers}, which has the whole turn diagram). Per buffer:
 *
 * <pre>
 *   reading thread                                 this thread
 *   start(b, mid, end, turn) ─────────────────────► parse b[mid, end) with the twin reader into
 *   deliver(other turn): the last buffer's records    the records of turn (kind, address, size)
 *     into the sink; parse b[p, mid) into the sink
 *   read the next buffer into the other array
 *   await() ◄──────────────────────────────────────  done
 * </pre>
 *
 * Parsing is most of a replay's time (the replay memoizes TLB hits), so both threads parse and
 * only the reading thread ever calls the sink: the sink sees exactly the calls of a one-thread
 * replay, in the same order. The reading thread also replays every access, so it parses about a
 * third. The twin is a second reader of the same format; only its parse loop and counts are
 * used, never its channel or buffer.
 *
 * <p>Hand-over: {@link #state} is written by one side and read by the other (volatile), the
 * buffer range, the records and the twin's counts are published by those writes (happens-before
 * through the volatile), and a side that finds nothing to do spins briefly, then parks. The
 * reading thread does not touch {@code b[mid, end)} nor refill {@code b} until {@link #await}
 * returns, and does not read the records of a turn before then.
 */
final class SecondHalf implements AutoCloseable {

    private static final int IDLE = 0;
    private static final int POSTED = 1;
    private static final int DONE = 2;
    private static final int CLOSED = 3;

    /** Spins before parking: a hand-over usually comes within a few microseconds. */
    private static final int SPINS = 1 << 12;

    final TraceReader twin;
    private final Thread thread;
    private final Thread owner;
    private volatile int state = IDLE;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(SecondHalf.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // the posted work, published by the volatile write of POSTED
    private byte[] b;
    private int from;
    private int limit;
    // the result, published by the volatile write of DONE
    /** The accesses parsed in each of the reader's two buffers (turn 0 and 1). */
    private final Records[] records = {new Records(), new Records()};
    private Records out;
    private long nanos;
    private Throwable failure;

    SecondHalf(TraceReader twin) {
        this.twin = twin;
        this.owner = Thread.currentThread();
        this.thread = new Thread(this::run, "ptlab-parse");
        thread.setDaemon(true);
        thread.start();
    }

    /** Posts {@code b[from, limit)} (complete lines only) to be parsed into the records of {@code turn}. */
    void start(byte[] b, int from, int limit, int turn) {
        this.b = b;
        this.from = from;
        this.limit = limit;
        out = records[turn];   // empty: deliver() emptied it the turn before
        state = POSTED;
        LockSupport.unpark(thread);
    }

    /** Waits until the posted lines are parsed; rethrows what the parse threw. */
    void await() {
        boolean interrupted = false;
        for (int i = 0; state != DONE; i++) {
            if (i < SPINS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);
                interrupted |= Thread.interrupted();   // go on waiting: the buffer is in use
            }
        }
        if (interrupted) {
            owner.interrupt();                         // for the reader's check at its next refill
        }
        state = IDLE;
        Throwable f = failure;
        if (f != null) {
            failure = null;
            if (f instanceof RuntimeException r) {
                throw r;
            }
            if (f instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(f);
        }
    }

    /** Nanoseconds the last parse took on this thread. */
    long nanos() {
        return nanos;
    }

    /** Feeds the accesses parsed for {@code turn} to {@code sink}, in trace order, and forgets them. */
    void deliver(int turn, AccessSink sink) {
        Records r = records[turn];
        long[] address = r.address;
        int[] ks = r.kindAndSize;
        int n = r.count;
        r.count = 0;
        for (int i = 0; i < n; i++) {
            sink.access(ks[i] & 3, address[i], ks[i] >>> 2);
        }
    }

    /**
     * Ends the thread and waits until it has: a replay never leaves a parsing thread behind
     * (after a failure it may still be finishing a part, a few milliseconds at most).
     */
    @Override
    public void close() {
        state = CLOSED;
        LockSupport.unpark(thread);
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        while (true) {
            int s;
            for (int i = 0; (s = state) != POSTED && s != CLOSED; i++) {
                if (i < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (s == CLOSED) {
                return;
            }
            long t0 = System.nanoTime();
            try {
                twin.parseLines(b, from, limit, out);   // the twin counts the lines; their accesses go to out
            } catch (Throwable t) {
                failure = t;
            }
            nanos = System.nanoTime() - t0;
            // POSTED -> DONE, unless the reader closed this meanwhile (it left after a failure
            // without waiting): then CLOSED stays, and the loop above ends the thread
            if (STATE.compareAndSet(this, POSTED, DONE)) {
                LockSupport.unpark(owner);
            }
        }
    }

    /** Accesses parsed on this thread: kind and size packed as {@code size << 2 | kind} (size <= 2^20). */
    private static final class Records implements AccessSink {
        long[] address = new long[1 << 16];
        int[] kindAndSize = new int[1 << 16];
        int count;

        @Override
        public void access(int kind, long a, int size) {
            int n = count;
            if (n == address.length) {   // grows to the most one split yields, then never again
                address = java.util.Arrays.copyOf(address, 2 * n);
                kindAndSize = java.util.Arrays.copyOf(kindAndSize, 2 * n);
            }
            address[n] = a;
            kindAndSize[n] = size << 2 | kind;
            count = n + 1;
        }
    }
}
