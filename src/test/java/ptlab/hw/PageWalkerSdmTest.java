package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * What the walker does per SDM vol. 3 chapter 4 that the other hw tests left unchecked (issue
 * 17: the PIT survivors of PageWalker): A set in every paging-structure entry used and no
 * write to a leaf whose A/D are already set (4.8), memory references of a PAE walk (4.4.1),
 * tables and pages above 4 GiB (4.5), the 4-byte entries of 32-bit paging (4.3), the path a
 * paging-structure-cache fill reads (4.10.3) and the frame generations it records.
 */
class PageWalkerSdmTest {

    private static final long USER_RW = PteBits.P | PteBits.RW | PteBits.US;

    /** A page-table tree built the kernel's way, CR3 (and the PAE PDPTE registers) pointing at it. */
    private record Tree(PagingMode mode, PhysicalMemory memory, PageTableBuilder pt, CpuRegisters regs,
                        PageWalker walker) {

        static Tree of(PagingMode mode, long memoryBytes, long firstFrame) {
            PhysicalMemory memory = new PhysicalMemory(memoryBytes);
            PageTableBuilder pt = new PageTableBuilder(mode, memory, firstFrame);
            CpuRegisters regs = new CpuRegisters(mode);
            regs.setCr3(pt.root);
            return new Tree(mode, memory, pt, regs, new PageWalker(memory));
        }

        void map(long va, long pa, int leafLevel, long leafFlags) {
            assertTrue(pt.map(va, pa, leafLevel, leafFlags));
            if (mode.isPae()) {
                assertTrue(walker.loadPdptes(regs));
            }
        }

        /** The entries in memory a walk of {@code va} uses above the leaf: not PAE's PDPTEs (registers). */
        List<Long> upperEntries(long va) {
            List<Long> upper = new ArrayList<>();
            for (int level = mode.levels(); level > 1; level--) {
                if (!(mode.isPae() && level == 3)) {
                    upper.add(pt.entryAddress(va, level));
                }
            }
            return upper;
        }

        long load(long entryAddress) {
            return memory.loadEntry(entryAddress, mode.entryBytes());
        }
    }

    private static long userVa(PagingMode mode) {
        return mode.isLongMode() ? 0x7f12_3456_7000L : 0x0804_8000L;
    }

    /** SDM 4.8: A is set in every paging-structure entry used, even when the leaf's A (and D) are already set. */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void aWalkSetsAccessedInEveryTableEntryItUsed(PagingMode mode) {
        Tree t = Tree.of(mode, 64L << 20, 0x10_0000);
        long va = userVa(mode);
        t.map(va, 0x20_0000, 1, USER_RW | PteBits.A | PteBits.D);   // table entries without A
        long leaf = t.pt.get(va, 1);
        long pdpte = mode.isPae() ? t.pt.get(va, 3) : 0;
        for (long ea : t.upperEntries(va)) {
            assertEquals(0, t.load(ea) & PteBits.A);
        }

        WalkResult out = new WalkResult();
        assertTrue(t.walker.translate(t.regs, va, AccessType.READ, true, false, out), out::toString);

        for (long ea : t.upperEntries(va)) {
            assertEquals(PteBits.A, t.load(ea) & PteBits.A, () -> String.format("A of the entry at 0x%x", ea));
        }
        assertEquals(leaf, t.pt.get(va, 1), "the leaf already had A and D");
        if (mode.isPae()) {
            assertEquals(pdpte, t.pt.get(va, 3), "a PDPTE has no A: it is a register, not on the walk (4.4.1)");
        }
    }

    /**
     * SDM 4.8: the processor sets A/D with a locked update only where they are clear; a write
     * to a page whose leaf has A and D already locks only the table entries that lack A.
     */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void aWriteToALeafWithAccessedAndDirtySetLeavesTheLeafAlone(PagingMode mode) {
        Tree t = Tree.of(mode, 64L << 20, 0x10_0000);
        long va = userVa(mode);
        t.map(va, 0x20_0000, 1, USER_RW | PteBits.A | PteBits.D);
        List<Long> locked = new ArrayList<>();
        t.memory.setAccessHook((op, pa) -> {
            if (op == PhysicalMemory.OP_CAS) {
                locked.add(pa);
            }
        });

        WalkResult out = new WalkResult();
        assertTrue(t.walker.translate(t.regs, va, AccessType.WRITE, true, false, out), out::toString);

        assertEquals(t.upperEntries(va), locked, "compare-and-swaps: the table entries lacking A, top down");
        assertEquals(0, out.restarts);
    }

    /** SDM 4.4.1: PAE's PDPTEs are registers loaded at CR3 write; a walk stopped there read no memory. */
    @Test
    void paeWalkStoppedAtANotPresentPdpteReadsNoMemory() {
        Tree t = Tree.of(PagingMode.X86_32_PAE, 64L << 20, 0x10_0000);
        t.map(0x0804_8000L, 0x20_0000, 1, USER_RW);   // PDPTE 0 present; PDPTEs 1-3 not

        WalkResult out = new WalkResult();
        assertFalse(t.walker.translate(t.regs, 0x8000_0000L, AccessType.READ, true, false, out));
        assertEquals(WalkResult.EXC_PF, out.exception);
        assertEquals(3, out.faultLevel);
        assertEquals(0, out.errorCode & PageFaultError.P);
        assertEquals(0, out.memoryRefs, "the PDPTE register is not a memory reference");

        assertFalse(t.walker.translate(t.regs, 0x0840_0000L, AccessType.READ, true, false, out));   // PDE not present
        assertEquals(2, out.faultLevel);
        assertEquals(1, out.memoryRefs, "the PDE only");

        assertTrue(t.walker.translate(t.regs, 0x0804_8000L, AccessType.READ, true, false, out));
        assertEquals(2, out.memoryRefs, "PDE and PTE");
    }

    /**
     * SDM 4.5: MAXPHYADDR 46 lets page tables and pages live above 4 GiB; the address of the
     * next table and of the page come from bits M-1:12 (M-1:21 for a 2 MiB page, whose bit 12
     * is PAT), never from bits 31:12 alone.
     */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_64", "X86_64_LA57"})
    void tablesAndPagesAboveFourGiB(PagingMode mode) {
        Tree t = Tree.of(mode, 8L << 30, 0x1_0000_0000L);   // every table above 4 GiB
        long va4k = userVa(mode), va2m = 0x7f40_0000_0000L;   // 2 MiB aligned
        t.map(va4k, 0x1_8000_0000L, 1, USER_RW | Pte64.NX);
        t.map(va2m, 0x1_4020_0000L, 2, USER_RW | PteBits.PAT_LARGE);

        WalkResult out = new WalkResult();
        assertTrue(t.walker.translate(t.regs, va4k + 0x123, AccessType.READ, true, false, out), out::toString);
        assertEquals(0x1_8000_0123L, out.pa);
        assertTrue(out.executeDisabled());
        assertTrue(t.walker.translate(t.regs, va2m + 0x1_2345, AccessType.READ, true, false, out), out::toString);
        assertEquals(0x1_4021_2345L, out.pa, "PAT (bit 12) is not an address bit of a 2 MiB page");
        assertEquals(2, out.leafLevel);
        assertTrue(t.walker.walkedTable(2) >= 1L << 32, "the pde table is above 4 GiB");
    }

    /** PageWalker.leafAddress: bits M-1:12 of a 64-bit leaf; PSE-36 bits 20:13 of a 4 MiB 32-bit PDE (SDM 4.3). */
    @Test
    void leafAddressPerFormat() {
        assertEquals(0x1_2345_6000L, PageWalker.leafAddress(PagingMode.X86_64,
                0x1_2345_6000L | USER_RW | Pte64.NX, 1, false, 46));
        assertEquals(0x1_4020_0000L, PageWalker.leafAddress(PagingMode.X86_64,
                0x1_4020_0000L | USER_RW | PteBits.PS | PteBits.PAT_LARGE, 2, true, 46));
        assertEquals(0x3_0040_0000L, PageWalker.leafAddress(PagingMode.X86_32,
                Pte32.encodeLargeAddress(0x3_0040_0000L) | USER_RW | PteBits.PS, 2, true, 36));
        assertEquals(0x0012_3000L, PageWalker.leafAddress(PagingMode.X86_32, 0x0012_3000L | USER_RW, 1, false, 36));
    }

    /**
     * SDM 4.3: 32-bit paging's entries are 4 bytes, two to a 64-bit word; the walk reports the
     * PTE it used as memory holds it, never with its neighbour in the upper half.
     */
    @Test
    void thirtyTwoBitWalkReportsTheFourByteEntryItUsed() {
        Tree t = Tree.of(PagingMode.X86_32, 64L << 20, 0x10_0000);
        long va = 0x0804_8000L;   // pte index 0x48: the low half of its word
        t.map(va, 0x20_0000, 1, USER_RW);
        t.map(va + 4096, 0x30_0000, 1, USER_RW);   // the high half

        WalkResult out = new WalkResult();
        assertTrue(t.walker.translate(t.regs, va, AccessType.READ, true, false, out), out::toString);
        assertEquals(0x20_0000 | USER_RW | PteBits.A, out.leafEntry);
        assertEquals(t.walker.memory().loadEntry(out.leafEntryAddress, 4), out.leafEntry);
        assertEquals(0x20_0000, out.pa);
    }

    /**
     * A walk that starts from a paging-structure-cache entry (Mmu after a PSC hit, SDM 4.10.3)
     * reads only from its start level down: the levels above are not on its path, and asking
     * for them is an error, as is level 0.
     */
    @Test
    void theWalkedPathIsTheLevelsTheWalkRead() {
        Tree t = Tree.of(PagingMode.X86_64, 64L << 20, 0x10_0000);
        long va = userVa(PagingMode.X86_64);
        t.map(va, 0x20_0000, 1, USER_RW);
        long pdTable = t.pt.entryAddress(va, 2) & ~0xFFFL;

        WalkResult out = new WalkResult();
        assertTrue(t.walker.translateFrom(t.regs, va, AccessType.READ, false, false, 2, pdTable,
                WalkResult.NOT_WRITABLE, out));
        assertEquals(2, out.memoryRefs, "PDE and PTE");
        assertEquals(pdTable, t.walker.walkedTable(2));
        assertEquals(t.pt.entryAddress(va, 1) & ~0xFFFL, t.walker.walkedTable(1));
        assertEquals(WalkResult.NOT_WRITABLE, t.walker.restrictionsAbove(2), "what the PSC entry carried");
        assertEquals(WalkResult.NOT_WRITABLE, t.walker.restrictionsAbove(1));
        for (int level : new int[]{0, 3}) {
            assertThrows(IllegalArgumentException.class, () -> t.walker.walkedTable(level));
            assertThrows(IllegalArgumentException.class, () -> t.walker.restrictionsAbove(level));
        }
    }

    /** A checker's frame generations: distinct and nonzero per frame. */
    private static final class Gens implements FrameGenerations {
        final List<Long> stale = new ArrayList<>();

        @Override
        public long generation(long pa) {
            return 1000 + (pa >>> PhysicalMemory.PAGE_SHIFT);
        }

        @Override
        public void staleTableRead(long table, long seen, long entryAddress, int level, boolean fromCache) {
            stale.add(table);
        }
    }

    /**
     * Invariant 2 across frame reuse: a walk records, for each table below the root, the
     * generation of its frame when the entry above was read (what a PSC fill then keeps);
     * the root, reached through CR3, has none. Tables above 4 GiB: the table address is
     * bits M-1:12 of the entry.
     */
    @Test
    void aWalkRecordsTheGenerationOfEachTableItReached() {
        Tree t = Tree.of(PagingMode.X86_64, 8L << 30, 0x1_0000_0000L);
        long va = userVa(PagingMode.X86_64);
        t.map(va, 0x20_0000, 1, USER_RW);
        t.memory.setAccessHook((op, pa) -> { });   // generations are checked on the hooked path
        Gens gens = new Gens();
        t.walker.setFrameGenerations(gens);

        WalkResult out = new WalkResult();
        assertTrue(t.walker.translate(t.regs, va, AccessType.READ, true, false, out), out::toString);
        assertEquals(FrameGenerations.UNKNOWN, t.walker.walkedTableGeneration(4));
        for (int level = 3; level >= 1; level--) {
            assertEquals(gens.generation(t.walker.walkedTable(level)), t.walker.walkedTableGeneration(level),
                    "level " + level);
        }
        assertTrue(gens.stale.isEmpty(), "live tables are not reported");
    }

    /** The start table of a walk from a PSC entry has the generation the entry recorded. */
    @Test
    void aWalkFromAPscEntryKeepsTheEntrysGenerationForItsStartTable() {
        Tree t = Tree.of(PagingMode.X86_64, 64L << 20, 0x10_0000);
        long va = userVa(PagingMode.X86_64);
        t.map(va, 0x20_0000, 1, USER_RW);
        t.memory.setAccessHook((op, pa) -> { });
        Gens gens = new Gens();
        t.walker.setFrameGenerations(gens);
        long pdTable = t.pt.entryAddress(va, 2) & ~0xFFFL;
        t.walker.startFromGeneration(gens.generation(pdTable));

        WalkResult out = new WalkResult();
        assertTrue(t.walker.translateFrom(t.regs, va, AccessType.READ, true, false, 2, pdTable, 0, out));
        assertEquals(gens.generation(pdTable), t.walker.walkedTableGeneration(2));
        assertEquals(gens.generation(t.walker.walkedTable(1)), t.walker.walkedTableGeneration(1));
        assertTrue(gens.stale.isEmpty());
    }
}
