package ptlab.trace;

import java.nio.channels.ReadableByteChannel;

/** The trace formats ptlab reads, named as on the command line ({@code --trace-format}). */
public enum TraceFormat {
    /** {@code valgrind --tool=lackey --trace-mem=yes}: {@code I  0023C790,2}, {@code  L …}, {@code  S …}, {@code  M …}. */
    LACKEY("lackey"),
    /** One access a line: {@code R|W|X 0xADDR [SIZE]}, {@code #} comments. */
    PLAIN("plain");

    private final String cliName;

    TraceFormat(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    /** A reader of this format over {@code in}, with a buffer of {@code bufferBytes}. */
    public TraceReader reader(ReadableByteChannel in, int bufferBytes) {
        return this == LACKEY ? new LackeyReader(in, bufferBytes) : new PlainReader(in, bufferBytes);
    }

    /**
     * As {@link #reader(ReadableByteChannel, int)}, parsing on {@code threads} (1 or 2) threads:
     * with 2, a second reader of this format parses part of each buffer on a thread of its own
     * (the replay's accesses, their order and the counts are the same).
     */
    public TraceReader reader(ReadableByteChannel in, int bufferBytes, int threads) {
        if (threads != 1 && threads != 2) {
            throw new IllegalArgumentException("a trace is parsed on 1 or 2 threads, not " + threads);
        }
        TraceReader r = reader(in, bufferBytes);
        if (threads == 2) {
            r.parseOnTwoThreads(reader(null, 64));
        }
        return r;
    }

    public TraceReader reader(ReadableByteChannel in) {
        return reader(in, TraceReader.DEFAULT_BUFFER_BYTES);
    }

    public static TraceFormat fromCliName(String name) {
        for (TraceFormat f : values()) {
            if (f.cliName.equals(name)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown trace format '" + name + "' (expected lackey or plain)");
    }

    @Override
    public String toString() {
        return cliName;
    }
}
