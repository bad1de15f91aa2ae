package ptlab.hw;

/**
 * Test helper: builds page tables in {@link PhysicalMemory} for any {@link PagingMode}, the way a
 * kernel would, allocating table frames from a bump pointer. Upper-level entries are created
 * with {@link #tableFlags} (PAE PDPTEs with P only, as they have no R/W or U/S).
 */
final class PageTableBuilder {

    final PagingMode mode;
    final PhysicalMemory memory;
    final long root;
    private long nextFrame;
    long tableFlags = PteBits.P | PteBits.RW | PteBits.US;

    PageTableBuilder(PagingMode mode, PhysicalMemory memory, long firstFrame) {
        this.mode = mode;
        this.memory = memory;
        this.root = firstFrame;
        this.nextFrame = firstFrame + PhysicalMemory.PAGE_SIZE;
        memory.zeroFrame(root);
    }

    /** The end of the tables built so far: they lie in [root, tablesEnd()). */
    long tablesEnd() {
        return nextFrame;
    }

    private long allocTable() {
        long f = nextFrame;
        nextFrame += PhysicalMemory.PAGE_SIZE;
        memory.storeLong(f, 0);   // back the frame: a cleared page-table page
        memory.zeroFrame(f);
        return f;
    }

    private long tableAddress(long e) {
        return mode == PagingMode.X86_32 ? Pte32.address(e) : e & Pte64.addressMask(52, 12);
    }

    /**
     * Maps {@code va} to {@code pa} with a leaf at {@code leafLevel} (1 = 4 KiB PTE, 2 = PDE with PS,
     * 3 = PDPTE with PS). {@code leafFlags} are OR-ed in (P, RW, US, A, D, G, NX, pkey bits…); PS is
     * added for a large leaf. Returns false, changing nothing, where a large page and a table collide.
     */
    boolean map(long va, long pa, int leafLevel, long leafFlags) {
        if (leafLevel > 1 && !mode.largePageAllowed(leafLevel)) {
            throw new IllegalArgumentException(mode + " cannot map a page at level " + leafLevel);
        }
        long table = root;
        for (int level = mode.levels(); level > leafLevel; level--) {
            long addr = entryAddress(table, va, level);
            long e = memory.loadEntry(addr, mode.entryBytes());
            if (!PteBits.present(e)) {
                long flags = mode.isPae() && level == 3 ? PteBits.P : tableFlags;
                e = allocTable() | flags;
                memory.storeEntry(addr, mode.entryBytes(), e);
            } else if (level > 1 && PteBits.large(e) && !(mode.isPae() && level == 3)) {
                return false;
            }
            table = tableAddress(e);
        }
        long addr = entryAddress(table, va, leafLevel);
        long old = memory.loadEntry(addr, mode.entryBytes());
        if (leafLevel > 1 && PteBits.present(old) && !PteBits.large(old)) {
            return false;
        }
        long leaf = leafFlags | (leafLevel > 1 ? PteBits.PS : 0);
        leaf |= mode == PagingMode.X86_32 && leafLevel == 2 ? Pte32.encodeLargeAddress(pa) : pa;
        memory.storeEntry(addr, mode.entryBytes(), leaf);
        return true;
    }

    private long entryAddress(long table, long va, int level) {
        return table + (long) mode.index(va, level) * mode.entryBytes();
    }

    /** Physical address of the entry at {@code level} on the path of {@code va}; -1 if a table above is missing. */
    long entryAddress(long va, int level) {
        long table = root;
        for (int l = mode.levels(); l > level; l--) {
            long e = memory.loadEntry(entryAddress(table, va, l), mode.entryBytes());
            if (!PteBits.present(e)) {
                return -1;
            }
            table = tableAddress(e);
        }
        return entryAddress(table, va, level);
    }

    long get(long va, int level) {
        return memory.loadEntry(entryAddress(va, level), mode.entryBytes());
    }

    void set(long va, int level, long value) {
        memory.storeEntry(entryAddress(va, level), mode.entryBytes(), value);
    }
}
