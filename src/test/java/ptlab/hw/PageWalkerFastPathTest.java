package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.tools.WalkWorkloads;

/** The walker's remembered frames and precomputed masks must never change what a walk sees. */
class PageWalkerFastPathTest {

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void everyPageTranslatesToItsFrame(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.random(mode, 2048, 7);
        long delta = Long.MIN_VALUE;
        for (long va : w.vas) {
            assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), w.out::toString);
            long d = w.out.pa - (va - w.baseVa);   // pages are mapped to consecutive frames
            if (delta == Long.MIN_VALUE) {
                delta = d;
            }
            assertEquals(delta, d, () -> "va 0x" + Long.toHexString(va) + " in " + mode);
            assertEquals(mode == PagingMode.X86_32_PAE ? 2 : mode.levels(), w.out.memoryRefs);
        }
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void seesEntryChangesAfterRemembering(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
        long va = w.vas[0];
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        long leafAddress = w.out.leafEntryAddress;
        long leaf = w.out.leafEntry;
        int bytes = mode.entryBytes();

        w.memory.storeEntry(leafAddress, bytes, leaf & ~PteBits.P);
        assertFalse(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        assertEquals(WalkResult.EXC_PF, w.out.exception);
        assertEquals(0, w.out.errorCode & PageFaultError.P);
        assertEquals(1, w.out.faultLevel);

        long rsvd = PageWalker.reservedMask(mode, 1, false, w.regs.maxPhyAddr(), w.regs.nxe());
        if (rsvd != 0) {
            w.memory.storeEntry(leafAddress, bytes, leaf | Long.lowestOneBit(rsvd));
            assertFalse(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
            assertEquals(PageFaultError.P | PageFaultError.RSVD, w.out.errorCode & (PageFaultError.P | PageFaultError.RSVD));
        }

        w.memory.storeEntry(leafAddress, bytes, (leaf & ~PteBits.A) + PhysicalMemory.PAGE_SIZE);
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        assertEquals(PhysicalMemory.PAGE_SIZE, w.out.pa - (leaf & ~0xFFFL & 0xF_FFFF_FFFF_FFFFL) - (va & 0xFFF));
        assertTrue((w.memory.loadEntry(leafAddress, bytes) & PteBits.A) != 0, "A set again through the walk");
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void accessHookSeesEveryEntryLoad(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
        AtomicInteger loads = new AtomicInteger();
        w.memory.setAccessHook((op, pa) -> {
            if (op == PhysicalMemory.OP_LOAD) {
                loads.incrementAndGet();
            }
        });
        for (int i = 0; i < 3; i++) {
            assertTrue(w.walker.translate(w.regs, w.vas[0], AccessType.READ, false, false, w.out));
        }
        assertEquals(3 * w.out.memoryRefs, loads.get());
    }

    /** The walker's masks follow EFER.NXE changes between walks with the same walker (CpuRegisters.pagingKey). */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32_PAE", "X86_64", "X86_64_LA57"})
    void nxeChangeBetweenWalksIsSeen(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
        long va = w.vas[0];
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        long leafAddress = w.out.leafEntryAddress;
        w.memory.storeEntry(leafAddress, 8, w.out.leafEntry | Pte64.NX);
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        assertTrue(w.out.executeDisabled());
        w.regs.setNxe(false);   // bit 63 becomes reserved (SDM 4.4.2, 4.5.4)
        assertFalse(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
        assertEquals(PageFaultError.P | PageFaultError.RSVD, w.out.errorCode);
        w.regs.setNxe(true);
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out));
    }

    /** The same walker used with registers of another mode re-prepares (a different pagingKey). */
    @org.junit.jupiter.api.Test
    void oneWalkerAcrossModes() {
        WalkWorkloads.Workload w4 = WalkWorkloads.samePage(PagingMode.X86_64);
        WalkWorkloads.Workload w5 = WalkWorkloads.samePage(PagingMode.X86_64_LA57);
        PageWalker walker = new PageWalker(w4.memory);
        assertTrue(walker.translate(w4.regs, w4.vas[0], AccessType.READ, false, false, w4.out));
        long pa4 = w4.out.pa;
        PageWalker walker5 = new PageWalker(w5.memory);
        assertTrue(walker5.translate(w5.regs, w5.vas[0], AccessType.READ, false, false, w5.out));
        // LA57's address is not canonical with 48-bit addresses: the 4-level walker must say #GP
        assertFalse(walker.translate(w4.regs, w5.vas[0], AccessType.READ, false, false, w4.out));
        assertEquals(WalkResult.EXC_GP, w4.out.exception);
        assertTrue(walker.translate(w4.regs, w4.vas[0], AccessType.READ, false, false, w4.out));
        assertEquals(pa4, w4.out.pa);
    }

    /** translateFrom() takes a table base, and tables are 4 KiB aligned: anything else is a caller bug. */
    @org.junit.jupiter.api.Test
    void unalignedTableBaseIsRejected() {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(PagingMode.X86_64);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> w.walker.translateFrom(
                w.regs, w.vas[0], AccessType.READ, false, false, 4, w.regs.topTableAddress() + 8, 0, w.out));
    }

    /**
     * The one-field rights test (CpuRegisters.rightsFastPath, -1 when stale or with protection
     * keys) agrees with the rule-by-rule SDM 4.6 check through any sequence of register changes
     * on the same registers.
     */
    @org.junit.jupiter.api.Test
    void rightsTableFollowsRegisterChanges() {
        CpuRegisters regs = new CpuRegisters(PagingMode.X86_64);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        for (int step = 0; step < 400; step++) {
            switch (rnd.nextInt(6)) {
                case 0 -> regs.setWp(rnd.nextBoolean());
                case 1 -> regs.setSmep(rnd.nextBoolean());
                case 2 -> regs.setSmap(rnd.nextBoolean());
                case 3 -> regs.setAc(rnd.nextBoolean());
                case 4 -> regs.setPke(rnd.nextBoolean());
                default -> regs.setPkru(rnd.nextInt());
            }
            for (AccessType access : AccessType.values()) {
                for (int who = 0; who < 3; who++) {
                    boolean user = who == 0;
                    boolean implicit = who == 2;
                    if (implicit && access == AccessType.FETCH) {
                        continue;
                    }
                    for (int restr = 0; restr < 8; restr++) {
                        int pkey = rnd.nextInt(16);
                        assertEquals(PageWalker.checkAccess(regs, access, user, implicit, restr, pkey),
                                PageWalker.accessDenied(regs, access, user, implicit, restr, pkey),
                                () -> "step with " + access + " user=" + user + " implicit=" + implicit);
                    }
                }
            }
        }
    }

    /**
     * The path the PSC fill reads (walkedTable, restrictionsAbove) is derived from the entries
     * read: it must name the tables an independent walk finds, and rights accumulated top down.
     */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void walkedPathNamesEveryTableAndTheRightsAbove(PagingMode mode) {
        WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
        long va = w.vas[0];
        int bytes = mode.entryBytes();
        int maxPhy = w.regs.maxPhyAddr();
        int top = mode.isPae() ? 2 : mode.levels();   // the highest level read from memory
        long table = mode.isPae() ? PaePdpte.address(w.regs.pdpte((int) (va >>> 30) & 3), maxPhy)
                : w.regs.topTableAddress();
        long topEntryAddress = table + (long) mode.index(va, top) * bytes;
        // clear R/W in the highest entry: every level below inherits NOT_WRITABLE
        w.memory.storeEntry(topEntryAddress, bytes, w.memory.loadEntry(topEntryAddress, bytes) & ~PteBits.RW);
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), w.out::toString);
        assertEquals(WalkResult.NOT_WRITABLE, w.out.restrictions);
        for (int level = top; level >= 1; level--) {
            assertEquals(table, w.walker.walkedTable(level), "table at level " + level + " in " + mode);
            assertEquals(level == top ? 0 : WalkResult.NOT_WRITABLE, w.walker.restrictionsAbove(level),
                    "rights above level " + level + " in " + mode);
            long e = w.memory.loadEntry(table + (long) mode.index(va, level) * bytes, bytes);
            table = PageWalker.leafAddress(mode, e, 1, false, maxPhy);   // the next table: bits M-1:12
        }
        assertEquals(w.out.leafEntryAddress,
                w.walker.walkedTable(1) + (long) mode.index(va, 1) * bytes, "leaf entry address in " + mode);
    }

    /**
     * The pte tables remembered by pmd index (PageWalker.pte64): two pte tables whose pmd entries
     * have the same index under different pud (PAE: PDPTE) entries take turns in one slot, and a
     * walk always reads the table its pmd entry names, with the entries as they are now.
     */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32_PAE", "X86_64", "X86_64_LA57"})
    void pteTablesSharingAPmdIndexTakeTurns(PagingMode mode) {
        PhysicalMemory memory = new PhysicalMemory(64L << 20);
        PageTableBuilder pt = new PageTableBuilder(mode, memory, 0x10_0000);
        long flags = PteBits.P | PteBits.RW | PteBits.A | PteBits.D;
        long vaA = 0x4000_0000L + 0x123;
        long vaB = vaA + (1L << 30);   // the next pud / PDPTE, the same pmd and pte index
        long frameA = 0x200_0000L, frameB = 0x210_0000L, others = 0x300_0000L;
        assertTrue(pt.map(vaA, frameA, 1, flags));
        assertTrue(pt.map(vaB, frameB, 1, flags));
        int spread = 100;   // more walks through other pte tables than it takes to start remembering by pmd index
        for (int i = 1; i <= spread; i++) {
            assertTrue(pt.map(vaA + ((long) i << 21), others + ((long) i << 12), 1, flags));
        }
        CpuRegisters regs = new CpuRegisters(mode);
        regs.setCr3(pt.root);
        PageWalker walker = new PageWalker(memory);
        if (mode.isPae()) {
            assertTrue(walker.loadPdptes(regs));
        }
        WalkResult out = new WalkResult();
        for (int round = 0; round < 3; round++) {
            for (int i = 1; i <= spread; i++) {
                assertTrue(walker.translate(regs, vaA + ((long) i << 21), AccessType.READ, false, false, out));
                assertEquals(others + ((long) i << 12) + 0x123, out.pa);
            }
            for (int k = 0; k < 4; k++) {
                assertTrue(walker.translate(regs, vaA, AccessType.READ, false, false, out), out::toString);
                assertEquals(frameA + 0x123, out.pa, "A in " + mode);
                assertTrue(walker.translate(regs, vaB, AccessType.READ, false, false, out), out::toString);
                assertEquals(frameB + 0x123, out.pa, "B in " + mode);
            }
        }
        // entry changes are seen through a remembered table
        long pteB = pt.entryAddress(vaB, 1);
        memory.storeEntry(pteB, 8, 0);
        assertTrue(walker.translate(regs, vaA, AccessType.READ, false, false, out));
        assertFalse(walker.translate(regs, vaB, AccessType.READ, false, false, out));
        assertEquals(1, out.faultLevel);
        long pteA = pt.entryAddress(vaA, 1);
        memory.storeEntry(pteA, 8, (frameB + PhysicalMemory.PAGE_SIZE) | flags);
        assertTrue(walker.translate(regs, vaA, AccessType.READ, false, false, out));
        assertEquals(frameB + PhysicalMemory.PAGE_SIZE + 0x123, out.pa);
        // the pmd entry now names another pte table: the walk follows it, not the remembered one
        long pmdA = pt.entryAddress(vaA, 2);
        long pmdOther = pt.entryAddress(vaA + (1L << 21), 2);
        memory.storeEntry(pmdA, 8, memory.loadEntry(pmdOther, 8));
        assertTrue(walker.translate(regs, vaA, AccessType.READ, false, false, out));
        assertEquals(others + PhysicalMemory.PAGE_SIZE + 0x123, out.pa);   // that table's entry 0 (va's pte index)
    }

    /** A 4-level layout with the pte tables remembered by pmd index in use (more than 64 other-table walks). */
    private static final class WarmPteCache {
        final PhysicalMemory memory = new PhysicalMemory(64L << 20);
        final PageTableBuilder pt;
        final CpuRegisters regs;
        final PageWalker walker;
        final WalkResult out = new WalkResult();
        static final long FLAGS = PteBits.P | PteBits.RW | PteBits.A | PteBits.D;
        static final long VA = 0x4000_0000L + 0x123;
        static final long OTHERS = 0x300_0000L;
        static final int SPREAD = 100;

        WarmPteCache(PagingMode mode) {
            pt = new PageTableBuilder(mode, memory, 0x10_0000);
            for (int i = 0; i <= SPREAD + 1; i++) {   // pmd indices of VA + 0 .. SPREAD + 1; the last is never walked here
                assertTrue(pt.map(VA + ((long) i << 21), OTHERS + ((long) i << 12), 1, FLAGS));
            }
            regs = new CpuRegisters(mode);
            regs.setCr3(pt.root);
            walker = new PageWalker(memory);
            if (mode.isPae()) {
                assertTrue(walker.loadPdptes(regs));
            }
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i <= SPREAD; i++) {
                    assertTrue(walker.translate(regs, VA + ((long) i << 21), AccessType.READ, false, false, out));
                    assertEquals(OTHERS + ((long) i << 12) + 0x123, out.pa);
                }
            }
        }

        long vaOf(int i) {
            return VA + ((long) i << 21);
        }
    }

    /** With a hook installed after the pte tables are remembered by pmd index, every entry load still reaches it. */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32_PAE", "X86_64", "X86_64_LA57"})
    void hookSeesEveryLoadOnceTablesAreRememberedByPmdIndex(PagingMode mode) {
        WarmPteCache w = new WarmPteCache(mode);
        AtomicInteger loads = new AtomicInteger();
        w.memory.setAccessHook((op, pa) -> {
            if (op == PhysicalMemory.OP_LOAD) {
                loads.incrementAndGet();
            }
        });
        int refs = 0;
        for (int i = 0; i <= WarmPteCache.SPREAD; i++) {
            assertTrue(w.walker.translate(w.regs, w.vaOf(i), AccessType.READ, false, false, w.out));
            refs += w.out.memoryRefs;
        }
        assertEquals(refs, loads.get());
    }

    /**
     * A pmd entry naming a frame that holds nothing (reads as zeros) faults at the pte level,
     * every time: the unbacked frame is not remembered by pmd index (nor in its place the frame
     * remembered from the walk before), however often it is walked.
     */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32_PAE", "X86_64", "X86_64_LA57"})
    void anUnbackedPteTableFaultsEveryTime(PagingMode mode) {
        WarmPteCache w = new WarmPteCache(mode);
        long va = w.vaOf(WarmPteCache.SPREAD + 1);   // a pmd index no walk has used
        long pmd = w.pt.entryAddress(va, 2);
        long unbacked = 0x3F0_0000L;                 // inside memory, never written
        w.memory.storeEntry(pmd, 8, (w.memory.loadEntry(pmd, 8) & 0xFFFL) | unbacked);
        for (int k = 0; k < 70; k++) {   // more faults than it takes to start remembering by pmd index
            assertTrue(w.walker.translate(w.regs, w.vaOf(k), AccessType.READ, false, false, w.out));
            assertFalse(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), w.out::toString);
            assertEquals(1, w.out.faultLevel);
            assertEquals(0, w.out.errorCode & PageFaultError.P);
        }
    }

    /**
     * A pte table in frame 0 (nothing forbids it): neither the frames remembered per level nor
     * the pte tables remembered by pmd index may take pfn 0 for "remembered" before it was read,
     * for a new walker or one that has walked before.
     */
    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_32_PAE", "X86_64", "X86_64_LA57"})
    void aPteTableInFrameZero(PagingMode mode) {
        WarmPteCache w = new WarmPteCache(mode);
        long va = w.vaOf(WarmPteCache.SPREAD + 1);   // a pmd index no walk has used
        long pmd = w.pt.entryAddress(va, 2);
        long table = w.memory.loadEntry(pmd, 8) & ~0xFFFL & 0xF_FFFF_FFFF_FFFFL;
        for (int i = 0; i < 512; i++) {   // move the pte table to frame 0
            w.memory.storeEntry(i * 8L, 8, w.memory.loadEntry(table + i * 8L, 8));
        }
        w.memory.storeEntry(pmd, 8, w.memory.loadEntry(pmd, 8) & 0xFFFL);
        w.memory.zeroFrame(table);
        long expected = WarmPteCache.OTHERS + ((long) (WarmPteCache.SPREAD + 1) << 12) + 0x123;
        assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), w.out::toString);
        assertEquals(expected, w.out.pa);
        PageWalker fresh = new PageWalker(w.memory);
        if (mode.isPae()) {
            assertTrue(fresh.loadPdptes(w.regs));
        }
        assertTrue(fresh.translate(w.regs, va, AccessType.READ, false, false, w.out), w.out::toString);
        assertEquals(expected, w.out.pa);
    }

    /**
     * A table in frame 0 at any level, for a walker that has remembered the table it replaces and
     * for a new one: pfn 0 must not pass for "remembered" (the remembered pfns start at -1), and a
     * walker must not keep reading the table it remembered once the entry above (or CR3) names
     * another (the old table is cleared: reading it would fault).
     */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void aTableInFrameZeroAtAnyLevel(PagingMode mode) {
        for (int level = 1; level <= mode.levels(); level++) {
            if (mode.isPae() && level == 3) {
                continue;   // the PDPT is read into the PDPTE registers, not walked
            }
            WalkWorkloads.Workload w = WalkWorkloads.samePage(mode);
            long va = w.vas[0];
            assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), w.out::toString);
            long expected = w.out.pa;
            long table = w.walker.walkedTable(level);
            for (int i = 0; i < PhysicalMemory.PAGE_SIZE; i += 8) {
                w.memory.storeLong(i, w.memory.loadLong(table + i));
            }
            w.memory.zeroFrame(table);
            boolean top = level == mode.levels();
            if (top) {
                w.regs.setCr3(0);
            } else {
                int bytes = mode.entryBytes();
                long above = (mode.isPae() && level == 2 ? w.regs.topTableAddress() : w.walker.walkedTable(level + 1))
                        + (long) mode.index(va, level + 1) * bytes;
                long flags = mode == PagingMode.X86_32 ? 0xFFFL : 0xFFF0_0000_0000_0FFFL;
                w.memory.storeEntry(above, bytes, w.memory.loadEntry(above, bytes) & flags);
            }
            if (mode.isPae()) {
                assertTrue(w.walker.loadPdptes(w.regs), "PDPTE load");
            }
            String where = mode + ", the table at level " + level + " in frame 0";
            assertTrue(w.walker.translate(w.regs, va, AccessType.READ, false, false, w.out), () -> where + ": " + w.out);
            assertEquals(expected, w.out.pa, where);
            PageWalker fresh = new PageWalker(w.memory);
            assertTrue(fresh.translate(w.regs, va, AccessType.READ, false, false, w.out), () -> where + ", new walker: " + w.out);
            assertEquals(expected, w.out.pa, where + ", new walker");
        }
    }
}
