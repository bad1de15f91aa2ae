package ptlab.hw;

/**
 * The flag bits that every x86 paging-structure entry format shares (SDM vol. 3, 4.3–4.5,
 * tables 4-4 to 4-20). Bits 8:0 mean the same thing in the 32-bit, PAE and 4/5-level formats;
 * what differs per format (address field, reserved bits, NX, protection key) lives in
 * {@link Pte32}, {@link PaePdpte} and {@link Pte64}.
 *
 * <pre>
 *   8   7   6   5   4    3    2   1   0
 * +---+---+---+---+----+----+---+---+---+
 * | G |PS |PAT| D | A |PCD |PWT|U/S|R/W| P |
 * +---+---+---+---+----+----+---+---+---+
 *       ^ PS in a PDE/PDPTE (maps a large page); PAT in a 4 KiB PTE
 * </pre>
 * (G, D and PAT mean something only in an entry that maps a page.)
 */
public final class PteBits {
    private PteBits() {
    }

    public static final long P = 1L;          // bit 0: present
    public static final long RW = 1L << 1;    // bit 1: read/write
    public static final long US = 1L << 2;    // bit 2: user/supervisor
    public static final long PWT = 1L << 3;   // bit 3: page-level write-through
    public static final long PCD = 1L << 4;   // bit 4: page-level cache disable
    public static final long A = 1L << 5;     // bit 5: accessed
    public static final long D = 1L << 6;     // bit 6: dirty (leaf only)
    public static final long PS = 1L << 7;    // bit 7: page size (PDE/PDPTE), PAT in a 4 KiB PTE
    public static final long PAT_4K = 1L << 7;
    public static final long G = 1L << 8;     // bit 8: global (leaf only)
    public static final long PAT_LARGE = 1L << 12; // bit 12: PAT in an entry mapping a large page

    public static boolean present(long e) {
        return (e & P) != 0;
    }

    public static boolean writable(long e) {
        return (e & RW) != 0;
    }

    public static boolean user(long e) {
        return (e & US) != 0;
    }

    public static boolean accessed(long e) {
        return (e & A) != 0;
    }

    public static boolean dirty(long e) {
        return (e & D) != 0;
    }

    public static boolean large(long e) {
        return (e & PS) != 0;
    }

    public static boolean global(long e) {
        return (e & G) != 0;
    }

    /** Flag letters in ptdump order, e.g. {@code "P RW US A D"} (for messages and traces). */
    public static String describe(long e) {
        StringBuilder sb = new StringBuilder();
        sb.append((e & P) != 0 ? "P" : "np");
        if ((e & RW) != 0) sb.append(" RW");
        if ((e & US) != 0) sb.append(" US");
        if ((e & PWT) != 0) sb.append(" PWT");
        if ((e & PCD) != 0) sb.append(" PCD");
        if ((e & A) != 0) sb.append(" A");
        if ((e & D) != 0) sb.append(" D");
        if ((e & PS) != 0) sb.append(" PS");
        if ((e & G) != 0) sb.append(" G");
        if ((e & Pte64.NX) != 0) sb.append(" NX");
        return sb.toString();
    }
}
