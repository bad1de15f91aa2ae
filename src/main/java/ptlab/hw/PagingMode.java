package ptlab.hw;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The four x86 paging modes (SDM vol. 3, 4.1.1), named as on the command line ({@code --arch}).
 * Levels are numbered as the walker meets them from the bottom: 1 = PTE, 2 = PDE/pmd,
 * 3 = PDPTE/pud, 4 = PML4E/p4d-or-pgd, 5 = PML5E/pgd. Linux's names are kept, with the folded
 * levels folded exactly as Linux folds them (2-level: pgd and pte; PAE: pgd, pmd, pte;
 * 4-level: pgd, pud, pmd, pte; 5-level: pgd, p4d, pud, pmd, pte).
 *
 * <pre>
 *   mode         levels  entry  index bits per level (top first)  large pages
 *   x86-32          2     4 B   31:22 | 21:12                      4 MiB (PDE, CR4.PSE)
 *   x86-32-pae      3     8 B   31:30 | 29:21 | 20:12              2 MiB (PDE)
 *   x86-64          4     8 B   47:39 | 38:30 | 29:21 | 20:12      1 GiB (PDPTE), 2 MiB (PDE)
 *   x86-64-la57     5     8 B   56:48 | 47:39 | ... | 20:12        1 GiB, 2 MiB
 * </pre>
 */
public enum PagingMode {
    X86_32("x86-32", 2, 4, 32, 36,
            new String[] {"PTE", "PDE"}, new String[] {"pte", "pgd"}),
    X86_32_PAE("x86-32-pae", 3, 8, 32, 36,
            new String[] {"PTE", "PDE", "PDPTE"}, new String[] {"pte", "pmd", "pgd"}),
    X86_64("x86-64", 4, 8, 48, 46,
            new String[] {"PTE", "PDE", "PDPTE", "PML4E"}, new String[] {"pte", "pmd", "pud", "pgd"}),
    X86_64_LA57("x86-64-la57", 5, 8, 57, 46,
            new String[] {"PTE", "PDE", "PDPTE", "PML4E", "PML5E"}, new String[] {"pte", "pmd", "pud", "p4d", "pgd"});

    private final String cliName;
    private final int levels;
    private final int entryBytes;
    private final int vaBits;
    private final int defaultMaxPhyAddr;
    private final String[] hardwareNames;   // index level-1
    private final String[] linuxNames;      // index level-1
    private final int indexBits;            // 10 for 32-bit paging, 9 otherwise

    PagingMode(String cliName, int levels, int entryBytes, int vaBits, int defaultMaxPhyAddr,
               String[] hardwareNames, String[] linuxNames) {
        this.cliName = cliName;
        this.levels = levels;
        this.entryBytes = entryBytes;
        this.vaBits = vaBits;
        this.defaultMaxPhyAddr = defaultMaxPhyAddr;
        this.hardwareNames = hardwareNames;
        this.linuxNames = linuxNames;
        this.indexBits = entryBytes == 4 ? 10 : 9;
    }

    /** The {@code --arch} name, e.g. {@code x86-64-la57}. */
    public String cliName() {
        return cliName;
    }

    public int levels() {
        return levels;
    }

    public int entryBytes() {
        return entryBytes;
    }

    /** Width of a linear address: 32, 48 or 57. */
    public int vaBits() {
        return vaBits;
    }

    /** MAXPHYADDR used unless configured: 36 for the 32-bit modes, 46 for 4/5-level paging. */
    public int defaultMaxPhyAddr() {
        return defaultMaxPhyAddr;
    }

    /** The widest MAXPHYADDR the mode can address: 40 (PSE-36) for 32-bit paging, else 52. */
    public int maxMaxPhyAddr() {
        return this == X86_32 ? 40 : 52;
    }

    public boolean isPae() {
        return this == X86_32_PAE;
    }

    /** 4- or 5-level paging (IA-32e): NX, protection keys, PCID, canonical addresses. */
    public boolean isLongMode() {
        return this == X86_64 || this == X86_64_LA57;
    }

    /** Execute-disable exists (PAE and IA-32e paging). */
    public boolean hasNx() {
        return entryBytes == 8;
    }

    /** SDM name of an entry at {@code level}, e.g. "PDPTE". */
    public String hardwareName(int level) {
        return hardwareNames[level - 1];
    }

    /** Linux name of the table level, e.g. "pud". */
    public String linuxName(int level) {
        return linuxNames[level - 1];
    }

    /** Bit position of the lowest linear-address bit indexing {@code level}; also the page shift of a leaf there. */
    public int shift(int level) {
        return 12 + indexBits * (level - 1);
    }

    /** Entries in a table at {@code level} (4 for the PAE PDPT). */
    public int entries(int level) {
        return (isPae() && level == 3) ? PaePdpte.ENTRIES : 1 << indexBits;
    }

    /** Index of {@code va} in the table at {@code level}. */
    public int index(long va, int level) {
        return (int) (va >>> shift(level)) & (entries(level) - 1);
    }

    /** Bytes of the table at {@code level}: 4096, or 32 for the PAE PDPT. */
    public int tableBytes(int level) {
        return entries(level) * entryBytes;
    }

    /** Bytes mapped by one entry at {@code level}. */
    public long entrySpan(int level) {
        return 1L << shift(level);
    }

    /** Whether an entry at {@code level} may map a page (PS=1): PDE everywhere, PDPTE in 4/5-level paging. */
    public boolean largePageAllowed(int level) {
        return level == 2 || (level == 3 && isLongMode());
    }

    /** The page sizes this mode can map, smallest first. */
    public long[] pageSizes() {
        return isLongMode() ? new long[] {1L << 12, 1L << 21, 1L << 30}
                : new long[] {1L << 12, entrySpan(2)};
    }

    /** Whether {@code va} is canonical: bits 63:vaBits-1 all equal (always true in 32-bit modes). */
    public boolean isCanonical(long va) {
        if (!isLongMode()) {
            return (va >>> 32) == 0;
        }
        long top = va >> (vaBits - 1);
        return top == 0 || top == -1;
    }

    /** The mode named {@code name} on a command line; the message lists the valid names. */
    public static PagingMode fromCliName(String name) {
        for (PagingMode m : values()) {
            if (m.cliName.equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown arch '" + name + "' (expected one of "
                + Arrays.stream(values()).map(PagingMode::cliName).collect(Collectors.joining(", ")) + ")");
    }

    @Override
    public String toString() {
        return cliName;
    }
}
