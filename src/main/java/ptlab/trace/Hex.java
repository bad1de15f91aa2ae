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
        // Both words always: whether the comma is in the first or the second varies from line to
        // line (8- and 10-digit addresses), and a branch on it mispredicted on many lines.
        int first = firstByte((long) LONG_LE.get(b, at), ',');
        int second = firstByte((long) LONG_LE.get(b, at + 8), ',');
        int n = first < 8 ? first : 8 + second;
        return n < 16 ? n : -1;
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
        // Both words always, the second with 0..8 digits (none: value 0, valid), so that no
        // branch depends on the length, which varies from line to line.
        int n2 = Math.max(n - 8, 0);
        long high = digits((long) LONG_LE.get(b, at), n - n2);
        long low = digits((long) LONG_LE.get(b, at + 8), n2);
        if ((high | low) < 0) {
            return INVALID;
        }
        return high << (4 * n2) | low;
    }

    /** The first {@code n} (0..8) bytes of {@code w} as hex digits (0 for none), or -1. */
    private static long digits(long w, int n) {
        long keep = (1L << (4 * n) << (4 * n)) - 1;             // n lanes; two shifts so that n = 8 gives -1
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

    /** Returned by {@link #sizeThenNewline} when the bytes are not "digits, newline" with a size in 1..max. */
    static final int NO_SIZE = -1;

    /**
     * A decimal size followed directly by a newline at {@code b[at..]}, read as one 64-bit word
     * (the size of a lackey line, 1 to 7 digits): returns {@code digits << 32 | value}, or
     * {@link #NO_SIZE} for anything else (no digit, 8 or more, another byte before the newline,
     * a value of 0 or above {@code max}), which the caller then parses byte by byte. Needs 8
     * readable bytes. No branch depends on the number of digits, which varies from line to line
     * (the byte-by-byte loop mispredicted its exit on most lines).
     */
    static long sizeThenNewline(byte[] b, int at, int max) {
        long w = (long) LONG_LE.get(b, at);
        long x = w ^ (ONES * '0');                                   // a digit lane now holds 0..9
        // a lane is not a digit if its high nibble is set or its low nibble is above 9
        long notDigit = (x & 0xF0F0_F0F0_F0F0_F0F0L) | (((x & 0x0F0F_0F0F_0F0F_0F0FL) + 0x0606_0606_0606_0606L)
                & 0x1010_1010_1010_1010L);
        int n = Long.numberOfTrailingZeros(notDigit) >>> 3;          // digits before the first other byte (8: none)
        if (n == 0 || n == 8 || ((w >>> (8 * n)) & 0xFF) != '\n') {
            return NO_SIZE;
        }
        // right-align the n digits in the word (leading zero lanes), then combine lanes pairwise
        long d = (x << (8 * (8 - n))) & 0x0F0F_0F0F_0F0F_0F0FL;   // n < 8: the shift is 8..56
        d = (d * (10 * 256 + 1)) >>> 8 & 0x00FF_00FF_00FF_00FFL;
        d = (d * (100 * 65536 + 1)) >>> 16 & 0x0000_FFFF_0000_FFFFL;
        d = (d * (10000L * 65536 * 65536 + 1)) >>> 32;
        if (d == 0 || d > max) {
            return NO_SIZE;
        }
        return (long) n << 32 | d;
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
