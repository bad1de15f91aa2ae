package ptlab.trace;

import java.nio.channels.ReadableByteChannel;

/**
 * Reads ptlab's plain trace format, one access a line:
 *
 * <pre>
 *   # a comment; blank lines are ignored too
 *   R 0x7ffc1000          read of 1 byte (the default size)
 *   W 0x601040 8          write of 8 bytes
 *   X 0x401000 4          instruction fetch      # a trailing comment
 * </pre>
 *
 * The operation is R, W or X (either case); the address is hex with a mandatory {@code 0x}
 * (so that {@code 100} is never silently read as hex); the size is decimal, at least 1.
 */
final class PlainReader extends TraceReader {

    PlainReader(ReadableByteChannel in, int bufferBytes) {
        super(in, bufferBytes);
    }

    @Override
    protected int parseLine(byte[] b, int from, int to, AccessSink sink) {
        int i = skipBlanks(b, from, to);
        if (i == to || b[i] == '#') {
            return IGNORED;
        }
        int kind = switch (b[i]) {
            case 'R', 'r' -> READ;
            case 'W', 'w' -> WRITE;
            case 'X', 'x' -> FETCH;
            default -> -1;
        };
        i++;
        int afterOp = i;
        i = skipBlanks(b, i, to);
        if (kind < 0 || i == afterOp || i + 2 > to || b[i] != '0' || (b[i + 1] != 'x' && b[i + 1] != 'X')) {
            return MALFORMED;
        }
        i += 2;
        long address = 0;
        int digits = 0;
        for (int d; i < to && (d = hexDigit(b[i])) >= 0; i++) {
            address = address << 4 | d;
            digits++;
        }
        if (digits == 0 || digits > 16) {
            return MALFORMED;
        }
        int afterAddress = i;
        i = skipBlanks(b, i, to);
        int size = 1;
        if (i < to && b[i] != '#') {
            if (i == afterAddress) {
                return MALFORMED;   // "0x10z"
            }
            size = 0;
            int sizeDigits = 0;
            for (; i < to && b[i] >= '0' && b[i] <= '9'; i++) {
                size = size * 10 + (b[i] - '0');
                if (size > MAX_ACCESS_SIZE) {
                    return MALFORMED;
                }
                sizeDigits++;
            }
            if (sizeDigits == 0 || size == 0) {
                return MALFORMED;
            }
            i = skipBlanks(b, i, to);
            if (i < to && b[i] != '#') {
                return MALFORMED;
            }
        }
        sink.access(kind, address, size);
        return RECORD;
    }
}
