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
                    lastLine(b, start, end, sink);
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
                int nl = endOfLine(b, p, end);
                if (nl < 0) {
                    start = end;
                    continue;
                }
                discarding = false;
                p = nl + 1;
            }
            for (int nl; (nl = parseLine(b, p, end, sink)) >= 0; p = nl + 1) {
                // parseLine counted the line and fed its accesses to the sink
            }
            start = p;
            if (start == 0 && end == b.length) {
                // a line longer than the whole buffer: a long comment is still a comment
                if (isCommentStart(b, 0, end)) {
                    ignored();
                } else {
                    malformed();
                }
                discarding = true;
                start = end;
            }
        }
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
