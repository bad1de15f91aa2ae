package ptlab.trace;

import java.nio.channels.ReadableByteChannel;

/**
 * Reads the output of {@code valgrind --tool=lackey --trace-mem=yes}:
 *
 * <pre>
 *   ==12345== Lackey, an example Valgrind tool       banner: ignored (not malformed)
 *   I  0023C790,2                                    instruction fetch of 2 bytes
 *    L 0421C7F0,4                                    load
 *    S 0421C7F0,4                                    store
 *    M 0421C7F0,4                                    modify: a load then a store
 * </pre>
 *
 * Addresses are hex without {@code 0x} (8 digits, more on 64-bit hosts); sizes decimal.
 * Leading and trailing blanks are tolerated and blank lines ignored; anything else is malformed.
 */
final class LackeyReader extends TraceReader {

    LackeyReader(ReadableByteChannel in, int bufferBytes) {
        super(in, bufferBytes);
    }

    @Override
    protected int parseLine(byte[] b, int from, int limit, AccessSink sink) {
        // Fast path for the exact layout valgrind writes ("I  " or " L "/" S "/" M " then at most 16
        // hex digits and a comma), when 20 bytes can be read without reaching the limit.
        if (from + 20 <= limit) {
            // "I  " or " X ": the operation is the first byte if the second is blank, else the
            // second (and the first must be blank). Selected, not branched on: the mix of
            // instruction and data lines is irregular, and a branch on it mispredicted often.
            byte c0 = b[from], c1 = b[from + 1];
            byte op = c1 == ' ' ? c0 : c1;
            byte blankOrI = c1 == ' ' ? (byte) 'I' : (byte) ' ';
            if (b[from + 2] == ' ' & c0 == blankOrI) {
                int comma = Hex.commaWithin16(b, from + 3);
                if (comma > 0) {
                    long address = Hex.parse(b, from + 3, comma);
                    if (address != Hex.INVALID || Hex.valid(b, from + 3, comma)) {
                        return afterAddress(b, from + 3 + comma + 1, limit, op, address, sink);
                    }
                }
            }
        }
        return parseGeneral(b, from, limit, sink);
    }

    /** Any layout: blanks around the operation, digits checked one by one. */
    private int parseGeneral(byte[] b, int from, int limit, AccessSink sink) {
        int i = skipBlanks(b, from, limit);
        if (i == limit) {
            return -1;
        }
        byte op = b[i];
        if (op == '\n' || op == '\r') {
            return blankOrMalformed(b, i, limit);
        }
        if (op == '=') {
            return i + 1 < limit && b[i + 1] == '=' ? ignoredLine(b, i, limit) : malformedLine(b, i, limit);
        }
        int afterOp = ++i;
        i = skipBlanks(b, i, limit);
        long address = 0;
        int digits = 0;
        for (int d; i < limit && (d = hexDigit(b[i])) >= 0; i++) {
            address = address << 4 | d;
            digits++;
        }
        if (i == limit) {
            return -1;
        }
        if (afterOp == i - digits || digits == 0 || digits > 16 || b[i] != ',') {
            return malformedLine(b, i, limit);     // e.g. "I0023C790,2": the operation must stand alone
        }
        return afterAddress(b, i + 1, limit, op, address, sink);
    }

    /** Parses ",SIZE" onward ({@code i} just after the comma) and hands the access to the sink. */
    private int afterAddress(byte[] b, int i, int limit, byte op, long address, AccessSink sink) {
        if (i + 8 <= limit) {
            // Fast path: the digits and the newline in one word, as valgrind writes them.
            long digitsAndSize = Hex.sizeThenNewline(b, i, MAX_ACCESS_SIZE);
            if (digitsAndSize != Hex.NO_SIZE) {
                return deliver(i + (int) (digitsAndSize >>> 32), op, address, (int) digitsAndSize, sink);
            }
        }
        long sizeAndEnd = sizeAndEnd(b, i, limit);
        int size = (int) sizeAndEnd;
        i = (int) (sizeAndEnd >>> 32);
        if (i == limit) {
            return -1;
        }
        if (b[i] != '\n' || size == 0) {
            return malformedLine(b, i, limit);
        }
        return deliver(i, op, address, size, sink);
    }

    /** A complete record ending at the newline at {@code nl}: its accesses to the sink, the line counted. */
    private int deliver(int nl, byte op, long address, int size, AccessSink sink) {
        // A table instead of a switch: I, L and S take one indexed load and one predictable
        // branch, whatever their mix in the trace (a switch branched on each line's operation).
        int kind = KIND_OF[op & 0xFF];
        if (kind < MODIFY) {
            sink.access(kind, address, size);
        } else if (kind == MODIFY) {
            sink.access(READ, address, size);
            sink.access(WRITE, address, size);
        } else {
            malformed();
            return nl;
        }
        record();
        return nl;
    }

    /** {@link #KIND_OF} of an M line: a load, then a store. */
    private static final int MODIFY = 3;
    private static final int NOT_AN_OPERATION = 4;
    /** The access kind of an operation byte: I, L, S, M; anything else {@link #NOT_AN_OPERATION}. */
    private static final int[] KIND_OF = new int[256];

    static {
        java.util.Arrays.fill(KIND_OF, NOT_AN_OPERATION);
        KIND_OF['I'] = FETCH;
        KIND_OF['L'] = READ;
        KIND_OF['S'] = WRITE;
        KIND_OF['M'] = MODIFY;
    }

    @Override
    protected boolean isCommentStart(byte[] b, int from, int limit) {
        int i = skipBlanks(b, from, limit);
        return i + 1 < limit && b[i] == '=' && b[i + 1] == '=';
    }

    /** A line that starts blank: ignored if nothing but blanks and a CR precede its newline. */
    private int blankOrMalformed(byte[] b, int i, int limit) {
        int j = skipTrailing(b, i, limit);
        if (j == limit) {
            return -1;
        }
        if (b[j] == '\n') {
            ignored();
            return j;
        }
        return malformedLine(b, j, limit);
    }
}
