package ptlab.kernel.vmalloc;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The vmalloc address-space allocator of mm/vmalloc.c: free and busy {@code vmap_area}s over
 * [VMALLOC_START, VMALLOC_END).
 *
 * <pre>
 *   free_vmap_area_root   free areas by address (merging with neighbours on free)
 *                         and by (size, address) for the O(log n) lookup that
 *                         find_vmap_lowest_match() does with its augmented subtree_max_size
 *   vmap_area_root        busy areas by address (find_vmap_area)
 *   purge_vmap_area_list  freed but not yet flushed ("lazy") areas
 * </pre>
 *
 * <p>Lookup picks the smallest free area that fits (lowest address among equals) and carves
 * the request from its start; Linux takes the lowest-addressed fitting area. Both are
 * O(log n); ptlab's choice needs no augmented tree.
 *
 * <p>Lazy purge (free_vmap_area_noflush, __purge_vmap_area_lazy): a freed area's page-table
 * entries are already cleared, but stale TLB entries may still map it on any CPU, so its
 * virtual range is not reused until one batched flush_tlb_kernel_range() over all lazily freed
 * areas has run. That happens when more than lazy_max_pages() pages are pending, or when an
 * allocation finds no space. Invariant: an address in {@link #purgeList} is in neither tree.
 */
public final class VmapAreas {

    public static final long PAGE_SIZE = 4096;

    /** Flushes the kernel TLB range [start, end) on every CPU: flush_tlb_kernel_range(). */
    @FunctionalInterface
    public interface KernelTlbFlush {
        void flush(long start, long end);
    }

    private record Free(long start, long size) implements Comparable<Free> {
        @Override
        public int compareTo(Free o) {
            int c = Long.compare(size, o.size);
            return c != 0 ? c : Long.compare(start, o.start);
        }
    }

    private final long areaStart;
    private final long areaEnd;
    private final long lazyMaxPages;
    private final KernelTlbFlush flush;
    /** Free areas: start -> size. Signed comparison is safe: the area never crosses the sign bit. */
    private final TreeMap<Long, Long> freeByStart = new TreeMap<>();
    private final TreeSet<Free> freeBySize = new TreeSet<>();
    /** Busy areas: start -> size (guard page included). */
    private final TreeMap<Long, Long> busy = new TreeMap<>();
    private final List<long[]> purgeList = new ArrayList<>();
    /** vmap_purge_lock: one purge at a time; an allocation that found no room waits for the one in flight. */
    private final ptlab.kernel.SpinLock purgeLock;
    private long lazyPages;
    private long purges;
    private long purgedAreas;

    /**
     * An allocator over [start, end). {@code lazyMaxPages}: lazy_max_pages(), Linux's
     * {@code fls(num_online_cpus()) * (32 MiB / PAGE_SIZE)}.
     */
    public VmapAreas(long start, long end, long lazyMaxPages, KernelTlbFlush flush) {
        this(start, end, lazyMaxPages, flush, ptlab.kernel.Interleaving.NONE);
    }

    /**
     * The same, with {@code vmap_purge_lock} under {@code il} (the kernel's interleaving), so
     * that purges on several simulated CPUs serialise as Linux's mutex makes them.
     */
    public VmapAreas(long start, long end, long lazyMaxPages, KernelTlbFlush flush, ptlab.kernel.Interleaving il) {
        if (start >= end || (start & (PAGE_SIZE - 1)) != 0 || (end & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException(String.format("bad vmalloc range 0x%x..0x%x", start, end));
        }
        if ((start < 0) != (end - 1 < 0)) {
            throw new IllegalArgumentException("vmalloc range crosses the sign bit");
        }
        this.areaStart = start;
        this.areaEnd = end;
        this.lazyMaxPages = lazyMaxPages;
        this.flush = flush;
        this.purgeLock = new ptlab.kernel.SpinLock("vmap_purge_lock", il);
        insertFree(start, end - start);
    }

    /** lazy_max_pages() for {@code cpus} online CPUs. */
    public static long lazyMaxPages(int cpus) {
        int fls = 32 - Integer.numberOfLeadingZeros(cpus);
        return fls * ((32L << 20) / PAGE_SIZE);
    }

    public long start() {
        return areaStart;
    }

    public long end() {
        return areaEnd;
    }

    /**
     * alloc_vmap_area(size, align): the start of a busy area of {@code size} bytes (a multiple
     * of the page size, guard page included by the caller) aligned to {@code align}, or -1 when
     * the range has no room even after purging the lazily freed areas.
     */
    public long alloc(long size, long align) {
        long va = findAndCarve(size, align);
        if (va == -1) {
            purge();                                   // "purge_vmap_area_lazy(); goto retry;" (waits for one in flight)
            va = findAndCarve(size, align);
        }
        if (va != -1) {
            busy.put(va, size);
        }
        return va;
    }

    private long findAndCarve(long size, long align) {
        long need = size + (align > PAGE_SIZE ? align - PAGE_SIZE : 0);
        for (Free f = freeBySize.ceiling(new Free(Long.MIN_VALUE, need)); f != null; f = freeBySize.higher(f)) {
            long va = alignUp(f.start, align);
            if (va - f.start + size <= f.size) {
                removeFree(f.start, f.size);
                if (va > f.start) {
                    insertFree(f.start, va - f.start);
                }
                long tail = f.start + f.size - (va + size);
                if (tail > 0) {
                    insertFree(va + size, tail);
                }
                return va;
            }
        }
        return -1;
    }

    private static long alignUp(long v, long align) {
        return (v + align - 1) & -align;
    }

    /** The busy area's size, or -1 if {@code va} starts none (find_vmap_area). */
    public long sizeOf(long va) {
        Long s = busy.get(va);
        return s == null ? -1 : s;
    }

    /**
     * free_vmap_area_noflush(): the area's entries are already cleared; queue it for the next
     * batched flush, and purge when more than lazy_max_pages() are pending. Returns whether a
     * purge (one TLB flush) ran.
     */
    public boolean freeLazy(long va) {
        Long size = busy.remove(va);
        if (size == null) {
            throw new IllegalStateException(String.format("vfree(0x%x): trying to vfree() nonexistent vm area", va));
        }
        purgeList.add(new long[] {va, size});
        lazyPages += size / PAGE_SIZE;
        if (lazyPages > lazyMaxPages) {
            purge();
            return true;
        }
        return false;
    }

    /**
     * __purge_vmap_area_lazy(): one flush_tlb_kernel_range() from the lowest start to the highest
     * end of the pending areas, then their ranges go back to the free tree.
     */
    public void purge() {
        purgeLock.lock();
        try {
            purgeLocked();
        } finally {
            purgeLock.unlock();
        }
    }

    /**
     * Linux v6.6 mm/vmalloc.c:__purge_vmap_area_lazy() under vmap_purge_lock: the pending list
     * is taken whole first ("list_replace_init(&purge_vmap_area_list, &local_purge_list)"), so
     * areas freed while the flush's IPIs are out queue for the next purge; the taken ones go
     * back to the free tree only after the flush.
     */
    private void purgeLocked() {
        if (purgeList.isEmpty()) {
            return;
        }
        List<long[]> local = new ArrayList<>(purgeList);
        purgeList.clear();
        lazyPages = 0;
        long lo = Long.MAX_VALUE;
        long hi = Long.MIN_VALUE;
        for (long[] a : local) {
            lo = Math.min(lo, a[0]);
            hi = Math.max(hi, a[0] + a[1]);
        }
        flush.flush(lo, hi);
        for (long[] a : local) {
            freeMerging(a[0], a[1]);
        }
        purgedAreas += local.size();
        purges++;
    }

    /** merge_or_add_vmap_area(): back to the free tree, coalesced with free neighbours. */
    private void freeMerging(long va, long size) {
        Map.Entry<Long, Long> prev = freeByStart.floorEntry(va);
        if (prev != null && prev.getKey() + prev.getValue() == va) {
            removeFree(prev.getKey(), prev.getValue());
            va = prev.getKey();
            size += prev.getValue();
        }
        Long nextSize = freeByStart.get(va + size);
        if (nextSize != null) {
            removeFree(va + size, nextSize);
            size += nextSize;
        }
        insertFree(va, size);
    }

    private void insertFree(long va, long size) {
        freeByStart.put(va, size);
        freeBySize.add(new Free(va, size));
    }

    private void removeFree(long va, long size) {
        freeByStart.remove(va);
        freeBySize.remove(new Free(va, size));
    }

    public int busyAreas() {
        return busy.size();
    }

    public int freeAreas() {
        return freeByStart.size();
    }

    public int lazyAreas() {
        return purgeList.size();
    }

    /** Batched TLB flushes done by purges. */
    public long purges() {
        return purges;
    }

    public long purgedAreas() {
        return purgedAreas;
    }

    /** Bytes in free areas (lazy ones excluded); with busy and lazy bytes it adds up to the range. */
    public long freeBytes() {
        long n = 0;
        for (long s : freeByStart.values()) {
            n += s;
        }
        return n;
    }

    public long busyBytes() {
        long n = 0;
        for (long s : busy.values()) {
            n += s;
        }
        return n;
    }

    public long lazyBytes() {
        long n = 0;
        for (long[] a : purgeList) {
            n += a[1];
        }
        return n;
    }
}
