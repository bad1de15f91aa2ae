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
            byte op = b[from] == 'I' ? (byte) 'I' : b[from + 1];
            if (b[from + 2] == ' ' && (op == 'I' ? b[from + 1] == ' ' : b[from] == ' ')) {
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
        long sizeAndEnd = sizeAndEnd(b, i, limit);
        int size = (int) sizeAndEnd;
        i = (int) (sizeAndEnd >>> 32);
        if (i == limit) {
            return -1;
        }
        if (b[i] != '\n' || size == 0) {
            return malformedLine(b, i, limit);
        }
        switch (op) {
            case 'I' -> sink.access(FETCH, address, size);
            case 'L' -> sink.access(READ, address, size);
            case 'S' -> sink.access(WRITE, address, size);
            case 'M' -> {
                sink.access(READ, address, size);
                sink.access(WRITE, address, size);
            }
            default -> {
                malformed();
                return i;
            }
        }
        record();
        return i;
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
