package ptlab.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** The SWAR hex parser against Long.parseUnsignedLong, for every length, both cases and every byte value. */
class HexTest {

    static long reference(byte[] b, int at, int n) {
        for (int i = at; i < at + n; i++) {
            if (Character.digit(b[i], 16) < 0 || b[i] < 0) {
                return Hex.INVALID;
            }
        }
        return Long.parseUnsignedLong(new String(b, at, n, StandardCharsets.ISO_8859_1), 16);
    }

    @Test
    void matchesReferenceOnRandomDigitsAndJunk() {
        SplittableRandom rnd = new SplittableRandom(5);
        String digits = "0123456789abcdefABCDEF";
        for (int round = 0; round < 200_000; round++) {
            int n = 1 + rnd.nextInt(16);
            byte[] b = new byte[40];
            int at = rnd.nextInt(8);
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) rnd.nextInt(256);             // junk around, and after the digits
            }
            for (int i = at; i < at + n; i++) {
                b[i] = (byte) digits.charAt(rnd.nextInt(digits.length()));
            }
            if (rnd.nextInt(4) == 0) {
                b[at + rnd.nextInt(n)] = (byte) rnd.nextInt(256);   // maybe not a digit any more
            }
            long expected = reference(b, at, n);
            long got = Hex.parse(b, at, n);
            if (got == Hex.INVALID && Hex.valid(b, at, n)) {
                got = -1L;                                   // sixteen f's
            }
            assertEquals(expected, got, () -> new String(b, at, n, StandardCharsets.ISO_8859_1));
        }
    }

    @Test
    void everyByteValueInEveryPosition() {
        for (int n = 1; n <= 16; n++) {
            for (int pos = 0; pos < n; pos++) {
                for (int c = 0; c < 256; c++) {
                    byte[] b = "0123456789abcdef,,,,,,,,,,,,,,,,".getBytes(StandardCharsets.US_ASCII);
                    b[pos] = (byte) c;
                    long expected = reference(b, 0, n);
                    long got = Hex.parse(b, 0, n);
                    assertEquals(expected, got, "n=" + n + " pos=" + pos + " byte=" + c);
                }
            }
        }
    }

    @Test
    void commaPosition() {
        byte[] b = "0123456789ABCDEF0123".getBytes(StandardCharsets.US_ASCII);
        assertEquals(-1, Hex.commaWithin16(b, 0));
        for (int k = 0; k < 16; k++) {
            byte[] c = b.clone();
            c[k] = ',';
            c[Math.min(k + 2, 19)] = ',';
            assertEquals(k, Hex.commaWithin16(c, 0));
        }
    }

    /** Reference for sizeThenNewline: digits, then a newline directly, value in 1..max. */
    static long referenceSize(byte[] b, int at, int max) {
        int i = at;
        while (i < at + 8 && b[i] >= '0' && b[i] <= '9') {
            i++;
        }
        int n = i - at;
        if (n == 0 || n == 8 || b[i] != '\n') {
            return Hex.NO_SIZE;
        }
        long v = Long.parseLong(new String(b, at, n, StandardCharsets.US_ASCII));
        return v == 0 || v > max ? Hex.NO_SIZE : (long) n << 32 | v;
    }

    @Test
    void sizeThenNewlineMatchesReference() {
        SplittableRandom rnd = new SplittableRandom(15);
        String pool = "0123456789\n\r ,x/:";
        for (int round = 0; round < 300_000; round++) {
            byte[] b = new byte[12];
            for (int i = 0; i < b.length; i++) {
                b[i] = rnd.nextInt(3) == 0 ? (byte) rnd.nextInt(256) : (byte) pool.charAt(rnd.nextInt(pool.length()));
            }
            int digits = rnd.nextInt(9);                     // often a clean "digits\n"
            for (int i = 0; i < digits && rnd.nextInt(5) != 0; i++) {
                b[i] = (byte) ('0' + rnd.nextInt(10));
                if (i + 1 < b.length && rnd.nextBoolean()) {
                    b[i + 1] = '\n';
                }
            }
            int max = rnd.nextBoolean() ? TraceReader.MAX_ACCESS_SIZE : 1 + rnd.nextInt(100);
            assertEquals(referenceSize(b, 0, max), Hex.sizeThenNewline(b, 0, max),
                    () -> new String(b, StandardCharsets.ISO_8859_1) + " max " + max);
        }
    }

    @Test
    void sizeThenNewlineEdges() {
        int max = TraceReader.MAX_ACCESS_SIZE;
        assertEquals(1L << 32 | 4, Hex.sizeThenNewline(bytes("4\nxxxxxx"), 0, max));
        assertEquals(2L << 32 | 16, Hex.sizeThenNewline(bytes("16\nxxxxx"), 0, max));
        assertEquals(7L << 32 | max, Hex.sizeThenNewline(bytes("1048576\n"), 0, max));
        assertEquals(7L << 32 | 7, Hex.sizeThenNewline(bytes("0000007\n"), 0, max));
        assertEquals(Hex.NO_SIZE, Hex.sizeThenNewline(bytes("1048577\n"), 0, max));   // above the maximum
        assertEquals(Hex.NO_SIZE, Hex.sizeThenNewline(bytes("0\nxxxxxx"), 0, max));   // zero
        assertEquals(Hex.NO_SIZE, Hex.sizeThenNewline(bytes("12345678"), 0, max));     // no newline in the word
        assertEquals(Hex.NO_SIZE, Hex.sizeThenNewline(bytes("4\r\nxxxxx"), 0, max));   // CRLF: the byte loop takes it
        assertEquals(Hex.NO_SIZE, Hex.sizeThenNewline(bytes("4 \nxxxxx"), 0, max));   // a trailing blank too
        assertEquals(Hex.NO_SIZE, Hex.sizeThenNewline(bytes("\nxxxxxxx"), 0, max));   // no digit
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
