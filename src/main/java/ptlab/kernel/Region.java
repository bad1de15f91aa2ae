package ptlab.kernel;

/**
 * One line of the kernel's virtual memory map, as in Documentation/arch/x86/x86_64/mm.rst:
 * {@code start} and {@code end} are inclusive ({@code end} is the last byte), {@code size} in bytes.
 * Addresses are unsigned 64-bit values held in a {@code long}.
 */
public record Region(String name, long start, long end) {
    public Region {
        if (Long.compareUnsigned(end, start) < 0) {
            throw new IllegalArgumentException("region " + name + " ends before it starts");
        }
    }

    /** Bytes covered: end - start + 1. */
    public long size() {
        return end - start + 1;
    }
}
