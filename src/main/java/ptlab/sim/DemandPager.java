package ptlab.sim;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.Pte32;
import ptlab.hw.PteBits;

/**
 * A minimal demand pager for one process, used by {@link TraceReplay} until the kernel layer's
 * fault handler replaces it: on a not-present fault it allocates the missing page-table pages
 * top-down (zeroed, from a bump allocator) and maps the page read-write, user, executable —
 * one anonymous VMA covering the whole user address space.
 *
 * <pre>
 *   physical memory:  [ 0 .. 1M unused | page-table pages → ...  | data pages (never written) → ... ]
 *                                       ^ TABLES_START              ^ memory / 2
 * </pre>
 * Data pages are allocated but never written, so they cost the simulator no memory.
 * PAE: as Linux's {@code pgd_alloc} with {@code PREALLOCATED_PMDS}, the pmd pages of the user
 * part are allocated with the 32-byte pgd, because the CPU reads PDPTEs only at CR3 load.
 */
final class DemandPager {

    private static final long TABLES_START = 1L << 20;
    private static final long TABLE_FLAGS = PteBits.P | PteBits.RW | PteBits.US;

    private final PhysicalMemory memory;
    private final PagingMode mode;
    private final int leafLevel;
    private final long root;
    private final long[] tables = new long[6];   // tables[level] = page-table pages at that level
    private long nextTable = TABLES_START;
    private long nextData;
    private long pagesMapped;

    /**
     * @param leafLevel 1 to map 4 KiB pages, 2 for the pmd-level large pages (2 or 4 MiB)
     * @param userEnd   the end of user space, to know which PAE pmds to preallocate
     */
    DemandPager(PhysicalMemory memory, PagingMode mode, int leafLevel, long userEnd) {
        this.memory = memory;
        this.mode = mode;
        this.leafLevel = leafLevel;
        this.nextData = memory.sizeBytes() / 2;
        this.root = allocTable(mode.levels());
        if (mode.isPae()) {
            long span = mode.entrySpan(3);
            for (int i = 0; i < (userEnd + span - 1) / span; i++) {
                memory.storeLong(root + 8L * i, allocTable(2) | PteBits.P);   // a PDPTE has no R/W, U/S
            }
        }
    }

    /** Physical address of the top-level table, for CR3. */
    long root() {
        return root;
    }

    /** Maps the page containing {@code va}, creating the tables it needs. */
    void map(long va) {
        int bytes = mode.entryBytes();
        long table = root;
        for (int level = mode.levels(); level > leafLevel; level--) {
            long entryAddress = table + (long) mode.index(va, level) * bytes;
            long e = memory.loadEntry(entryAddress, bytes);
            if (!PteBits.present(e)) {
                e = allocTable(level - 1) | TABLE_FLAGS;
                memory.storeEntry(entryAddress, bytes, e);
            }
            table = e & (mode == PagingMode.X86_32 ? Pte32.TABLE_ADDR_MASK : 0x000F_FFFF_FFFF_F000L);
        }
        long entryAddress = table + (long) mode.index(va, leafLevel) * bytes;
        memory.storeEntry(entryAddress, bytes, leafEntry(allocData()));
        pagesMapped++;
    }

    private long leafEntry(long frame) {
        if (leafLevel == 1) {
            return frame | TABLE_FLAGS;
        }
        long address = mode == PagingMode.X86_32 ? Pte32.encodeLargeAddress(frame) : frame;
        return address | TABLE_FLAGS | PteBits.PS;
    }

    private long allocTable(int level) {
        long pa = nextTable;
        nextTable += PhysicalMemory.PAGE_SIZE;
        if (nextTable > memory.sizeBytes() / 2) {
            throw new IllegalStateException("simulated memory for page tables is exhausted");
        }
        memory.zeroFrame(pa);
        tables[level]++;
        return pa;
    }

    private long allocData() {
        long size = mode.entrySpan(leafLevel);
        long pa = (nextData + size - 1) & -size;
        if (pa + size > memory.sizeBytes()) {
            throw new IllegalStateException("the trace touches more pages than the simulated "
                    + (memory.sizeBytes() >> 31) + " GiB of physical memory hold");
        }
        nextData = pa + size;
        return pa;
    }

    /** Page-table pages allocated at {@code level} (the PAE pgd of 32 bytes counts as one). */
    long tables(int level) {
        return tables[level];
    }

    long pagesMapped() {
        return pagesMapped;
    }
}
