package ptlab.trace;

import java.io.IOException;
import java.io.OutputStream;
import java.util.SplittableRandom;

/**
 * Writes a synthetic but program-shaped memory trace, a pure function of (lines, seed, layout):
 * a replay benchmark and a test input that needs no valgrind run.
 *
 * <pre>
 *   every step is one instruction fetch, followed about half the time by one data access:
 *     code   sequential fetches of 1..7 bytes; short backward loop branches; calls to
 *            functions picked with a skew (a few hot ones, a long tail), returns
 *     stack  8-byte loads/stores/modifies near a stack pointer that moves with calls
 *     stream 4 arrays walked sequentially with 16-byte accesses every 8 bytes (so some cross a page)
 *     hot    random accesses within a 128 KiB hot heap region
 *     cold   2% of data accesses: anywhere in a 256 MiB heap (TLB misses, page faults)
 * </pre>
 * Data accesses are 60% loads, 25% stores, 15% modifies (writes in the plain format). The TLB
 * miss rate with the default 64-entry TLB is a few percent, pessimistic next to real programs
 * (valgrind's trace of {@code ls} misses 0.2%), so that walks weigh in a replay benchmark. Lackey output starts with valgrind's
 * banner lines, as a real {@code valgrind --tool=lackey --trace-mem=yes} log does.
 */
public final class TraceGenerator {

    /** Where the regions sit: a 64-bit process (valgrind-like addresses) or a 32-bit one. */
    public record Layout(long code, long codeSize, long heap, long heapSize, long stackTop) {
        public static final Layout X86_64 = new Layout(0x0040_0000L, 2L << 20, 0x0400_0000_0L, 256L << 20,
                0x1FFF_0010_00L);
        public static final Layout X86_32 = new Layout(0x0804_8000L, 2L << 20, 0x4000_0000L, 256L << 20,
                0xBFFF_F000L);
    }

    private static final int FUNCTIONS = 4096;
    private static final int STREAMS = 4;
    private static final long HOT_BYTES = 128L << 10;
    private static final String[] BANNER = {
            "==4242== Lackey, an example Valgrind tool",
            "==4242== Copyright (C) 2002-2017, and GNU GPL'd, by Nicholas Nethercote.",
            "==4242== Using Valgrind-3.19.0 and LibVEX; rerun with -h for copyright info",
            "==4242== Command: ptlab-generated",
            "==4242== ",
    };

    private final OutputStream out;
    private final TraceFormat format;
    private final Layout layout;
    private final SplittableRandom rnd;
    private final byte[] buf = new byte[1 << 20];
    private int pos;

    private long pc;
    private long sp;
    private final long[] functionStart = new long[FUNCTIONS];
    private final long[] streamBase = new long[STREAMS];
    private final long[] streamSize = new long[STREAMS];
    private final long[] streamOffset = new long[STREAMS];

    private TraceGenerator(OutputStream out, TraceFormat format, Layout layout, long seed) {
        this.out = out;
        this.format = format;
        this.layout = layout;
        this.rnd = new SplittableRandom(seed);
        for (int f = 0; f < FUNCTIONS; f++) {
            // laid out in order of hotness, as a profile-guided link would: the hot ones share pages
            functionStart[f] = layout.code() + f * (layout.codeSize() / FUNCTIONS) + (rnd.nextInt(64) & ~15);
        }
        for (int s = 0; s < STREAMS; s++) {
            streamSize[s] = (256L << 10) << rnd.nextInt(6);                       // 256 KiB .. 8 MiB
            streamBase[s] = layout.heap() + HOT_BYTES + (rnd.nextLong(layout.heapSize() - HOT_BYTES - streamSize[s])
                    & ~4095L);
        }
        pc = functionStart[0];
        sp = layout.stackTop() - 4096;
    }

    /** Writes exactly {@code lines} lines (banner included for lackey) to {@code out}. */
    public static void generate(OutputStream out, TraceFormat format, Layout layout, long lines, long seed)
            throws IOException {
        new TraceGenerator(out, format, layout, seed).run(lines);
    }

    private void run(long lines) throws IOException {
        long written = 0;
        if (format == TraceFormat.LACKEY) {
            for (int i = 0; i < BANNER.length && written < lines; i++, written++) {
                for (int c = 0; c < BANNER[i].length(); c++) {
                    put((byte) BANNER[i].charAt(c));
                }
                put((byte) '\n');
            }
        }
        while (written < lines) {
            instruction();
            written++;
            if (written < lines && rnd.nextInt(100) < 45) {
                data();
                written++;
            }
        }
        out.write(buf, 0, pos);
        out.flush();
    }

    private void instruction() throws IOException {
        int size = 1 + rnd.nextInt(7);
        record(TraceReader.FETCH, pc, size);
        pc += size;
        int r = rnd.nextInt(100);
        if (r < 6) {
            pc -= 16 + rnd.nextInt(240);                        // loop back-edge
        } else if (r < 8) {
            sp -= 64 + (rnd.nextInt(8) << 4);                   // call: new frame, skewed to hot functions
            double u = rnd.nextDouble();
            pc = functionStart[(int) (FUNCTIONS * u * u * u * u)];
        } else if (r < 10 && sp < layout.stackTop() - 4096) {
            sp += 64 + (rnd.nextInt(8) << 4);                   // return
            double u = rnd.nextDouble();
            pc = functionStart[(int) (FUNCTIONS * u * u * u * u)] + rnd.nextInt(256);
        }
        if (sp < layout.stackTop() - (1 << 20)) {
            sp = layout.stackTop() - 4096;                      // keep the stack within 1 MiB
        }
    }

    private void data() throws IOException {
        int r = rnd.nextInt(100);
        int k = rnd.nextInt(100);
        int kind = k < 60 ? TraceReader.READ : k < 85 ? TraceReader.WRITE : -1;   // -1: modify
        long address;
        int size = 8;
        if (r < 40) {
            address = (sp + (rnd.nextInt(32) << 3));
        } else if (r < 70) {
            int s = rnd.nextInt(STREAMS);
            address = streamBase[s] + streamOffset[s];
            streamOffset[s] = (streamOffset[s] + 8) % (streamSize[s] - 16);
            size = 16;
        } else if (r < 98) {
            address = layout.heap() + (rnd.nextLong(HOT_BYTES) & ~7L);
        } else {
            address = layout.heap() + (rnd.nextLong(layout.heapSize()) & ~7L);
            size = 1 << rnd.nextInt(4);
        }
        record(kind, address, size);
    }

    // ---- formatting: bytes straight into the buffer ------------------------------------------

    private void record(int kind, long address, int size) throws IOException {
        if (pos > buf.length - 64) {
            out.write(buf, 0, pos);
            pos = 0;
        }
        if (format == TraceFormat.LACKEY) {
            switch (kind) {
                case TraceReader.FETCH -> { put((byte) 'I'); put((byte) ' '); }
                case TraceReader.READ -> { put((byte) ' '); put((byte) 'L'); }
                case TraceReader.WRITE -> { put((byte) ' '); put((byte) 'S'); }
                default -> { put((byte) ' '); put((byte) 'M'); }
            }
            put((byte) ' ');
            hex(address, 8);
            put((byte) ',');
        } else {
            // plain has no modify; it becomes a write, so that one step stays one line
            put((byte) (kind == TraceReader.FETCH ? 'X' : kind == TraceReader.READ ? 'R' : 'W'));
            put((byte) ' ');
            put((byte) '0');
            put((byte) 'x');
            hex(address, 1);
            put((byte) ' ');
        }
        decimal(size);
        put((byte) '\n');
    }

    private void put(byte c) throws IOException {
        if (pos == buf.length) {
            out.write(buf, 0, pos);
            pos = 0;
        }
        buf[pos++] = c;
    }

    private static final byte[] DIGITS = "0123456789ABCDEF".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private void hex(long v, int minDigits) throws IOException {
        int digits = Math.max(minDigits, (64 - Long.numberOfLeadingZeros(v) + 3) / 4);
        for (int d = digits - 1; d >= 0; d--) {
            put(DIGITS[(int) (v >>> (4 * d)) & 0xF]);
        }
    }

    private void decimal(int v) throws IOException {
        if (v >= 10) {
            decimal(v / 10);
        }
        put((byte) ('0' + v % 10));
    }
}
