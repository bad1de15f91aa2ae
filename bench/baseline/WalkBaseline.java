import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Plain-Java baseline for ptlab's walk benchmarks (issue 3): walk.c ported line by line to
 * Java, with ptlab's memory representation (a frame table of long[512] pages, entries read
 * with VarHandle.getAcquire) but none of ptlab's generality (one mode, no hook, no PSC, no
 * per-level result arrays). Single-file program:
 *
 *   java bench/baseline/WalkBaseline.java
 *
 * Same workloads and timing as walk.c: best and median of rounds of 8192 translations.
 */
public final class WalkBaseline {

    static final long P = 1, RW = 2, US = 4, A = 1 << 5, D = 1 << 6, PS = 1 << 7, XD = 1L << 63;
    static final long ADDR_MASK = 0x000f_ffff_ffff_f000L;
    static final VarHandle LONG = MethodHandles.arrayElementVarHandle(long[].class);

    /** Physical memory: frames[pfn] = the 512 entries of that frame. */
    final long[][] frames;
    int nextFrame = 1;
    final int levels;
    final long[] reserved = new long[12];   // [2 * level + ps]
    long deniedRights = 0;                  // row 3 = supervisor read, as ptlab's table
    final long cr3;

    // the result, filled in place
    long pa;
    int pageShift;
    int restr;
    long leaf;

    WalkBaseline(int levels, long baseVa, int pages) {
        this.levels = levels;
        this.frames = new long[pages / 256 + 64][];
        reserved[2 * 4] = PS;
        reserved[2 * 5] = PS;
        reserved[2 * 2 + 1] = 0x1fe000L;
        reserved[2 * 3 + 1] = 0x3fffe000L;
        cr3 = allocTable();
        long data = (long) (frames.length + 512) << 12;
        for (int i = 0; i < pages; i++) {
            map(baseVa + ((long) i << 12), data + ((long) i << 12));
        }
    }

    long allocTable() {
        frames[nextFrame] = new long[512];
        return (long) nextFrame++ << 12;
    }

    long loadEntry(long pa) {
        return (long) LONG.getAcquire(frames[(int) (pa >>> 12)], (int) (pa & 4095) >>> 3);
    }

    void map(long va, long pa) {
        long table = cr3;
        for (int level = levels; level > 1; level--) {
            long ea = table + (((va >>> (12 + 9 * (level - 1))) & 511) << 3);
            long e = loadEntry(ea);
            if ((e & P) == 0) {
                e = allocTable() | P | RW | US | A;
                frames[(int) (ea >>> 12)][(int) (ea & 4095) >>> 3] = e;
            }
            table = e & ADDR_MASK;
        }
        long ea = table + (((va >>> 12) & 511) << 3);
        frames[(int) (ea >>> 12)][(int) (ea & 4095) >>> 3] = pa | P | RW | US | A | D;
    }

    /** SDM 4.5 walk, A/D already set: 0, -1 #PF, -2 "would set A". */
    int walk(long va) {
        long table = cr3;
        int r = 0;
        long all = -1;
        for (int level = levels; ; level--) {
            int shift = 12 + 9 * (level - 1);
            long e = loadEntry(table + (((va >>> shift) & 511) << 3));
            int ps = (level == 2 || level == 3) ? (int) (e >>> 7) & 1 : 0;
            if ((e & P) == 0 || (e & reserved[2 * level + ps]) != 0) {
                return -1;
            }
            r |= (int) ((~e >>> 1) & 3) | (int) ((e >>> 61) & 4);
            all &= e;
            if (ps != 0 || level == 1) {
                if (((deniedRights >>> (8 * 3 + r)) & 1) != 0) {
                    return -1;
                }
                if ((all & A) == 0) {
                    return -2;
                }
                long offsetMask = (1L << shift) - 1;
                pa = (e & ADDR_MASK & ~offsetMask) | (va & offsetMask);
                pageShift = shift;
                restr = r;
                leaf = e;
                return 0;
            }
            table = e & ADDR_MASK;
        }
    }

    // 4 KiB TLB: 64 entries, 4 ways, LRU, PCID-tagged
    static final int SETS = 16, WAYS = 4, GLOBAL = 8;
    final long[] tlbTag = new long[SETS * WAYS];
    final int[] tlbPcid = new int[SETS * WAYS];
    final long[] tlbFrame = new long[SETS * WAYS];
    final int[] tlbAttrs = new int[SETS * WAYS];
    final long[] tlbLru = new long[SETS * WAYS];
    long tlbClock;

    int tlbTranslate(long va, int pcid) {
        long vpn = va >>> 12;
        int first = (int) (vpn & (SETS - 1)) * WAYS;
        for (int s = first; s < first + WAYS; s++) {
            if (tlbTag[s] == vpn && (tlbPcid[s] == pcid || (tlbAttrs[s] & GLOBAL) != 0)) {
                tlbLru[s] = ++tlbClock;
                int r = tlbAttrs[s] & 7;
                if (((deniedRights >>> (8 * 3 + r)) & 1) != 0) {
                    return -1;
                }
                pa = tlbFrame[s] | (va & 4095);
                pageShift = 12;
                restr = r;
                return 0;
            }
        }
        return -3;
    }

    void tlbFill(long va, long frame) {
        Arrays.fill(tlbTag, -1);
        int s = (int) ((va >>> 12) & (SETS - 1)) * WAYS;
        tlbTag[s] = va >>> 12;
        tlbFrame[s] = frame;
    }

    static final int ROUND = 8192;
    static final int ROUNDS = 600;

    static void report(String name, WalkBaseline w, long[] vas, boolean tlb) {
        double[] t = new double[ROUNDS];
        int mask = vas.length - 1;
        int next = 0;
        long acc = 0;
        for (int round = -ROUNDS; round < ROUNDS; round++) {   // first ROUNDS rounds: warm-up (JIT)
            long start = System.nanoTime();
            for (int i = 0; i < ROUND; i++) {
                long va = vas[next++ & mask];
                int rc = tlb ? w.tlbTranslate(va, 0) : w.walk(va);
                if (rc != 0) {
                    throw new IllegalStateException(name + ": rc " + rc + " for va " + Long.toHexString(va));
                }
                acc += w.pa;
            }
            if (round >= 0) {
                t[round] = (double) (System.nanoTime() - start) / ROUND;
            }
        }
        Arrays.sort(t);
        System.out.printf("%-12s best %6.2f ns  median %6.2f ns%s%n", name, t[0], t[ROUNDS / 2], acc == 42 ? " " : "");
    }

    public static void main(String[] args) {
        long base4 = 0x7f12_3400_0000L;
        long base5 = 0x00ab_cdef_0000_0000L;
        WalkBaseline w4 = new WalkBaseline(4, base4, 1);
        long[] one = {base4 + 0x123};
        report("walk4", w4, one, false);
        w4.tlbFill(one[0], 0x200000);
        report("tlb_hit", w4, one, true);
        report("walk5", new WalkBaseline(5, base5, 1), new long[] {base5 + 0x123}, false);
        int pages = 1 << 18;
        SplittableRandom rnd = new SplittableRandom(42);
        long[] vas = new long[1 << 16];
        for (int i = 0; i < vas.length; i++) {
            vas[i] = base4 + ((long) rnd.nextInt(pages) << 12) + (rnd.nextInt(512) << 3);
        }
        report("random_1g", new WalkBaseline(4, base4, pages), vas, false);
    }
}
