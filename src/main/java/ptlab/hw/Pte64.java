package ptlab.hw;

/**
 * The 8-byte entry format shared by PAE paging (PDEs and PTEs) and 4-/5-level paging (all
 * levels) — SDM vol. 3, 4.4.2 (tables 4-9 to 4-11) and 4.5 (tables 4-14 to 4-20).
 *
 * <pre>
 *  63  62  59 58  52 51       M M-1               12 11  9 8 7 6 5 4 3 2 1 0
 * +---+------+------+----------+--------------------+-----+-----------------+
 * |XD | PKEY | ign  | reserved | physical address   | ign |  flags (PteBits)|
 * +---+------+------+----------+--------------------+-----+-----------------+
 * </pre>
 * <ul>
 * <li>XD (bit 63) is execute-disable when IA32_EFER.NXE=1, and reserved when NXE=0.</li>
 * <li>PKEY (62:59) is the protection key of a leaf in 4/5-level paging with CR4.PKE=1; it is
 *     ignored otherwise in 4/5-level paging. In PAE paging bits 62:M are all reserved.</li>
 * <li>A large-page leaf keeps PAT in bit 12, so its address starts at bit 21 (2 MiB) or 30
 *     (1 GiB) and bits 20:13 (29:13) are reserved.</li>
 * <li>PS is reserved in PML5Es and PML4Es.</li>
 * </ul>
 */
public final class Pte64 {
    private Pte64() {
    }

    public static final long NX = 1L << 63;
    public static final int PKEY_SHIFT = 59;
    public static final long PKEY_MASK = 0xFL << PKEY_SHIFT;

    /** Address bits M-1:lowBit. */
    public static long addressMask(int maxPhyAddr, int lowBit) {
        return (-1L << lowBit) & ~(-1L << maxPhyAddr);
    }

    /** Physical address of the table or page referenced; {@code pageShift} 12, 21 or 30. */
    public static long address(long e, int maxPhyAddr, int pageShift) {
        return e & addressMask(maxPhyAddr, pageShift);
    }

    public static int pkey(long e) {
        return (int) ((e >>> PKEY_SHIFT) & 0xF);
    }

    public static long withPkey(long e, int pkey) {
        if (pkey < 0 || pkey > 15) {
            throw new IllegalArgumentException("protection key must be 0..15, got " + pkey);
        }
        return (e & ~PKEY_MASK) | ((long) pkey << PKEY_SHIFT);
    }

    public static boolean executeDisable(long e) {
        return e < 0;
    }

    /**
     * Reserved bits of a present entry.
     *
     * @param pae        PAE paging (bits 62:M reserved) rather than 4/5-level (51:M)
     * @param level      1 = PTE, 2 = PDE, 3 = PDPTE, 4 = PML4E, 5 = PML5E
     * @param large      the entry has PS=1 (only meaningful at level 2 or 3)
     */
    public static long reservedMask(boolean pae, int level, boolean large, int maxPhyAddr, boolean nxe) {
        long mask = pae ? (~(-1L << 63) & (-1L << maxPhyAddr)) : (~(-1L << 52) & (-1L << maxPhyAddr));
        if (!nxe) {
            mask |= NX;
        }
        if (level >= 4) {
            mask |= PteBits.PS;
        } else if (large && level == 2) {
            mask |= 0xFFL << 13;               // bits 20:13
        } else if (large && level == 3) {
            mask |= ((1L << 17) - 1) << 13;    // bits 29:13
        }
        return mask;
    }
}
