package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
