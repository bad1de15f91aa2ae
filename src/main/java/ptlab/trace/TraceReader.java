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

    /** What {@link #parseLine} found. */
    protected static final int RECORD = 0;
    protected static final int IGNORED = 1;
    protected static final int MALFORMED = 2;

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
        byte[] b = buf;
        int start = 0;
        int end = 0;
        boolean discarding = false;   // inside a line longer than the buffer, already counted
        while (true) {
            if (stopRequested || Thread.currentThread().isInterrupted()) {
                interrupted = true;
                return false;
            }
            if (start > 0) {
                System.arraycopy(b, start, b, 0, end - start);
                end -= start;
                start = 0;
            }
            window.limit(b.length).position(end);
            int n;
            try {
                n = in.read(window);
            } catch (ClosedByInterruptException e) {
                interrupted = true;
                return false;
            }
            if (n < 0) {
                if (end > start && !discarding) {
                    line(b, start, end, sink);   // last line without a newline
                }
                return true;
            }
            end += n;
            bytesRead += n;
            if (onRefill != null) {
                onRefill.accept(bytesRead);
            }
            int p = start;
            if (discarding) {
                int nl = indexOfNewline(b, p, end);
                if (nl < 0) {
                    start = end;
                    continue;
                }
                discarding = false;
                p = nl + 1;
            }
            for (int nl; (nl = indexOfNewline(b, p, end)) >= 0; p = nl + 1) {
                line(b, p, nl, sink);
            }
            start = p;
            if (start == 0 && end == b.length) {
                lines++;
                malformed(lines);
                discarding = true;
                start = end;
            }
        }
    }

    private static int indexOfNewline(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    private void line(byte[] b, int from, int to, AccessSink sink) {
        lines++;
        if (to > from && b[to - 1] == '\r') {
            to--;
        }
        int r = parseLine(b, from, to, sink);
        if (r == RECORD) {
            records++;
        } else if (r == IGNORED) {
            ignored++;
        } else {
            malformed(lines);
        }
    }

    private void malformed(long lineNumber) {
        if (malformed++ == 0) {
            firstMalformedLine = lineNumber;
        }
    }

    /**
     * Classifies the line {@code b[from, to)} (without its newline or carriage return) and, for a
     * record, calls {@code sink} once per access. A record must be fully validated before the first
     * call, so that a malformed line never reaches the sink.
     *
     * @return {@link #RECORD}, {@link #IGNORED} or {@link #MALFORMED}
     */
    protected abstract int parseLine(byte[] b, int from, int to, AccessSink sink);

    // ---- helpers for the formats ---------------------------------------------------------

    /** Position of the first byte at or after {@code i} that is neither a space nor a tab. */
    protected static int skipBlanks(byte[] b, int i, int to) {
        while (i < to && (b[i] == ' ' || b[i] == '\t')) {
            i++;
        }
        return i;
    }

    /** Value of the hex digit {@code c}, or -1. */
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
