package ptlab.hw;

/**
 * Entry format of 32-bit paging (SDM vol. 3, 4.3, tables 4-4 to 4-6): 4-byte PDEs and PTEs,
 * 1024 to a table. Linux names the two levels pgd (with p4d, pud and pmd folded into it) and pte.
 *
 * <pre>
 * PDE or PTE pointing at a table or 4 KiB page:
 *  31                              12 11   9 8   7   6   5   4   3   2   1   0
 * +----------------------------------+------+---+---+---+---+---+---+---+---+---+
 * |   physical address 31:12         | ign  | G |PS/|D  | A |PCD|PWT|U/S|R/W| P |
 * |                                  |      |   |PAT|   |   |   |   |   |   |   |
 * +----------------------------------+------+---+---+---+---+---+---+---+---+---+
 * PDE mapping a 4 MiB page (CR4.PSE=1, PS=1), PSE-36:
 *  31          22 21 20            13 12  11 ... 0
 * +--------------+--+----------------+---+-----------+
 * | PA 31:22     |0 | PA 39:32       |PAT| flags     |
 * +--------------+--+----------------+---+-----------+
 *   reserved: bits 21:(M-19) where M = min(MAXPHYADDR, 40)
 * </pre>
 * No execute-disable and no protection keys exist in this format.
 */
public final class Pte32 {
    private Pte32() {
    }

    public static final long TABLE_ADDR_MASK = 0xFFFF_F000L;
    public static final long LARGE_ADDR_LOW_MASK = 0xFFC0_0000L;   // PA bits 31:22

    /** Physical address of the next table or 4 KiB page referenced by {@code e}. */
    public static long address(long e) {
        return e & TABLE_ADDR_MASK;
    }

    /** Physical address of the 4 MiB page mapped by a PDE with PS=1 (PSE-36: bits 20:13 are PA 39:32). */
    public static long largeAddress(long pde) {
        return (pde & LARGE_ADDR_LOW_MASK) | (((pde >>> 13) & 0xFF) << 32);
    }

    /** Encodes a 4 MiB physical address into the PDE address fields. */
    public static long encodeLargeAddress(long pa) {
        return (pa & LARGE_ADDR_LOW_MASK) | (((pa >>> 32) & 0xFF) << 13);
    }

    /** Reserved bits of a present 4 MiB PDE: 21:(M-19), with M capped at 40. */
    public static long largeReservedMask(int maxPhyAddr) {
        int m = Math.min(maxPhyAddr, 40);
        long mask = 0;
        for (int bit = m - 19; bit <= 21; bit++) {
            mask |= 1L << bit;
        }
        return mask;
    }

    /** A 4 KiB PTE and a PDE pointing at a page table reserve no bits in this format. */
    public static long tableReservedMask() {
        return 0;
    }
}
