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
    protected int parseLine(byte[] b, int from, int limit, AccessSink sink) {
        int i = skipTrailing(b, from, limit);
        if (i == limit) {
            return -1;
        }
        if (b[i] == '\n') {
            ignored();
            return i;
        }
        if (b[i] == '#') {
            return ignoredLine(b, i, limit);
        }
        int kind = switch (b[i]) {
            case 'R', 'r' -> READ;
            case 'W', 'w' -> WRITE;
            case 'X', 'x' -> FETCH;
            default -> -1;
        };
        int afterOp = ++i;
        i = skipBlanks(b, i, limit);
        if (i + 2 > limit) {
            return malformedLine(b, i, limit);           // -1 until its newline is read
        }
        if (kind < 0 || i == afterOp || b[i] != '0' || (b[i + 1] != 'x' && b[i + 1] != 'X')) {
            return malformedLine(b, i, limit);
        }
        i += 2;
        long address = 0;
        int digits = 0;
        for (int d; i < limit && (d = hexDigit(b[i])) >= 0; i++) {
            address = address << 4 | d;
            digits++;
        }
        int afterAddress = i;
        i = skipTrailing(b, i, limit);
        if (i == limit) {
            return -1;
        }
        if (digits == 0 || digits > 16) {
            return malformedLine(b, i, limit);
        }
        int size = 1;
        if (b[i] != '\n' && b[i] != '#') {
            if (i == afterAddress) {
                return malformedLine(b, i, limit);       // "0x10z"
            }
            long sizeAndEnd = sizeAndEnd(b, i, limit);
            size = (int) sizeAndEnd;
            i = (int) (sizeAndEnd >>> 32);
            if (i == limit) {
                return -1;
            }
            if (size == 0 || (b[i] != '\n' && b[i] != '#')) {
                return malformedLine(b, i, limit);
            }
        }
        int nl = b[i] == '\n' ? i : endOfLine(b, i, limit);   // skip a trailing comment
        if (nl < 0) {
            return -1;
        }
        sink.access(kind, address, size);
        record();
        return nl;
    }

    @Override
    protected boolean isCommentStart(byte[] b, int from, int limit) {
        int i = skipBlanks(b, from, limit);
        return i < limit && b[i] == '#';
    }
}
