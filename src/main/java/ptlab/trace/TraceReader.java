package ptlab.trace;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ReadableByteChannel;

/**
 * Streams a text trace of memory accesses to an {@link AccessSink}, working directly on the
 * bytes of one reusable buffer: no String, no regex and no allocation per line, and memory use
 * independent of the trace's length.
 *
 * <pre>
 *   buf: [ consumed | complete lines ... | partial line ] [ free ]
 *                    ^start                ^last '\n'+1    ^end
 *   after each read the complete lines are parsed; the partial line is moved to the front
 *   and the next read appends to it.
 * </pre>
 *
 * Every line is classified by the format ({@link #parseLine}) as an access record, an ignored
 * line (comment, blank, banner) or a malformed one. Malformed lines are counted, and the
 * first one's number kept, so that a wrong {@code --trace-format} or a damaged file cannot go
 * unnoticed. A line longer than the buffer is malformed.
 *
 * <p>{@link #requestStop()} (from any thread) and interrupting the reading thread end the
 * replay at the next buffer refill, leaving the counts consistent with the lines parsed.
 */
public abstract class TraceReader {

    public static final int READ = 0;
    public static final int WRITE = 1;
    public static final int FETCH = 2;

    /** 1 MiB: large enough that refills are rare, small enough to stay in L2/L3 while parsed. */
    public static final int DEFAULT_BUFFER_BYTES = 1 << 20;

    /** Largest access size accepted (bytes); larger ones are malformed rather than a long page loop. */
    public static final int MAX_ACCESS_SIZE = 1 << 20;


    /** Hex digit values, -1 for any other byte. */
    private static final byte[] HEX = new byte[256];

    static {
        java.util.Arrays.fill(HEX, (byte) -1);
        for (int c = '0'; c <= '9'; c++) {
            HEX[c] = (byte) (c - '0');
        }
        for (int c = 'a'; c <= 'f'; c++) {
            HEX[c] = (byte) (c - 'a' + 10);
            HEX[c - 'a' + 'A'] = (byte) (c - 'a' + 10);
        }
    }

    private final ReadableByteChannel in;
    private final byte[] buf;
    private final ByteBuffer window;

    private long lines;
    private long records;
    private long ignored;
    private long malformed;
    private long firstMalformedLine;
    private volatile long bytesRead;
    private volatile boolean stopRequested;
    private boolean interrupted;

    protected TraceReader(ReadableByteChannel in, int bufferBytes) {
        if (bufferBytes < 64) {
            throw new IllegalArgumentException("trace buffer of " + bufferBytes + " bytes is too small");
        }
        this.in = in;
        this.buf = new byte[bufferBytes];
        this.window = ByteBuffer.wrap(buf);
    }

    /**
     * Reads the whole trace (or until stopped), handing every access to {@code sink}.
     *
     * @return true if the end of the input was reached, false if stopped or interrupted
     */
    public final boolean replay(AccessSink sink) throws IOException {
        return replay(sink, null);
    }

    /** As {@link #replay(AccessSink)}, calling {@code onRefill} with the bytes read so far after each read. */
    public final boolean replay(AccessSink sink, java.util.function.LongConsumer onRefill) throws IOException {
        if (twin == null) {
            return replayBuffers(sink, onRefill, null);
        }
        try (SecondHalf half = new SecondHalf(twin)) {
            return replayBuffers(sink, onRefill, half);
        }
    }

    /**
     * Makes {@link #replay} parse on two threads: {@code twin}, a reader of the same format,
     * parses the second part of each buffer on a thread of its own ({@link SecondHalf}). The
     * sink is still called on the replaying thread only, with the same accesses in the same order,
     * and the counts are the same.
     */
    final void parseOnTwoThreads(TraceReader twin) {
        if (twin.getClass() != getClass() || twin == this) {
            throw new IllegalArgumentException("the twin must be another reader of the same format");
        }
        this.twin = twin;
    }

    private TraceReader twin;
    private long splits;

    /** Buffers parsed on two threads so far (tests: a two-thread replay that never split proved nothing). */
    long splits() {
        return splits;
    }

    /**
     * The replay loop: fill a buffer (the incomplete last line of the previous one carried to its
     * front), parse its complete lines, repeat. On one thread ({@code half} null) the two
     * buffers are one array. On two, two buffers take turns: while the {@link SecondHalf}'s
     * thread parses the second part of the complete lines of one buffer, this thread hands the
     * part before it to the sink, refills the other buffer, hands the accesses the other thread
     * parsed to the sink, and starts on the next buffer:
     *
     * <pre>
     *   this thread:   read A | A1 -> sink | read B | A2 -> sink, B1 -> sink | read A | B2 -> sink, A1' ...
     *   other thread:         |  parse A2          |  parse B2               |  parse A2' ...
     * </pre>
     *
     * The sink sees every access on this thread, in trace order, either way; the second part's
     * counts are added when its accesses are handed over, before any later line is counted, so
     * line numbers (the first malformed one) are the same. A line longer than a buffer is one
     * malformed (or ignored) line.
     */
    private boolean replayBuffers(AccessSink sink, java.util.function.LongConsumer onRefill, SecondHalf half)
            throws IOException {
        byte[] other = half == null ? buf : new byte[buf.length];
        byte[][] bufs = {buf, other};
        ByteBuffer[] windows = {window, half == null ? window : ByteBuffer.wrap(other)};
        byte[] prev = bufs[1];
        int carryFrom = 0;         // prev[carryFrom, carryTo): the incomplete line to carry over
        int carryTo = 0;
        boolean discarding = false;
        boolean pending = false;   // the other thread has parsed (or is parsing) part of prev (never on one)
        long turnStart = 0;        // when this thread's part of the last turn began (for balance)
        for (int turn = 0; ; turn ^= 1) {
            if (stopRequested || Thread.currentThread().isInterrupted()) {
                handOver(half, pending, turn ^ 1, sink);
                interrupted = true;
                return false;
            }
            // b was last parsed two turns ago and its second part handed over one turn ago: free
            // (one thread: b is prev, and the copy moves the incomplete line to the front)
            byte[] b = bufs[turn];
            int end = carryTo - carryFrom;
            System.arraycopy(prev, carryFrom, b, 0, end);
            int n;
            try {
                n = in.read(windows[turn].limit(b.length).position(end));
            } catch (ClosedByInterruptException e) {
                handOver(half, pending, turn ^ 1, sink);
                interrupted = true;
                return false;
            }
            if (n < 0) {
                handOver(half, pending, turn ^ 1, sink);
                if (end > 0 && !discarding) {
                    lastLine(b, 0, end, sink);
                }
                return true;
            }
            end += n;
            bytesRead += n;
            if (onRefill != null) {
                onRefill.accept(bytesRead);
            }
            int p = 0;
            if (discarding) {
                int nl = endOfLine(b, 0, end);
                p = nl < 0 ? end : nl + 1;
                discarding = nl < 0;
            }
            // two threads: complete lines b[p, last]; this thread takes b[p, mid], the other b[mid + 1, last]
            int last = -1;
            int mid = -1;
            if (half != null) {
                last = lastNewline(b, p, end);
                mid = last < 0 ? -1 : endOfLine(b, p + (int) ((last - p) * firstShare), last);
            }
            boolean split = mid >= 0 && mid < last;
            if (pending) {
                long thisNanos = System.nanoTime() - turnStart;   // this thread's part of the last turn, not the wait
                half.await();
                balance(thisNanos, half.nanos());
                takeTwinCounts();
            }
            if (split) {
                half.start(b, mid + 1, last + 1, turn);
            }
            turnStart = System.nanoTime();
            if (pending) {
                half.deliver(turn ^ 1, sink);
                addTwinCounts();
            }
            p = parseLines(b, p, split ? mid + 1 : end, sink);
            if (split) {
                splits++;
                p = last + 1;
            }
            pending = split;
            if (p == 0 && end == b.length && !discarding) {
                // a line longer than the whole buffer: a long comment is still a comment
                if (isCommentStart(b, 0, end)) {
                    ignored();
                } else {
                    malformed();
                }
                discarding = true;
                p = end;
            }
            prev = b;
            carryFrom = p;
            carryTo = end;
        }
    }

    /** Waits for the other thread's part of the last buffer (that of {@code turn}), if any, and hands it to the sink. */
    private void handOver(SecondHalf half, boolean pending, int turn, AccessSink sink) {
        if (pending) {
            half.await();
            takeTwinCounts();
            half.deliver(turn, sink);
            addTwinCounts();
        }
    }

    /** The twin's counts of the part it just parsed: lines, records, ignored, malformed, first malformed. */
    private final long[] twinCounts = new long[5];

    /** Takes (and zeroes) the twin's counts before it starts on the next part. */
    private void takeTwinCounts() {
        TraceReader t = twin;
        long[] c = twinCounts;
        c[0] = t.lines;
        c[1] = t.records;
        c[2] = t.ignored;
        c[3] = t.malformed;
        c[4] = t.firstMalformedLine;
        t.lines = t.records = t.ignored = t.malformed = t.firstMalformedLine = 0;
    }

    /** Adds the taken counts after the lines counted so far: the first malformed line is numbered from them. */
    private void addTwinCounts() {
        long[] c = twinCounts;
        if (malformed == 0 && c[3] != 0) {
            firstMalformedLine = lines + c[4];
        }
        lines += c[0];
        records += c[1];
        ignored += c[2];
        malformed += c[3];
    }

    /**
     * Moves the split point so that both threads take the same time a turn: this thread also
     * hands every access to the sink (the replay's work) and reads the file, so it parses less
     * than half. Each turn nudges the share by at most 5% of the bytes; it stays within [0.1, 0.9].
     */
    private void balance(long thisNanos, long otherNanos) {
        double total = thisNanos + otherNanos;
        if (total > 0) {
            firstShare = Math.min(0.9, Math.max(0.1, firstShare + 0.05 * (otherNanos - thisNanos) / total));
        }
    }

    /** Fraction of a buffer's complete lines (in bytes) this thread parses (moved by {@link #balance}). */
    private double firstShare = 0.4;

    /** Index of the last {@code '\n'} in {@code b[from, limit)}, or -1. */
    private static int lastNewline(byte[] b, int from, int limit) {
        for (int i = limit - 1; i >= from; i--) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /**
     * Parses the complete lines of {@code b} from {@code p} until the first that does not end
     * before {@code limit}, and returns where that one starts. Both threads of a two-thread
     * replay parse through here (the second with the twin), so HotSpot compiles one loop for both.
     */
    final int parseLines(byte[] b, int p, int limit, AccessSink sink) {
        for (int nl; (nl = parseLine(b, p, limit, sink)) >= 0; p = nl + 1) {
            // parseLine counted the line and fed its accesses to the sink
        }
        return p;
    }

    /** The input ended without a newline: parse what is left as a line of its own. */
    private void lastLine(byte[] b, int start, int end, AccessSink sink) {
        if (end == b.length) {
            malformed();
            return;
        }
        b[end] = '\n';
        if (parseLine(b, start, end + 1, sink) < 0) {
            throw new IllegalStateException("a terminated line was reported incomplete");
        }
    }

    /**
     * Parses the line starting at {@code from}, if it is complete within {@code b[from, limit)}:
     * counts it with {@link #record()}, {@link #ignored()} or {@link #malformed()}, feeds its
     * accesses to {@code sink}, and returns the index of its {@code '\n'}. Returns -1, having
     * counted and called nothing, when no newline comes before {@code limit}; the line is parsed
     * again once more input is in. A record must be fully validated, up to its newline, before
     * the first call to the sink, so that a malformed line never reaches it.
     */
    protected abstract int parseLine(byte[] b, int from, int limit, AccessSink sink);

    /**
     * Whether the line starting at {@code from} is a comment (or banner) whatever follows, so that
     * one longer than the buffer is counted as ignored rather than malformed.
     */
    protected abstract boolean isCommentStart(byte[] b, int from, int limit);

    /** Index of the first {@code '\n'} at or after {@code from}, or -1. */
    protected static int endOfLine(byte[] b, int from, int limit) {
        for (int i = from; i < limit; i++) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    /** Counts a malformed line ending at its newline (or -1 if that is not read yet); returns endOfLine. */
    protected final int malformedLine(byte[] b, int from, int limit) {
        int nl = endOfLine(b, from, limit);
        if (nl >= 0) {
            malformed();
        }
        return nl;
    }

    /** Counts an ignored line ending at its newline (or -1 if that is not read yet); returns endOfLine. */
    protected final int ignoredLine(byte[] b, int from, int limit) {
        int nl = endOfLine(b, from, limit);
        if (nl >= 0) {
            ignored();
        }
        return nl;
    }

    protected final void record() {
        lines++;
        records++;
    }

    protected final void ignored() {
        lines++;
        ignored++;
    }

    protected final void malformed() {
        lines++;
        if (malformed++ == 0) {
            firstMalformedLine = lines;
        }
    }

    // ---- helpers for the formats ---------------------------------------------------------

    /** Position of the first byte at or after {@code i} that is neither a space nor a tab (or {@code limit}). */
    protected static int skipBlanks(byte[] b, int i, int limit) {
        while (i < limit && (b[i] == ' ' || b[i] == '\t')) {
            i++;
        }
        return i;
    }

    /** As {@link #skipBlanks}, also skipping a carriage return (before the newline of a CRLF line). */
    protected static int skipTrailing(byte[] b, int i, int limit) {
        while (i < limit && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r')) {
            i++;
        }
        return i;
    }

    /** Value of the hex digit {@code c}, or -1. */
    /**
     * Parses a decimal access size at {@code b[i..]} and the blanks (and CR) after it. Returns
     * {@code end << 32 | size}: {@code end} is the index of the first byte after them ({@code limit}
     * when the line is not complete in the buffer yet), {@code size} is 0 when there is no digit,
     * the value is 0, or it is above {@link #MAX_ACCESS_SIZE} (digits stop being read there, so
     * {@code end} then stops at a digit and the caller finds the line malformed).
     */
    protected static long sizeAndEnd(byte[] b, int i, int limit) {
        int size = 0;
        int digits = 0;
        for (; i < limit && b[i] >= '0' && b[i] <= '9' && size <= MAX_ACCESS_SIZE; i++) {
            size = size * 10 + (b[i] - '0');
            digits++;
        }
        if (digits == 0 || size > MAX_ACCESS_SIZE) {
            size = 0;
        }
        return (long) skipTrailing(b, i, limit) << 32 | size;
    }

    protected static int hexDigit(byte c) {
        return HEX[c & 0xFF];
    }

    // ---- control and counts -----------------------------------------------------------------

    /** Ends {@link #replay} at its next buffer refill; safe from any thread (a signal handler, a timer). */
    public void requestStop() {
        stopRequested = true;
    }

    /** Whether the last replay ended early because of {@link #requestStop()} or an interrupt. */
    public boolean interrupted() {
        return interrupted;
    }

    /** Lines read (records, ignored and malformed ones). */
    public long lines() {
        return lines;
    }

    /** Lines that were memory accesses (a lackey {@code M} line is one record, two accesses). */
    public long records() {
        return records;
    }

    /** Comments, blank lines and (lackey) valgrind banner lines. */
    public long ignoredLines() {
        return ignored;
    }

    /** Lines that were not valid in the format; their accesses were not replayed. */
    public long skippedLines() {
        return malformed;
    }

    /** Number (from 1) of the first malformed line, or 0 if none. */
    public long firstSkippedLine() {
        return firstMalformedLine;
    }

    /** Bytes read from the input so far; may be read from another thread (progress display). */
    public long bytesRead() {
        return bytesRead;
    }
}
