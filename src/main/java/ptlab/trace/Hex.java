package ptlab.trace;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Hex addresses read eight ASCII digits at a time (SWAR: SIMD within a register), because
 * digit-by-digit parsing was the largest single cost of replaying a lackey trace. A 64-bit load
 * of the bytes (little-endian: the first digit in the lowest byte) is turned into eight nibbles,
 * checked, and packed, with a handful of shifts and masks and no branch per digit.
 */
final class Hex {

    /** Returned by {@link #parse} when a byte is not a hex digit (check with {@link #valid}: it is also a value). */
    static final long INVALID = -1L;

    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101_0101_0101_0101L;
    private static final long HIGHS = 0x8080_8080_8080_8080L;

    private Hex() {
    }

    /**
     * Number of bytes before the first ',' among {@code b[at, at+16)}, or -1 if there is none.
     * Needs 16 readable bytes.
     */
    static int commaWithin16(byte[] b, int at) {
        int n = firstByte((long) LONG_LE.get(b, at), ',');
        if (n < 8) {
            return n;
        }
        n = firstByte((long) LONG_LE.get(b, at + 8), ',');
        return n < 8 ? 8 + n : -1;
    }

    /** Index (0..7) of the first byte of {@code w} equal to {@code c}, or 8. */
    private static int firstByte(long w, char c) {
        long x = w ^ (ONES * c);
        // the classic "has a zero byte": exact for the lowest zero byte, which is all we need
        long t = (x - ONES) & ~x & HIGHS;
        return Long.numberOfTrailingZeros(t) >>> 3;
    }

    /**
     * The value of the {@code n} (1..16) hex digits at {@code b[at, at+n)}, either case; needs
     * 16 readable bytes. {@link #INVALID} if one of them is not a hex digit.
     */
    static long parse(byte[] b, int at, int n) {
        if (n <= 8) {
            return digits((long) LONG_LE.get(b, at), n);
        }
        long high = digits((long) LONG_LE.get(b, at), 8);
        long low = digits((long) LONG_LE.get(b, at + 8), n - 8);
        if (high < 0 || low < 0) {
            return INVALID;
        }
        return high << (4 * (n - 8)) | low;
    }

    /** The first {@code n} (1..8) bytes of {@code w} as hex digits, or -1. */
    private static long digits(long w, int n) {
        long keep = n == 8 ? -1L : (1L << (8 * n)) - 1;
        long l = (w | 0x2020_2020_2020_2020L) & keep;          // lower case; digits already have bit 5
        long letter = (l >>> 6) & ONES & keep;                   // 1 in lanes holding a letter (bit 6)
        long v = (l & 0x0F0F_0F0F_0F0F_0F0FL) + letter * 9;      // nibble value per lane: at most 24
        // valid: high nibble 3 with v <= 9, or high nibble 6 with 10 <= v <= 15
        long high = l & 0xF0F0_F0F0_F0F0_F0F0L;
        long expectHigh = (0x3030_3030_3030_3030L + letter * 0x30) & keep;
        long atLeast10 = (v + 0x7676_7676_7676_7676L) & HIGHS;  // lanes with v >= 10 (no carry out: v <= 24)
        long atLeast16 = (v + 0x7070_7070_7070_7070L) & HIGHS;  // lanes with v >= 16
        long isLetter = (letter << 7);
        // lower-casing made bytes 0x10..0x19 look like digits: a real digit or letter has bit 5 or 6
        long sixOrFive = (w | (w << 1)) & 0x4040_4040_4040_4040L & keep;
        if (high != expectHigh || ((atLeast10 ^ isLetter) & (keep & HIGHS)) != 0 || (atLeast16 & keep) != 0
                || sixOrFive != (0x4040_4040_4040_4040L & keep)) {
            return -1;
        }
        // pack: lane k holds digit k (k = 0 most significant)
        long pairs = ((v << 4) | (v >>> 8)) & 0x00FF_00FF_00FF_00FFL;
        long quads = ((pairs << 8) | (pairs >>> 16)) & 0x0000_FFFF_0000_FFFFL;
        long value = (quads & 0xFFFF) << 16 | (quads >>> 32);
        return value >>> (4 * (8 - n));
    }

    /** Whether {@code b[at, at+n)} are all hex digits (to tell a real all-ones value from INVALID). */
    static boolean valid(byte[] b, int at, int n) {
        for (int i = at; i < at + n; i++) {
            if (TraceReader.hexDigit(b[i]) < 0) {
                return false;
            }
        }
        return true;
    }
}
