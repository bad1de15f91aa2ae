package ptlab.kernel;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import ptlab.hw.PaePdpte;
import ptlab.hw.PhysicalMemory;

/**
 * pgd_cache (Linux v6.6 arch/x86/mm/pgtable.c, pgtable_cache_init): a kmem_cache of 32-byte, 32-byte
 * aligned objects for PAE pgds when SHARED_KERNEL_PMD, since the PDPT is 4 entries and not a
 * page. 128 objects per slab page; a page returns to the allocator when its last object does.
 * Slab pages are {@link FrameUse#KERNEL} frames from ZONE_NORMAL (below 4 GiB, as CR3 needs).
 */
final class PgdSlab {

    private static final int OBJECTS = PhysicalMemory.PAGE_SIZE / PaePdpte.TABLE_BYTES;   // 128

    private final FrameAllocator alloc;
    private final PhysicalMemory mem;
    /** slab page -> bitmap of used objects (2 longs). */
    private final Map<Long, long[]> used = new HashMap<>();
    private final ArrayDeque<Long> partial = new ArrayDeque<>();
    private long objects;

    PgdSlab(FrameAllocator alloc) {
        this.alloc = alloc;
        this.mem = alloc.memory();
    }

    /**
     * kmem_cache_alloc(pgd_cache, GFP_PGTABLE_USER): a zeroed 32-byte pgd, or -1. The slab's
     * monitor guards only its Java bookkeeping; the new slab page is allocated and the object
     * cleared outside it (no simulated-memory access, i.e. no scheduling point, under a monitor).
     */
    long alloc(int node) {
        long pgd = takeObject();
        if (pgd == -2) {
            long page = alloc.allocFrame(node, FrameUse.KERNEL);
            if (page < 0) {
                return -1;
            }
            mem.storeLong(page, 0);   // back the frame before walkers can see it
            pgd = addPageAndTake(page);
        }
        for (int i = 0; i < PaePdpte.ENTRIES; i++) {
            mem.storeLong(pgd + 8L * i, 0);
        }
        return pgd;
    }

    /** An object from a partial slab page, or -2 when there is none. */
    private synchronized long takeObject() {
        return partial.isEmpty() ? -2 : takeFromPartial();
    }

    private synchronized long addPageAndTake(long page) {
        used.put(page, new long[2]);
        partial.push(page);
        return takeFromPartial();
    }

    private long takeFromPartial() {
        long page = partial.peek();
        long[] bits = used.get(page);
        int slot = bits[0] != -1L ? Long.numberOfTrailingZeros(~bits[0]) : 64 + Long.numberOfTrailingZeros(~bits[1]);
        bits[slot >> 6] |= 1L << (slot & 63);
        if (bits[0] == -1L && bits[1] == -1L) {
            partial.pop();
        }
        objects++;
        return page + (long) slot * PaePdpte.TABLE_BYTES;
    }

    /** kmem_cache_free(pgd_cache, pgd); an emptied slab page goes back to the allocator after the monitor. */
    void free(long pgd) {
        long page = release(pgd);
        if (page >= 0) {
            alloc.freeFrame(page);   // a scheduling point under the engine: never inside this monitor
        }
    }

    /** The slab bookkeeping of free(); returns the page to free, or -1. */
    private synchronized long release(long pgd) {
        long page = pgd & -PhysicalMemory.PAGE_SIZE;
        long[] bits = used.get(page);
        int slot = (int) (pgd - page) / PaePdpte.TABLE_BYTES;
        if (bits == null || (pgd & (PaePdpte.TABLE_BYTES - 1)) != 0 || (bits[slot >> 6] & (1L << (slot & 63))) == 0) {
            throw new IllegalStateException(String.format("kmem_cache_free(pgd_cache, 0x%x): not an allocated pgd", pgd));
        }
        boolean wasFull = bits[0] == -1L && bits[1] == -1L;
        bits[slot >> 6] &= ~(1L << (slot & 63));
        objects--;
        if (bits[0] == 0 && bits[1] == 0) {
            used.remove(page);
            partial.remove(page);
            return page;
        }
        if (wasFull) {
            partial.push(page);
        }
        return -1;
    }

    synchronized long objects() {
        return objects;
    }

    synchronized int pages() {
        return used.size();
    }
}
