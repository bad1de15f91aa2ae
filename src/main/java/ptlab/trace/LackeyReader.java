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
    protected int parseLine(byte[] b, int from, int to, AccessSink sink) {
        int i = skipBlanks(b, from, to);
        if (i == to) {
            return IGNORED;
        }
        byte op = b[i];
        if (op == '=' && i + 1 < to && b[i + 1] == '=') {
            return IGNORED;
        }
        i++;
        int afterOp = i;
        i = skipBlanks(b, i, to);
        if (i == afterOp) {
            return MALFORMED;   // "I0023C790,2": the operation must stand alone
        }
        long address = 0;
        int digits = 0;
        for (int d; i < to && (d = hexDigit(b[i])) >= 0; i++) {
            address = address << 4 | d;
            digits++;
        }
        if (digits == 0 || digits > 16 || i == to || b[i] != ',') {
            return MALFORMED;
        }
        i++;
        int size = 0;
        int sizeDigits = 0;
        for (; i < to && b[i] >= '0' && b[i] <= '9'; i++) {
            size = size * 10 + (b[i] - '0');
            if (size > MAX_ACCESS_SIZE) {
                return MALFORMED;
            }
            sizeDigits++;
        }
        if (sizeDigits == 0 || size == 0 || skipBlanks(b, i, to) != to) {
            return MALFORMED;
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
                return MALFORMED;
            }
        }
        return RECORD;
    }
}
