package ptlab.engine;

/**
 * Cache-line ownership for timed runs: which CPU holds each 64-byte line exclusively, or which
 * CPUs share it. A read of a line another CPU modified, and a write (or locked read-modify-write)
 * of a line another CPU holds, move the line: the accessing CPU pays {@code transfer} cycles and
 * becomes its owner (or a sharer). A CPU's own line, and a line nobody touched yet, cost nothing
 * beyond the operation itself.
 *
 * <pre>
 *   state of a line      read by c                 write/RMW by c
 *   untouched            sharers={c}, free         owner=c, free
 *   owner = c            free                      free
 *   owner = d != c       transfer, sharers={c,d}   transfer, owner=c
 *   shared, c in set     free                      transfer if others share, owner=c
 *   shared, c not in it  transfer, c joins         transfer, owner=c
 * </pre>
 * This is what makes mmap_lock's reader count stop scaling without any writer: every
 * down_read and up_read is an atomic on one line that the previous reader's CPU owns
 * (cf. "mm: move mmap_lock to its own cache line", +7.2% will-it-scale mmap2).
 *
 * <p>Keys are physical line numbers ({@code pa >>> 6}) for simulated memory and negative
 * numbers for kernel locks kept outside it. Open addressing, no allocation after growth.
 * A line's sharer set is a bitmap of {@code words} longs (CPU c at bit c % 64 of word c / 64),
 * stored at {@code sharers[slot * words ..]}: one word up to 64 CPUs.
 */
public final class CacheLines {

    public static final int LINE_SHIFT = 6;
    private static final long EMPTY = Long.MIN_VALUE;

    private final long transfer;
    private long[] keys;
    private int[] owners;
    private long[] sharers;
    /** Longs per sharer set: BITS_TO_LONGS(cpus). */
    private final int words;
    private final int cpus;
    private int size;
    private long transfers;

    /** {@code transferCycles}: what moving one line between two CPUs' caches costs (~100-300 on a server). */
    public CacheLines(long transferCycles) {
        this(transferCycles, 64);
    }

    /** For a machine of {@code cpus} CPUs (0 .. cpus-1). */
    public CacheLines(long transferCycles, int cpus) {
        if (transferCycles < 0) {
            throw new IllegalArgumentException("line transfer cost must not be negative, got " + transferCycles);
        }
        if (cpus < 1) {
            throw new IllegalArgumentException("cache lines need at least one CPU, got " + cpus);
        }
        this.transfer = transferCycles;
        this.cpus = cpus;
        this.words = (cpus + 63) >>> 6;
        keys = new long[1024];
        owners = new int[1024];
        sharers = new long[1024 * words];
        java.util.Arrays.fill(keys, EMPTY);
    }

    public long transferCycles() {
        return transfer;
    }

    /** Lines moved between CPUs so far. */
    public long transfers() {
        return transfers;
    }

    /** The cycles CPU {@code cpu} pays to access line {@code key} ({@code write}: store or RMW). */
    public long access(int cpu, long key, boolean write) {
        if (cpu < 0 || cpu >= cpus) {
            throw new IndexOutOfBoundsException("CPU " + cpu + " outside the " + cpus + " CPUs of these cache lines");
        }
        int i = slot(key);
        int base = i * words;
        int mine = base + (cpu >>> 6);
        long me = 1L << cpu;                     // bit cpu % 64 of word cpu / 64
        if (keys[i] == EMPTY) {
            keys[i] = key;
            owners[i] = write ? cpu : -1;
            onlyMe(base, mine, me);
            if (++size * 2 > keys.length) {
                grow();
            }
            return 0;
        }
        int owner = owners[i];
        if (owner == cpu) {
            return 0;
        }
        if (write) {
            boolean moved = owner >= 0 || othersShare(base, mine, me);
            owners[i] = cpu;
            onlyMe(base, mine, me);
            return moved ? charge() : 0;
        }
        if (owner >= 0) {
            owners[i] = -1;
            onlyMe(base, mine, me);
            sharers[base + (owner >>> 6)] |= 1L << owner;
            return charge();
        }
        if ((sharers[mine] & me) != 0) {
            return 0;
        }
        sharers[mine] |= me;
        return charge();
    }

    /** The sharer set at {@code base} becomes {cpu} (its bit {@code me} in word {@code mine}). */
    private void onlyMe(int base, int mine, long me) {
        for (int w = base; w < base + words; w++) {
            sharers[w] = 0;
        }
        sharers[mine] = me;
    }

    /** Whether a CPU other than the one at ({@code mine}, {@code me}) shares the line. */
    private boolean othersShare(int base, int mine, long me) {
        for (int w = base; w < base + words; w++) {
            if ((sharers[w] & (w == mine ? ~me : -1L)) != 0) {
                return true;
            }
        }
        return false;
    }

    private long charge() {
        transfers++;
        return transfer;
    }

    private int slot(long key) {
        int mask = keys.length - 1;
        int i = (int) (mix(key) & mask);
        while (keys[i] != EMPTY && keys[i] != key) {
            i = (i + 1) & mask;
        }
        return i;
    }

    private static long mix(long k) {
        k *= 0x9E3779B97F4A7C15L;
        return k ^ (k >>> 29);
    }

    private void grow() {
        long[] ok = keys;
        int[] oo = owners;
        long[] os = sharers;
        keys = new long[ok.length * 2];
        owners = new int[ok.length * 2];
        sharers = new long[ok.length * 2 * words];
        java.util.Arrays.fill(keys, EMPTY);
        for (int j = 0; j < ok.length; j++) {
            if (ok[j] != EMPTY) {
                int i = slot(ok[j]);
                keys[i] = ok[j];
                owners[i] = oo[j];
                System.arraycopy(os, j * words, sharers, i * words, words);
            }
        }
    }
}
