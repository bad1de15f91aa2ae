package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * While no mapping changes, a CPU with a TLB and paging-structure caches must behave exactly as
 * one that walks the tables for every access: same pa, page size, fault and error code.
 * A deliberately small TLB makes evictions frequent.
 */
class MmuPropertyTest {

    private static final TlbConfig SMALL = new TlbConfig(8, 2, 4, 2, 2, 2);

    @Property(tries = 300)
    void mmuEqualsFreshWalkWhileMappingsAreUnchanged(@ForAll PagingMode mode, @ForAll long seed) {
        Random rnd = new Random(seed);
        PhysicalMemory memory = new PhysicalMemory(64L << 20);
        PageTableBuilder pt = new PageTableBuilder(mode, memory, 0x10_0000);
        CpuRegisters regs = randomCpu(mode, rnd);
        List<Long> vas = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            long va = randomVa(mode, rnd);
            vas.add(va);
            mapRandomly(pt, mode, va, rnd);
        }
        Mmu mmu = new Mmu(memory, regs, SMALL);
        mmu.setPge(rnd.nextBoolean());
        assertEquals(true, mmu.writeCr3(pt.root), "CR3 load");
        PageWalker reference = new PageWalker(memory);
        WalkResult got = new WalkResult();
        WalkResult want = new WalkResult();
        for (int step = 0; step < 80; step++) {
            long va = vas.get(rnd.nextInt(vas.size())) + (rnd.nextInt(1 << 12) & ~7);
            if (rnd.nextInt(8) == 0) {
                va += (long) rnd.nextInt(1 << 9) << 12;   // elsewhere in the same large page / table
            }
            AccessType access = AccessType.values()[rnd.nextInt(3)];
            boolean user = rnd.nextBoolean();
            boolean implicit = access != AccessType.FETCH && !user && rnd.nextInt(4) == 0;
            boolean ok = mmu.translate(va, access, user, implicit, got);
            boolean wantOk = reference.translate(regs, va, access, user, implicit, want);
            String where = String.format("%s step %d: %s va=0x%x user=%b implicit=%b", mode, step, access, va, user,
                    implicit);
            assertEquals(wantOk, ok, where + " translated? walker said " + want + ", mmu " + got);
            assertEquals(want.exception, got.exception, where);
            assertEquals(want.errorCode, got.errorCode, where + " error code");
            if (ok) {
                assertEquals(want.pa, got.pa, where + " pa");
                assertEquals(want.pageShift, got.pageShift, where + " page size");
                assertEquals(want.restrictions, got.restrictions, where + " rights");
                assertEquals(want.pkey, got.pkey, where + " pkey");
            }
        }
    }

    private static CpuRegisters randomCpu(PagingMode mode, Random rnd) {
        CpuRegisters regs = new CpuRegisters(mode);
        regs.setWp(rnd.nextBoolean());
        regs.setNxe(rnd.nextBoolean());
        regs.setSmep(rnd.nextBoolean());
        regs.setSmap(rnd.nextBoolean());
        regs.setAc(rnd.nextBoolean());
        regs.setPke(rnd.nextBoolean());
        regs.setPkru(rnd.nextInt());
        return regs;
    }

    /** Indexes from a small set at every level, so that tables and PSC entries are shared. */
    static long randomVa(PagingMode mode, Random rnd) {
        long va = 0;
        for (int level = mode.levels(); level >= 1; level--) {
            int n = mode.entries(level);
            int[] choices = {0, 1, 2, n - 1};
            va |= (long) choices[rnd.nextInt(choices.length)] << mode.shift(level);
        }
        if (mode.isLongMode() && (va >>> (mode.vaBits() - 1) & 1) != 0) {
            va |= -1L << mode.vaBits();   // sign-extend: canonical
        }
        return va;
    }

    static void mapRandomly(PageTableBuilder pt, PagingMode mode, long va, Random rnd) {
        mapRandomly(pt, mode, va, rnd, false);
    }

    /** As above; {@code pat}: the leaf's PAT bit (bit 7 of a PTE, bit 12 of a large leaf) set half the time. */
    static void mapRandomly(PageTableBuilder pt, PagingMode mode, long va, Random rnd, boolean pat) {
        int leafLevel = 1;
        int r = rnd.nextInt(6);
        if (r == 0 && mode.largePageAllowed(2)) {
            leafLevel = 2;
        } else if (r == 1 && mode.largePageAllowed(3)) {
            leafLevel = 3;
        }
        long flags = 0;
        flags |= rnd.nextInt(10) != 0 ? PteBits.P : 0;
        flags |= rnd.nextInt(3) != 0 ? PteBits.RW : 0;
        flags |= rnd.nextInt(3) != 0 ? PteBits.US : 0;
        flags |= rnd.nextBoolean() ? PteBits.A : 0;
        flags |= rnd.nextBoolean() ? PteBits.D : 0;
        flags |= rnd.nextBoolean() ? PteBits.G : 0;
        if (mode.hasNx() && rnd.nextInt(4) == 0) {
            flags |= Pte64.NX;
        }
        if (mode.isLongMode()) {
            flags = Pte64.withPkey(flags, rnd.nextInt(16));
        }
        if (pat && rnd.nextBoolean()) {
            flags |= leafLevel == 1 ? PteBits.PAT_4K : PteBits.PAT_LARGE;
        }
        pt.tableFlags = PteBits.P | (rnd.nextInt(6) != 0 ? PteBits.RW : 0) | (rnd.nextInt(6) != 0 ? PteBits.US : 0)
                | (mode.hasNx() && rnd.nextInt(8) == 0 ? Pte64.NX : 0);
        int shift = mode.shift(leafLevel);
        long pa = (rnd.nextLong() & ((1L << 36) - 1)) & (-1L << shift);
        pt.map(va & (-1L << shift), pa, leafLevel, flags);
    }
}
