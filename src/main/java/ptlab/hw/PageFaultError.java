package ptlab.hw;

/**
 * Bits of the page-fault error code pushed with #PF (SDM vol. 3, 4.7, figure 4-12).
 *
 * <pre>
 *   5    4    3     2     1     0
 * +----+----+------+-----+-----+---+
 * | PK |I/D | RSVD | U/S | W/R | P |
 * +----+----+------+-----+-----+---+
 * </pre>
 * P=0: no valid translation because an entry was not present; P=1: a protection violation
 * or a reserved bit. W/R and U/S describe the access, not the entry. I/D is set for a fetch
 * only when CR4.SMEP=1 or (PAE/4-level paging and EFER.NXE=1). PK is set when protection
 * keys denied a data access.
 */
public final class PageFaultError {
    private PageFaultError() {
    }

    public static final int P = 1;
    public static final int WR = 1 << 1;
    public static final int US = 1 << 2;
    public static final int RSVD = 1 << 3;
    public static final int ID = 1 << 4;
    public static final int PK = 1 << 5;

    public static String describe(int code) {
        StringBuilder sb = new StringBuilder();
        sb.append((code & P) != 0 ? "protection" : "not-present");
        sb.append((code & WR) != 0 ? " write" : " read");
        sb.append((code & US) != 0 ? " user" : " supervisor");
        if ((code & RSVD) != 0) sb.append(" reserved-bit");
        if ((code & ID) != 0) sb.append(" instruction-fetch");
        if ((code & PK) != 0) sb.append(" protection-key");
        return sb.toString();
    }
}
