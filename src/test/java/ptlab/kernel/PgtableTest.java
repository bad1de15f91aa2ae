package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.hw.TlbConfig;
import ptlab.hw.WalkResult;

/** The generic level operations, folded per mode, produce tables the hardware walker agrees with. */
class PgtableTest {

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void foldedLevelsReturnTheParentEntry(PagingMode mode) {
        PhysicalMemory mem = new PhysicalMemory(32L << 20);
        FrameAllocator a = new FrameAllocator(mem, 32L << 20, 1 << 20);
        Pgtable pt = new Pgtable(mem, mode, mode.defaultMaxPhyAddr(), a);
        MmStruct mm = new MmStruct(1, false, Interleaving.NONE, 1);
        mm.pgd.plainSet(a.allocPageTable(0, mode.levels()));
        long va = 0x1234_5000L;
        long pgdp = pt.pgd_offset(mm, va);
        long p4dp = pt.p4d_alloc(mm, pgdp, va, 0);
        long pudp = pt.pud_alloc(mm, p4dp, va, 0);
        long pmdp = pt.pmd_alloc(mm, pudp, va, 0);
        assertEquals(0, pt.pte_alloc(mm, pmdp, 0));
        long ptep = pt.pte_offset(pmdp, va);
        assertEquals(mode.levels() < 5, p4dp == pgdp, "p4d folded into pgd below 5 levels");
        assertEquals(mode.levels() < 4, pudp == p4dp, "pud folded below 4 levels");
        assertEquals(mode.levels() < 3, pmdp == pudp, "pmd folded on 2-level paging");
        assertEquals(mode.levels() == 5, pt.none(Pgtable.PGD, 0), "pgd_none() == 0 when p4d is folded");
        // one table per real level below the pgd
        assertEquals(mode.levels() - 1, mm.pgtablesTotal());
        long frame = a.allocFrame(0, FrameUse.USER);
        pt.set(ptep, pt.pfn_pte(frame, PteBits.P | PteBits.RW | PteBits.US));

        CpuRegisters regs = new CpuRegisters(mode);
        Mmu mmu = new Mmu(mem, regs, TlbConfig.DEFAULT);
        if (mode.isPae()) {
            // the 32-byte PDPT is the first 32 bytes of this page
            assertTrue(mmu.writeCr3(mm.pgd()));
        } else {
            mmu.writeCr3(mm.pgd());
        }
        WalkResult w = new WalkResult();
        assertTrue(mmu.translate(va + 0x10, AccessType.WRITE, true, false, w), w.toString());
        assertEquals(frame + 0x10, w.pa);

        long old = pt.getAndClear(ptep);
        assertTrue(PteBits.dirty(old), "the walker's D bit is returned by ptep_get_and_clear");
        assertTrue(pt.none(Pgtable.PTE, pt.get(ptep)));
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void wrprotectKeepsOtherBits(PagingMode mode) {
        PhysicalMemory mem = new PhysicalMemory(8L << 20);
        FrameAllocator a = new FrameAllocator(mem, 8L << 20, 1 << 20);
        Pgtable pt = new Pgtable(mem, mode, mode.defaultMaxPhyAddr(), a);
        long table = a.allocPageTable(0, 1);
        long e = pt.pfn_pte(0x40_0000L, PteBits.P | PteBits.RW | PteBits.US | PteBits.A | PteBits.D);
        pt.set(table + 8, e);
        pt.setWrprotect(table + 8);
        assertEquals(Pgtable.pte_wrprotect(e), pt.get(table + 8));
        assertEquals(0x40_0000L, pt.pte_page(pt.get(table + 8)));
        assertTrue(pt.testAndClearYoung(table + 8));
        assertFalse(Pgtable.pte_young(pt.get(table + 8)));
    }
}
