package ptlab.hw;

/**
 * A PAE page-directory-pointer-table entry (SDM vol. 3, 4.4.1, table 4-8). The four PDPTEs
 * sit in a 32-byte, 32-byte-aligned table (not a page: Linux's PAE pgd is 32 bytes) and are
 * loaded into internal PDPTE registers when CR3 is written; later changes in memory are not
 * seen until the next CR3 load. A present PDPTE with a reserved bit set makes that CR3 load
 * fail with #GP(0) rather than a page fault.
 *
 * <pre>
 *  63        M M-1                12 11  9 8   5  4   3   2  1   0
 * +-----------+--------------------+-----+-----+---+---+-----+---+
 * | reserved  | PA of page dir     | ign | rsv |PCD|PWT| rsv | P |
 * +-----------+--------------------+-----+-----+---+---+-----+---+
 * </pre>
 * R/W, U/S, A and NX do not exist here: bits 2:1 and 8:5 and 63:M are reserved.
 */
public final class PaePdpte {
    private PaePdpte() {
    }

    public static final int ENTRIES = 4;
    public static final int TABLE_BYTES = 32;

    public static long address(long e, int maxPhyAddr) {
        return e & Pte64.addressMask(maxPhyAddr, 12);
    }

    /** Reserved bits of a present PDPTE: 2:1, 8:5 and 63:M. */
    public static long reservedMask(int maxPhyAddr) {
        return 0x6L | 0x1E0L | (-1L << maxPhyAddr);
    }
}
