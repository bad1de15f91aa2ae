package ptlab.hw;

/**
 * Geometry of one CPU's TLB: entries and ways of the array for each page size (SDM vol. 3,
 * 4.10.2.1: "the processor may use separate TLBs per page size"). Each array has
 * entries / ways sets, which must be a power of two. The large-page array holds 2 MiB pages
 * (PAE, 4/5-level paging) or 4 MiB pages (32-bit paging with CR4.PSE).
 */
public record TlbConfig(int entries4k, int ways4k, int entriesLarge, int waysLarge, int entries1g, int ways1g) {

    /** 64-entry 4-way 4 KiB, 32-entry 4-way 2/4 MiB, 4-entry 4-way 1 GiB: a Skylake-like L1 DTLB. */
    public static final TlbConfig DEFAULT = new TlbConfig(64, 4, 32, 4, 4, 4);

    public TlbConfig {
        check("4K", entries4k, ways4k);
        check("large-page", entriesLarge, waysLarge);
        check("1G", entries1g, ways1g);
    }

    /** A TLB of {@code entries} 4 KiB entries in {@code ways} ways, default large-page arrays. */
    public static TlbConfig of4k(int entries, int ways) {
        return new TlbConfig(entries, ways, DEFAULT.entriesLarge, DEFAULT.waysLarge, DEFAULT.entries1g, DEFAULT.ways1g);
    }

    private static void check(String array, int entries, int ways) {
        if (ways < 1 || entries < 1) {
            throw new IllegalArgumentException(array + " TLB: entries " + entries + " and ways " + ways
                    + " must both be at least 1");
        }
        if (entries % ways != 0 || Integer.bitCount(entries / ways) != 1) {
            throw new IllegalArgumentException(array + " TLB: " + entries + " entries in " + ways
                    + " ways do not make a power-of-two number of sets");
        }
    }
}
