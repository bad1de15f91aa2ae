package ptlab.trace;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TraceReaderTest {

    record Access(int kind, long address, int size) {
    }

    record Parsed(List<Access> accesses, long lines, long records, long ignored, long skipped, long firstSkipped) {
    }

    /**
     * Parses {@code text} on one thread and on two ({@link SecondHalf}), which must give the same
     * accesses in the same order and the same counts: every test here checks both.
     */
    static Parsed parse(TraceFormat format, byte[] text, int bufferBytes) throws IOException {
        Parsed one = parse(format, text, bufferBytes, 1);
        Parsed two = parse(format, text, bufferBytes, 2);
        assertEquals(one.accesses().size(), two.accesses().size(), "accesses parsed on two threads");
        assertEquals(one, two, "parsed on two threads");
        return one;
    }

    static Parsed parse(TraceFormat format, byte[] text, int bufferBytes, int threads) throws IOException {
        TraceReader r = format.reader(Channels.newChannel(new ByteArrayInputStream(text)), bufferBytes, threads);
        List<Access> list = new ArrayList<>();
        Thread caller = Thread.currentThread();
        assertTrue(r.replay((k, a, s) -> {
            assertTrue(Thread.currentThread() == caller, "the sink is called on the replaying thread only");
            list.add(new Access(k, a, s));
        }));
        assertEquals(text.length, r.bytesRead());
        assertEquals(r.lines(), r.records() + r.ignoredLines() + r.skippedLines());
        if (threads == 2 && r.lines() >= 8 && bufferBytes >= 4096) {
            assertTrue(r.splits() > 0, r.lines() + " lines parsed on two threads without one split");
        }
        return new Parsed(list, r.lines(), r.records(), r.ignoredLines(), r.skippedLines(), r.firstSkippedLine());
    }

    static Parsed parse(TraceFormat format, String text) throws IOException {
        return parse(format, text.getBytes(StandardCharsets.US_ASCII), TraceReader.DEFAULT_BUFFER_BYTES);
    }

    static final String LACKEY = """
            ==4242== Lackey, an example Valgrind tool
            ==4242==\s
            I  0023C790,2
             L 0421C7F0,4
             S 1fff000778,8
             M 0421C7F0,4

            I  FFFFFFFFFFFFFFF0,16
            """;

    @Test
    void lackeyRecordsBannerAndBlankLines() throws IOException {
        Parsed p = parse(TraceFormat.LACKEY, LACKEY);
        assertEquals(8, p.lines());
        assertEquals(5, p.records());
        assertEquals(3, p.ignored());
        assertEquals(0, p.skipped());
        assertEquals(0, p.firstSkipped());
        assertEquals(List.of(
                new Access(TraceReader.FETCH, 0x23C790L, 2),
                new Access(TraceReader.READ, 0x421C7F0L, 4),
                new Access(TraceReader.WRITE, 0x1fff000778L, 8),
                new Access(TraceReader.READ, 0x421C7F0L, 4),      // M = load ...
                new Access(TraceReader.WRITE, 0x421C7F0L, 4),     // ... then store
                new Access(TraceReader.FETCH, 0xFFFFFFFFFFFFFFF0L, 16)), p.accesses());
    }

    @Test
    void lackeyMalformedLinesAreCountedWithTheFirstNumber() throws IOException {
        String text = String.join("\n",
                "I  00001000,4",          // 1 ok
                "I  00001000",            // 2 no size
                "X  00001000,4",          // 3 unknown op
                " L 0000100G,4",          // 4 bad hex
                " L 00001000,0",          // 5 size 0
                "I00001000,4",            // 6 op glued to the address
                " L 11112222333344445,4", // 7 17 hex digits
                " L 00001000,4x",         // 8 junk after the size
                "= not a banner",         // 9
                " S 00002000,8 ",         // 10 ok, trailing blank
                " L 00001000,99999999",   // 11 larger than MAX_ACCESS_SIZE
                "I  00003000,1\r",        // 12 ok, CRLF
                "");
        Parsed p = parse(TraceFormat.LACKEY, text);
        assertEquals(12, p.lines());
        assertEquals(3, p.records());
        assertEquals(9, p.skipped());
        assertEquals(2, p.firstSkipped());
        assertEquals(List.of(new Access(TraceReader.FETCH, 0x1000, 4), new Access(TraceReader.WRITE, 0x2000, 8),
                new Access(TraceReader.FETCH, 0x3000, 1)), p.accesses());
    }

    @Test
    void lastLineWithoutNewline() throws IOException {
        Parsed p = parse(TraceFormat.LACKEY, "I  00001000,4\n L 00002000,8");
        assertEquals(2, p.records());
        assertEquals(new Access(TraceReader.READ, 0x2000, 8), p.accesses().get(1));
        Parsed q = parse(TraceFormat.PLAIN, "R 0x10\nW 0x20 4");
        assertEquals(List.of(new Access(TraceReader.READ, 0x10, 1), new Access(TraceReader.WRITE, 0x20, 4)),
                q.accesses());
        Parsed empty = parse(TraceFormat.PLAIN, "");
        assertEquals(0, empty.lines());
    }

    @Test
    void plainFormat() throws IOException {
        String text = """
                # a comment
                R 0x7ffc1000
                W 0x601040 8
                  x 0X401000 4   # trailing comment

                w 0x10#glued comment
                R 0x10 3#glued comment after the size
                R 100
                Q 0x10
                R 0x
                R 0x10 0
                R 0x10 4 5
                R0x10
                """;
        Parsed p = parse(TraceFormat.PLAIN, text);
        assertEquals(13, p.lines());
        assertEquals(5, p.records());
        assertEquals(2, p.ignored());
        assertEquals(6, p.skipped());
        assertEquals(8, p.firstSkipped());
        assertEquals(List.of(
                new Access(TraceReader.READ, 0x7ffc1000L, 1),
                new Access(TraceReader.WRITE, 0x601040L, 8),
                new Access(TraceReader.FETCH, 0x401000L, 4),
                new Access(TraceReader.WRITE, 0x10, 1),
                new Access(TraceReader.READ, 0x10, 3)), p.accesses());
    }

    /** Every buffer size splits lines at different places; the result must not change. */
    @ParameterizedTest
    @ValueSource(ints = {80, 81, 97, 100, 128, 333, 4096})
    void bufferBoundariesDoNotMatter(int bufferBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TraceGenerator.generate(out, TraceFormat.LACKEY, TraceGenerator.Layout.X86_64, 3000, 7);
        String text = out.toString(StandardCharsets.US_ASCII) + "junk line\r\n I  1,1\n";
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        Parsed big = parse(TraceFormat.LACKEY, bytes, TraceReader.DEFAULT_BUFFER_BYTES);
        Parsed small = parse(TraceFormat.LACKEY, bytes, bufferBytes);
        assertEquals(big.accesses().size(), small.accesses().size());
        assertTrue(big.accesses().equals(small.accesses()));
        assertEquals(3002, small.lines());
        assertEquals(2996, small.records());
        assertEquals(5, small.ignored());
        assertEquals(1, small.skipped());
        assertEquals(3001, small.firstSkipped());
    }

    @Test
    void aLineLongerThanTheBufferIsOneMalformedLine() throws IOException {
        String text = "I  00001000,4\n L " + "0".repeat(500) + ",4\n S 00002000,8\n==1== " + "x".repeat(300)
                + "\n" + "#".repeat(300);
        Parsed p = parse(TraceFormat.LACKEY, text.getBytes(StandardCharsets.US_ASCII), 128);
        assertEquals(5, p.lines());
        assertEquals(2, p.records());
        assertEquals(1, p.ignored());      // a long banner line is still a banner line
        assertEquals(2, p.skipped());
        assertEquals(2, p.firstSkipped());
        assertEquals(new Access(TraceReader.WRITE, 0x2000, 8), p.accesses().get(1));
        Parsed q = parse(TraceFormat.PLAIN, ("# " + "c".repeat(1000) + "\nR 0x1 2\n").getBytes(StandardCharsets.US_ASCII), 64);
        assertEquals(2, q.lines());
        assertEquals(1, q.ignored());
        assertEquals(List.of(new Access(TraceReader.READ, 1, 2)), q.accesses());
    }

    /** A real valgrind log (the first 12,000 lines of `ls /` under lackey, and its closing banner). */
    @Test
    void realValgrindLackeyTrace() throws IOException {
        byte[] bytes;
        try (InputStream in = getClass().getResourceAsStream("/ptlab/trace/ls-lackey.trace")) {
            bytes = in.readAllBytes();
        }
        Parsed p = parse(TraceFormat.LACKEY, bytes, TraceReader.DEFAULT_BUFFER_BYTES);
        // independent reading of the same text with a regex, one String per line
        Pattern line = Pattern.compile("^(I | [LSM]) ([0-9a-fA-F]+),([0-9]+)$");
        List<Access> expected = new ArrayList<>();
        long banner = 0;
        for (String l : new String(bytes, StandardCharsets.US_ASCII).split("\n")) {
            if (l.startsWith("==")) {
                banner++;
                continue;
            }
            Matcher m = line.matcher(l);
            assertTrue(m.matches(), l);
            long a = Long.parseUnsignedLong(m.group(2), 16);
            int s = Integer.parseInt(m.group(3));
            switch (m.group(1).trim()) {
                case "I" -> expected.add(new Access(TraceReader.FETCH, a, s));
                case "L" -> expected.add(new Access(TraceReader.READ, a, s));
                case "S" -> expected.add(new Access(TraceReader.WRITE, a, s));
                default -> {
                    expected.add(new Access(TraceReader.READ, a, s));
                    expected.add(new Access(TraceReader.WRITE, a, s));
                }
            }
        }
        assertEquals(18, banner);
        assertEquals(0, p.skipped());
        assertEquals(banner, p.ignored());
        assertEquals(expected, p.accesses());
    }

    @Test
    void generatorIsDeterministicExactAndWellFormed() throws IOException {
        for (TraceFormat f : TraceFormat.values()) {
            for (TraceGenerator.Layout layout : List.of(TraceGenerator.Layout.X86_64, TraceGenerator.Layout.X86_32)) {
                ByteArrayOutputStream a = new ByteArrayOutputStream();
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                ByteArrayOutputStream c = new ByteArrayOutputStream();
                TraceGenerator.generate(a, f, layout, 20_000, 42);
                TraceGenerator.generate(b, f, layout, 20_000, 42);
                TraceGenerator.generate(c, f, layout, 20_000, 43);
                assertArrayEquals(a.toByteArray(), b.toByteArray());
                assertFalse(java.util.Arrays.equals(a.toByteArray(), c.toByteArray()));
                Parsed p = parse(f, a.toByteArray(), 4096);
                assertEquals(20_000, p.lines());
                assertEquals(0, p.skipped());
                assertEquals(f == TraceFormat.LACKEY ? 5 : 0, p.ignored());
                long limit = layout == TraceGenerator.Layout.X86_32 ? 1L << 32 : 1L << 47;
                assertTrue(p.accesses().stream().allMatch(x -> x.address() >= 0 && x.address() + x.size() <= limit));
                assertTrue(p.accesses().stream().anyMatch(x -> (x.address() & 4095) + x.size() > 4096),
                        "some accesses cross a page boundary");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void requestStopEndsAtTheNextRefill(int threads) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TraceGenerator.generate(out, TraceFormat.PLAIN, TraceGenerator.Layout.X86_64, 10_000, 1);
        TraceReader r = TraceFormat.PLAIN.reader(Channels.newChannel(new ByteArrayInputStream(out.toByteArray())), 4096,
                threads);
        long[] seen = new long[1];
        boolean complete = r.replay((k, a, s) -> {
            if (++seen[0] == 100) {
                r.requestStop();
            }
        });
        assertFalse(complete);
        assertTrue(r.interrupted());
        assertTrue(r.lines() < 10_000 && r.lines() >= 100, "stopped after " + r.lines());
        assertEquals(r.records(), seen[0]);
    }

    /**
     * Two threads, line by line: malformed, ignored and CRLF lines anywhere (the first malformed
     * one numbered across the split), every buffer size from tiny to whole, both formats.
     */
    @Test
    void twoThreadsParseExactlyAsOne() throws IOException {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(15);
        for (TraceFormat f : TraceFormat.values()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            TraceGenerator.generate(out, f, TraceGenerator.Layout.X86_64, 5_000, 3);
            String[] lines = out.toString(StandardCharsets.US_ASCII).split("\n");
            for (int round = 0; round < 6; round++) {
                StringBuilder sb = new StringBuilder();
                for (String l : lines) {
                    int x = rnd.nextInt(400);
                    sb.append(x == 0 ? "bad line" : x == 1 ? "" : x == 2 ? l + "\r" : l).append('\n');
                    if (x == 3) {
                        sb.append(f == TraceFormat.LACKEY ? "==1== note\n" : "# note\n");
                    }
                }
                byte[] text = sb.toString().getBytes(StandardCharsets.US_ASCII);
                Parsed whole = parse(f, text, text.length + 64);
                assertTrue(whole.skipped() > 0 && whole.firstSkipped() > 1, "the text has malformed lines: " + whole);
                for (int buffer : new int[] {64 + rnd.nextInt(64), 700 + rnd.nextInt(300), 4096, 1 << 16}) {
                    assertEquals(whole, parse(f, text, buffer), f + " with a buffer of " + buffer);
                }
            }
        }
    }

    /** A sink that throws, in the first or the second part of a split: the replay throws it, the parsing thread ends. */
    @Test
    void aFailingSinkEndsTheTwoThreadReplay() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TraceGenerator.generate(out, TraceFormat.LACKEY, TraceGenerator.Layout.X86_64, 20_000, 5);
        byte[] text = out.toByteArray();
        for (int failAt : new int[] {10, 1_000, 9_000, 19_000}) {
            TraceReader r = TraceFormat.LACKEY.reader(Channels.newChannel(new ByteArrayInputStream(text)), 1 << 16, 2);
            long[] seen = new long[1];
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> r.replay((k, a, s) -> {
                        if (++seen[0] == failAt) {
                            throw new IllegalStateException("sink failed at " + failAt);
                        }
                    }));
            assertEquals("sink failed at " + failAt, e.getMessage());
            assertEquals(failAt, seen[0]);
        }
        assertEquals(0, parsingThreads(), "a parsing thread outlived its replay");
    }

    private static long parsingThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("ptlab-parse")).count();
    }
}
