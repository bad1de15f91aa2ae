package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The paging-structure caches on their own (SDM vol. 3, 4.10.3), as invariant 2 reads them. */
class PagingStructureCachesTest {

    /**
     * levelCaching() is how invariant 2 (no walk through a freed table) finds a cached pointer
     * to a table: the first way of the first set must be found like any other slot.
     */
    @Test
    void aTableCachedInTheFirstSlotIsStillSeenByTheFreedTableCheck() {
        PagingStructureCaches psc = new PagingStructureCaches(PagingMode.X86_64);
        psc.fill(0, 0, 2, 0x5000, 0);   // PDE cache, tag 0: set 0, way 0
        assertEquals(2, psc.levelCaching(0x5000));
        assertEquals(2, psc.deepestHit(0, 0), "and a walk starts from it");
        assertEquals(0x5000, psc.hitTable());
        assertEquals(0, psc.levelCaching(0x6000));
        psc.fill(0, 0, 4, 0x7000, 0);   // PML4E cache, tag 0
        assertEquals(4, psc.levelCaching(0x7000));
    }

    /** The page-fault invalidation drops every level's entry for that address and PCID, and nothing else. */
    @Test
    void invalidateAddressDropsEveryLevelForThatAddressAndPcidOnly() {
        PagingStructureCaches psc = new PagingStructureCaches(PagingMode.X86_64);
        long va = 0x7f00_4000_0000L;
        long other = 0x1000_0000_0000L;   // another PML4E, PDPTE and PDE
        for (int level = 2; level <= 4; level++) {
            psc.fill(va, 1, level, 0x10_0000L * level, 0);
            psc.fill(va, 2, level, 0x20_0000L * level, 0);
            psc.fill(other, 1, level, 0x30_0000L * level, 0);
        }
        psc.invalidateAddress(va, 1);
        assertEquals(0, psc.deepestHit(va, 1));
        assertEquals(2, psc.deepestHit(va, 2), "another PCID keeps its entries");
        assertEquals(2, psc.deepestHit(other, 1), "another address keeps its entries");
        for (int level = 2; level <= 4; level++) {
            assertEquals(2, psc.size(level), "level " + level);
        }
        psc.invalidatePcid(2);
        assertEquals(0, psc.deepestHit(va, 2));
        assertEquals(2, psc.deepestHit(other, 1));
        psc.invalidateAll();
        assertEquals(0, psc.deepestHit(other, 1));
    }

    /** The hit reports the table and the rights cached at the deepest level that hits. */
    @Test
    void deepestHitGivesTheTableAndRightsOfTheLowestCachedLevel() {
        PagingStructureCaches psc = new PagingStructureCaches(PagingMode.X86_64);
        long va = 0x7f00_4020_0000L;
        psc.fill(va, 0, 4, 0x4000, WalkResult.NOT_USER);
        psc.fill(va, 0, 3, 0x3000, WalkResult.NOT_WRITABLE);
        assertEquals(3, psc.deepestHit(va, 0));
        assertEquals(0x3000, psc.hitTable());
        assertEquals(WalkResult.NOT_WRITABLE, psc.hitRestrictions());
        psc.fill(va, 0, 2, 0x2000, WalkResult.EXECUTE_DISABLE);
        assertEquals(2, psc.deepestHit(va, 0));
        assertEquals(0x2000, psc.hitTable());
        assertEquals(WalkResult.EXECUTE_DISABLE, psc.hitRestrictions());
    }

    /** Each paging mode has a cache for every level that points to a table, up to its top level. */
    @Test
    void longModeCachesEveryUpperLevelUpToTheTop() {
        PagingStructureCaches four = new PagingStructureCaches(PagingMode.X86_64);
        assertEquals(true, four.has(2) && four.has(3) && four.has(4));
        assertEquals(false, four.has(5));
        PagingStructureCaches five = new PagingStructureCaches(PagingMode.X86_64_LA57);
        assertEquals(true, five.has(5));
        long va = 0x00ff_0000_0000_0000L;
        five.fill(va, 0, 5, 0x5000, 0);   // only the PML5E is cached
        assertEquals(5, five.deepestHit(va, 0), "a walk may start below the PML5E");
        assertEquals(1, five.size(5));
        five.invalidateAddress(va, 0);
        assertEquals(0, five.size(5), "the #PF invalidation reaches the top level too");
        four.fill(0x7f00_0000_0000L, 0, 4, 0x4000, 0);
        assertEquals(4, four.deepestHit(0x7f00_0000_0000L, 0));
        assertEquals(4, four.levelCaching(0x4000));
    }

    /** PAE has no PDPTE cache (the PDPTE registers play its part, 4.10.3.1); 32-bit paging only a PDE cache. */
    @Test
    void paeAnd32BitPagingCacheOnlyPdes() {
        PagingStructureCaches pae = new PagingStructureCaches(PagingMode.X86_32_PAE);
        assertEquals(true, pae.has(2));
        assertEquals(false, pae.has(3));
        pae.fill(0x4000_0000L, 0, 3, 0x9000, 0);   // ignored: no such cache
        assertEquals(0, pae.size(3));
        assertEquals(0, pae.deepestHit(0x4000_0000L, 0));
        PagingStructureCaches x32 = new PagingStructureCaches(PagingMode.X86_32);
        assertEquals(true, x32.has(2));
        assertEquals(false, x32.has(3));
        assertEquals(false, x32.has(-1));
        assertEquals(false, x32.has(6));
    }
}
