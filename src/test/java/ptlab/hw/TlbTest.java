package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TlbTest {

    private static long page(int n) {
        return (long) n << 12;
    }

    @Test
    void lruEvictsTheLeastRecentlyUsedWayOfTheSet() {
        Tlb tlb = new Tlb(TlbConfig.of4k(4, 4));   // one set of four ways
        for (int n = 0; n < 4; n++) {
            tlb.insert(page(n), 0, 12, page(100 + n), 0, 0, false, false);
        }
        assertTrue(tlb.lookup(page(0), 0) >= 0);   // 0 becomes most recently used; LRU order now 1,2,3,0
        tlb.insert(page(4), 0, 12, page(104), 0, 0, false, false);   // evicts 1
        assertEquals(-1, tlb.lookup(page(1), 0));
        tlb.insert(page(5), 0, 12, page(105), 0, 0, false, false);   // evicts 2
        assertEquals(-1, tlb.lookup(page(2), 0));
        for (int n : new int[] {0, 3, 4, 5}) {
            int slot = tlb.lookup(page(n), 0);
            assertTrue(slot >= 0, "page " + n + " should still be cached");
            assertEquals(page(100 + n), tlb.frame(slot));
        }
    }

    @Test
    void pagesOnlyCompeteWithinTheirSet() {
        Tlb tlb = new Tlb(TlbConfig.of4k(4, 2));   // two sets of two ways: even and odd pages
        tlb.insert(page(0), 0, 12, page(10), 0, 0, false, false);
        tlb.insert(page(2), 0, 12, page(12), 0, 0, false, false);
        tlb.insert(page(1), 0, 12, page(11), 0, 0, false, false);
        tlb.insert(page(4), 0, 12, page(14), 0, 0, false, false);   // evicts 0 from the even set, not 1
        assertEquals(-1, tlb.lookup(page(0), 0));
        assertTrue(tlb.lookup(page(1), 0) >= 0);
        assertTrue(tlb.lookup(page(2), 0) >= 0);
        assertEquals(3, tlb.size());
    }

    @Test
    void entriesKeepRightsPkeyGlobalAndDirty() {
        Tlb tlb = new Tlb(TlbConfig.DEFAULT);
        long va = 0x7f00_0040_0000L;
        tlb.insert(va, 5, 21, 0x4020_0000L, WalkResult.NOT_WRITABLE | WalkResult.EXECUTE_DISABLE, 9, true, true);
        int slot = tlb.lookup(va + 0x1234, 7);   // global: any PCID
        assertTrue(slot >= 0);
        assertEquals(21, tlb.pageShift(slot));
        assertEquals(0x4020_0000L, tlb.frame(slot));
        assertEquals(WalkResult.NOT_WRITABLE | WalkResult.EXECUTE_DISABLE, tlb.restrictions(slot));
        assertEquals(9, tlb.pkey(slot));
        assertTrue(tlb.global(slot));
        assertTrue(tlb.dirty(slot));
        tlb.insert(va + 0x1000_0000L, 5, 21, 0x4000_0000L, 0, 0, false, false);
        assertEquals(-1, tlb.lookup(va + 0x1000_0000L, 7));   // non-global: PCID must match
        assertTrue(tlb.lookup(va + 0x1000_0000L, 5) >= 0);
    }

    @Test
    void badGeometryNamesTheValues() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TlbConfig(48, 4, 32, 4, 4, 4));
        assertTrue(e.getMessage().contains("48"), e.getMessage());
        assertFalse(e.getMessage().contains("large"), e.getMessage());
    }
}
