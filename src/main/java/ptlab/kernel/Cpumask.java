package ptlab.kernel;

/**
 * struct cpumask (Linux v6.6 include/linux/cpumask.h): a bitmap of CPUs in 64-bit words,
 * CPU i in word {@code i / 64} at bit {@code i % 64}. A plain value, owned by one CPU at a
 * time - the IPI targets a flusher collects (smp_call_function_many_cond's per-CPU
 * {@code cfd->cpumask}), or cpu_online_mask, fixed at boot. A mask other CPUs read without a
 * lock (mm_cpumask) is not this class: it is a {@link SharedLong} per word in
 * {@link MmStruct}, so that each word's read is a scheduling point, as the kernel's
 * for_each_cpu() reads the bitmap one word at a time.
 *
 * <pre>
 *   word 0: CPUs 0..63     word 1: CPUs 64..127     ...     word n-1: up to nr_cpus-1
 *   bit 63 of word 0 is CPU 63, bit 0 of word 1 is CPU 64
 * </pre>
 * Sized once for {@code nrCpus} (nr_cpu_ids); with 64 CPUs or fewer it is one word, so a
 * small machine does exactly what the single-long mask did. No allocation after construction.
 */
public final class Cpumask {

    private final long[] bits;
    private final int nrCpus;

    public Cpumask(int nrCpus) {
        if (nrCpus < 1) {
            throw new IllegalArgumentException("a cpumask needs at least one CPU, got " + nrCpus);
        }
        this.nrCpus = nrCpus;
        this.bits = new long[words(nrCpus)];
    }

    /** BITS_TO_LONGS(nr_cpus): how many 64-bit words hold {@code nrCpus} bits. */
    public static int words(int nrCpus) {
        return (nrCpus + 63) >>> 6;
    }

    /** nr_cpu_ids: the CPUs this mask can name. */
    public int nrCpus() {
        return nrCpus;
    }

    public int words() {
        return bits.length;
    }

    /** Word {@code w} (CPUs 64w .. 64w+63). */
    public long word(int w) {
        return bits[w];
    }

    public void setWord(int w, long v) {
        bits[w] = v;
    }

    /** cpumask_set_cpu(). */
    public void set(int cpu) {
        bits[index(cpu)] |= 1L << cpu;      // the shift uses cpu's low six bits (JLS 15.19)
    }

    /** cpumask_clear_cpu(). */
    public void clear(int cpu) {
        bits[index(cpu)] &= ~(1L << cpu);
    }

    /** cpumask_test_cpu(). */
    public boolean test(int cpu) {
        return (bits[index(cpu)] & (1L << cpu)) != 0;
    }

    /** cpumask_clear(). */
    public void clearAll() {
        java.util.Arrays.fill(bits, 0);
    }

    /** cpumask_setall(): every CPU below nr_cpus. */
    public void setAll() {
        for (int w = 0; w < bits.length; w++) {
            int left = nrCpus - (w << 6);
            bits[w] = left >= 64 ? -1L : (1L << left) - 1;
        }
    }

    /** cpumask_empty(). */
    public boolean isEmpty() {
        for (long b : bits) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    /** cpumask_weight(). */
    public int weight() {
        int n = 0;
        for (long b : bits) {
            n += Long.bitCount(b);
        }
        return n;
    }

    /**
     * cpumask_next(): the first CPU above {@code cpu} in the mask, or -1. With
     * {@code cpu = -1}, cpumask_first(). for_each_cpu(c, mask) is
     * {@code for (int c = m.next(-1); c >= 0; c = m.next(c))}.
     */
    public int next(int cpu) {
        int from = cpu + 1;
        if (from >= nrCpus) {
            return -1;
        }
        int w = from >>> 6;
        long b = bits[w] & (-1L << from);
        while (b == 0) {
            if (++w == bits.length) {
                return -1;
            }
            b = bits[w];
        }
        return (w << 6) + Long.numberOfTrailingZeros(b);
    }

    /** cpumask_copy(). */
    public void copyFrom(Cpumask src) {
        if (src.bits.length != bits.length) {
            throw new IllegalArgumentException("cpumask of " + src.nrCpus + " CPUs copied into one of " + nrCpus);
        }
        System.arraycopy(src.bits, 0, bits, 0, bits.length);
    }

    private int index(int cpu) {
        if (cpu < 0 || cpu >= nrCpus) {
            throw new IndexOutOfBoundsException("CPU " + cpu + " outside a cpumask of " + nrCpus + " CPUs");
        }
        return cpu >>> 6;
    }

    /** The CPUs in the mask, e.g. "{0,3,64}". */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("{");
        for (int c = next(-1); c >= 0; c = next(c)) {
            s.append(s.length() > 1 ? "," : "").append(c);
        }
        return s.append('}').toString();
    }
}
