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
}
