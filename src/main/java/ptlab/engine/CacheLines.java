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
 * At most 64 CPUs (the sharer set is a bit mask).
 */
public final class CacheLines {

    public static final int LINE_SHIFT = 6;
    private static final long EMPTY = Long.MIN_VALUE;

    private final long transfer;
    private long[] keys;
    private int[] owners;
    private long[] sharers;
    private int size;
    private long transfers;

    /** {@code transferCycles}: what moving one line between two CPUs' caches costs (~100-300 on a server). */
    public CacheLines(long transferCycles) {
        if (transferCycles < 0) {
            throw new IllegalArgumentException("line transfer cost must not be negative, got " + transferCycles);
        }
        this.transfer = transferCycles;
        keys = new long[1024];
        owners = new int[1024];
        sharers = new long[1024];
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
        int i = slot(key);
        long me = 1L << cpu;
        if (keys[i] == EMPTY) {
            keys[i] = key;
            owners[i] = write ? cpu : -1;
            sharers[i] = me;
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
            boolean moved = owner >= 0 || (sharers[i] & ~me) != 0;
            owners[i] = cpu;
            sharers[i] = me;
            return moved ? charge() : 0;
        }
        if (owner >= 0) {
            owners[i] = -1;
            sharers[i] = me | (1L << owner);
            return charge();
        }
        if ((sharers[i] & me) != 0) {
            return 0;
        }
        sharers[i] |= me;
        return charge();
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
        sharers = new long[ok.length * 2];
        java.util.Arrays.fill(keys, EMPTY);
        for (int j = 0; j < ok.length; j++) {
            if (ok[j] != EMPTY) {
                int i = slot(ok[j]);
                keys[i] = ok[j];
                owners[i] = oo[j];
                sharers[i] = os[j];
            }
        }
    }
}
