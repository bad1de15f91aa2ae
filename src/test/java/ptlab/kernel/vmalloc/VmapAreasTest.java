package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class VmapAreasTest {

    static final long P = VmapAreas.PAGE_SIZE;
    static final long START = 0xffff_c900_0000_0000L;

    final List<long[]> flushes = new ArrayList<>();

    VmapAreas areas(long pages, long lazyMax) {
        return new VmapAreas(START, START + pages * P, lazyMax, (s, e) -> flushes.add(new long[] {s, e}));
    }

    @Test
    void allocatesFromTheStartAndNeverOverlaps() {
        VmapAreas a = areas(1024, 1 << 20);
        long x = a.alloc(3 * P, P);
        long y = a.alloc(2 * P, P);
        assertEquals(START, x);
        assertEquals(START + 3 * P, y);
        assertEquals(5 * P, a.busyBytes());
        assertEquals(1024 * P, a.busyBytes() + a.freeBytes() + a.lazyBytes());
    }

    @Test
    void alignedRequestsAreAligned() {
        VmapAreas a = areas(4096, 1 << 20);
        a.alloc(P, P);
        long huge = a.alloc(512 * P, 512 * P);
        assertEquals(0, huge & (512 * P - 1));
        assertEquals(4096 * P, a.busyBytes() + a.freeBytes());
    }

    @Test
    void freedRangesAreReusedOnlyAfterOneBatchedFlush() {
        VmapAreas a = areas(8, 4);
        long x = a.alloc(2 * P, P);
        long y = a.alloc(2 * P, P);
        a.freeLazy(x);
        assertEquals(1, a.lazyAreas());
        assertTrue(flushes.isEmpty(), "freeing alone flushes nothing");
        long z = a.alloc(4 * P, P);
        assertEquals(START + 4 * P, z, "the lazily freed range is not reused while space remains");
        a.freeLazy(y);                                  // 4 lazy pages: not more than lazy_max_pages yet
        assertTrue(flushes.isEmpty());
        long w = a.alloc(4 * P, P);                     // no room: purge (one flush for both areas), retry
        assertEquals(1, flushes.size());
        assertEquals(START, flushes.get(0)[0]);
        assertEquals(START + 4 * P, flushes.get(0)[1]);
        assertEquals(START, w, "the two freed areas were merged");
        assertEquals(1, a.purges());
    }

    @Test
    void purgesWhenMoreThanLazyMaxPagesArePending() {
        VmapAreas a = areas(64, 4);
        long x = a.alloc(3 * P, P);
        long y = a.alloc(3 * P, P);
        assertEquals(false, a.freeLazy(x));
        assertEquals(true, a.freeLazy(y));
        assertEquals(1, flushes.size());
        assertEquals(0, a.lazyAreas());
        assertEquals(1, a.freeAreas(), "everything merged back into one free area");
    }

    @Test
    void failsWhenFull() {
        VmapAreas a = areas(4, 100);
        assertNotEquals(-1, a.alloc(4 * P, P));
        assertEquals(-1, a.alloc(P, P));
    }

    @Test
    void vfreeOfAnUnknownAreaThrows() {
        VmapAreas a = areas(4, 100);
        assertThrows(IllegalStateException.class, () -> a.freeLazy(START));
    }

    @Test
    void lazyMaxPagesScalesWithCpus() {
        assertEquals(8192, VmapAreas.lazyMaxPages(1));
        assertEquals(3 * 8192, VmapAreas.lazyMaxPages(4));
    }

    @Test
    void randomChurnKeepsTheBooksBalanced() {
        VmapAreas a = areas(1 << 16, 2048);
        SplittableRandom r = new SplittableRandom(7);
        List<long[]> live = new ArrayList<>();
        for (int i = 0; i < 20_000; i++) {
            if (live.isEmpty() || (live.size() < 300 && r.nextBoolean())) {
                long size = (1 + r.nextInt(64)) * P;
                long va = a.alloc(size, r.nextInt(10) == 0 ? 16 * P : P);
                if (va != -1) {
                    for (long[] o : live) {
                        assertTrue(va + size <= o[0] || o[0] + o[1] <= va, "overlap");
                    }
                    live.add(new long[] {va, size});
                }
            } else {
                long[] o = live.remove(r.nextInt(live.size()));
                a.freeLazy(o[0]);
            }
            assertEquals((1L << 16) * P, a.busyBytes() + a.freeBytes() + a.lazyBytes());
        }
        assertTrue(a.purges() > 0);
    }

    /** A range the kernel could not have: empty, not page aligned, or across the sign bit. */
    @Test
    void aBadVmallocRangeIsRefused() {
        VmapAreas.KernelTlbFlush none = (s, e) -> { };
        assertThrows(IllegalArgumentException.class, () -> new VmapAreas(START, START, 1, none));
        assertThrows(IllegalArgumentException.class, () -> new VmapAreas(START + P, START, 1, none));
        assertThrows(IllegalArgumentException.class, () -> new VmapAreas(START + 1, START + P, 1, none));
        assertThrows(IllegalArgumentException.class, () -> new VmapAreas(START, START + P + 1, 1, none));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new VmapAreas(-P, P, 1, none));   // unsigned: a range past the top of the address space
        assertTrue(e.getMessage().contains("sign bit"), e.getMessage());
        assertEquals(P, new VmapAreas(START, START + P, 1, none).freeBytes());
        assertEquals(P, new VmapAreas(-P, 0, 1, none).freeBytes(), "the top page of the address space");
    }

    /** find_vmap_area(): a busy area's size, guard page included; -1 for anything else, a freed area too. */
    @Test
    void sizeOfIsTheBusyAreasSizeAndNothingElse() {
        VmapAreas a = areas(64, 100);
        long x = a.alloc(3 * P, P);
        assertEquals(3 * P, a.sizeOf(x));
        assertEquals(-1, a.sizeOf(x + P));
        a.freeLazy(x);
        assertEquals(-1, a.sizeOf(x));
    }

    /** An aligned request may need up to align - PAGE_SIZE more than its size; the skipped head stays free. */
    @Test
    void anAlignedAreaFitsAFreeAreaOfSizePlusAlignMinusOnePageAndLeavesItsHeadFree() {
        VmapAreas a = areas(1024, 1 << 20);
        assertEquals(START, a.alloc(P, P));
        long huge = a.alloc(512 * P, 512 * P);                // the free area is 1023 pages: just enough
        assertEquals(START + 512 * P, huge);
        assertEquals(START + P, a.alloc(511 * P, P), "the head before the aligned start stayed free");
        assertEquals(0, a.freeBytes());
    }

    /** __purge_vmap_area_lazy() starts the count of lazily freed pages again from zero. */
    @Test
    void aPurgeStartsTheLazyPageCountAgain() {
        VmapAreas a = areas(64, 4);
        long x = a.alloc(3 * P, P);
        long y = a.alloc(3 * P, P);
        a.freeLazy(x);
        a.purge();
        assertEquals(1, flushes.size());
        assertFalse(a.freeLazy(y), "3 pages pending, not 6: no purge yet");
        assertEquals(1, flushes.size());
        assertEquals(3 * P, a.lazyBytes());
        a.purge();
        a.purge();                                            // nothing pending: no flush
        assertEquals(2, flushes.size());
        assertEquals(2, a.purges());
        assertEquals(2, a.purgedAreas());
    }

    /**
     * merge_or_add_vmap_area(): a purged area merges with the free area before it and with the
     * one after it; the flush covers the lowest start to the highest end of what it purges.
     */
    @Test
    void purgedAreasMergeWithTheirFreeNeighboursOnBothSides() {
        VmapAreas a = areas(16, 100);
        long w = a.alloc(2 * P, P);
        long x = a.alloc(2 * P, P);
        long y = a.alloc(2 * P, P);
        long z = a.alloc(2 * P, P);
        assertEquals(1, a.freeAreas(), "the tail");
        a.freeLazy(x);
        a.purge();
        assertEquals(2, a.freeAreas(), "x's hole and the tail");
        a.freeLazy(w);
        a.purge();
        assertEquals(2, a.freeAreas(), "w merged with x's hole after it");
        a.freeLazy(z);
        a.freeLazy(y);
        a.purge();
        assertEquals(1, a.freeAreas(), "y merged with w+x before it and z after it, z with the tail");
        assertEquals(16 * P, a.freeBytes());
        assertEquals(y, flushes.get(2)[0]);
        assertEquals(z + 2 * P, flushes.get(2)[1]);
        assertEquals(START, a.alloc(16 * P, P));
    }
}
