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

    /** A hit on the entry used last changes nothing (it stays the most recent); the LRU order is kept. */
    @Test
    void repeatedHitsOnTheMostRecentEntryKeepTheLruOrder() {
        Tlb tlb = new Tlb(TlbConfig.of4k(4, 4));   // one set of four ways
        for (int n = 0; n < 4; n++) {
            tlb.insert(page(n), 0, 12, page(100 + n), 0, 0, false, false);
        }
        assertTrue(tlb.lookup(page(3), 0) >= 0);   // already most recently used
        assertTrue(tlb.lookup(page(3), 0) >= 0);
        tlb.insert(page(4), 0, 12, page(104), 0, 0, false, false);   // evicts 0; order 1,2,3,4
        assertEquals(-1, tlb.probe(page(0), 0));
        assertTrue(tlb.lookup(page(1), 0) >= 0);   // order 2,3,4,1
        assertTrue(tlb.lookup(page(1), 0) >= 0);
        assertTrue(tlb.lookup(page(2), 0) >= 0);   // order 3,4,1,2
        tlb.insert(page(5), 0, 12, page(105), 0, 0, false, false);   // evicts 3
        assertEquals(-1, tlb.probe(page(3), 0));
        assertTrue(tlb.lookup(page(1), 0) >= 0);   // order 4,2,5,1
        tlb.insert(page(6), 0, 12, page(106), 0, 0, false, false);   // evicts 4
        assertEquals(-1, tlb.probe(page(4), 0));
        for (int n : new int[] {1, 2, 5, 6}) {
            assertTrue(tlb.probe(page(n), 0) >= 0, "page " + n + " should still be cached");
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

    /** lookupEntry() packs what the slot accessors report, for every array, and misses with -1. */
    @Test
    void lookupEntryDecodesLikeTheSlotAccessors() {
        Tlb tlb = new Tlb(TlbConfig.DEFAULT);
        long[] vas = {0x7f00_0000_3000L, 0x7f00_0040_0000L, 0x7f00_8000_0000L};
        int[] shifts = {12, 21, 30};
        for (int i = 0; i < 3; i++) {
            tlb.insert(vas[i], 3, shifts[i], 0xF_FFFF_C000_0000L >>> i, i == 1 ? WalkResult.NOT_USER : 7, 5 + i,
                    i == 2, i != 0);
        }
        for (int i = 0; i < 3; i++) {
            long va = vas[i] + (1L << shifts[i]) - 1;
            long entry = tlb.lookupEntry(va, 3);
            int slot = tlb.lookup(va, 3);
            assertTrue(entry >= 0 && slot >= 0);
            assertEquals(tlb.frame(slot), Tlb.entryFrame(entry));
            assertEquals(tlb.restrictions(slot), Tlb.entryRestrictions(entry));
            assertEquals(tlb.pkey(slot), Tlb.entryPkey(entry));
            assertEquals(tlb.global(slot), Tlb.entryGlobal(entry));
            assertEquals(tlb.dirty(slot), Tlb.entryDirty(entry));
            assertEquals(tlb.pageShift(slot), shifts[i]);
            assertEquals(i + 1, Tlb.entryLeafLevel(entry));
        }
        assertEquals(-1, tlb.lookupEntry(vas[0] + 0x1000, 3));
        assertEquals(-1, tlb.lookupEntry(vas[0], 4), "non-global: another PCID misses");
        assertTrue(tlb.lookupEntry(vas[2], 4) >= 0, "global: any PCID hits");
        assertThrows(IllegalArgumentException.class, () -> tlb.insert(vas[0], 3, 12, 0x1234, 0, 0, false, false));
    }

    /**
     * probe(), the lookup of the invariant checkers, names the same entry as lookup() in every
     * array: a stale 2 MiB or 1 GiB entry must be as visible to invariant 3 as a 4 KiB one.
     */
    @Test
    void probeSeesLargeAndHugeEntriesLikeLookup() {
        Tlb tlb = new Tlb(TlbConfig.DEFAULT);
        long[] vas = {0x7f00_0000_3000L, 0x7f00_0040_0000L, 0x7f00_8000_0000L};
        int[] shifts = {12, 21, 30};
        long[] frames = {0x5000L, 0x4020_0000L, 0x8000_0000L};
        for (int i = 0; i < 3; i++) {
            tlb.insert(vas[i], 3, shifts[i], frames[i], 0, 0, false, false);
        }
        assertEquals(3, tlb.size(), "one entry in each of the three arrays");
        assertEquals(TlbConfig.DEFAULT, tlb.config());
        for (int i = 0; i < 3; i++) {
            int probed = tlb.probe(vas[i], 3);
            assertTrue(probed >= 0, "probe misses the " + shifts[i] + "-bit page");
            assertEquals(shifts[i], tlb.pageShift(probed));
            assertEquals(frames[i], tlb.frame(probed));
            assertEquals(3, tlb.pcid(probed));
            assertEquals(tlb.lookup(vas[i], 3), probed);
        }
    }

    /** The first way of the first set is a slot like any other, in each array, for lookupEntry(). */
    @Test
    void anEntryInSlotZeroHitsInEveryArray() {
        Tlb tlb = new Tlb(TlbConfig.DEFAULT);
        tlb.insert(0, 1, 12, 0x1000, 0, 0, false, false);          // 4 KiB array, set 0, way 0
        tlb.insert(0, 2, 21, 0x20_0000, 0, 0, false, false);      // 2 MiB array, set 0, way 0
        tlb.insert(0, 3, 30, 0x4000_0000, 0, 0, false, false);    // 1 GiB array, set 0, way 0
        assertEquals(0x1000, Tlb.entryFrame(tlb.lookupEntry(0x123, 1)));
        assertEquals(0x20_0000, Tlb.entryFrame(tlb.lookupEntry(0x1234, 2)));
        assertEquals(0x4000_0000, Tlb.entryFrame(tlb.lookupEntry(0x12_3456, 3)));
        assertEquals(-1, tlb.lookupEntry(0, 4));
    }
}
