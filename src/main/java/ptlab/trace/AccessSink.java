package ptlab.trace;

/**
 * Receives the memory accesses a {@link TraceReader} decodes, one call per access, in trace
 * order. The reader calls it from its parsing loop, so an implementation must not allocate.
 */
@FunctionalInterface
public interface AccessSink {

    /**
     * One access of {@code size} bytes (at least 1) at {@code address}.
     *
     * @param kind {@link TraceReader#READ}, {@link TraceReader#WRITE} or {@link TraceReader#FETCH}
     */
    void access(int kind, long address, int size);
}
