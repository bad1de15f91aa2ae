package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class MmuTest {

    private static final long MEMORY = 64L << 20;
    private static final long USER_RW = PteBits.P | PteBits.RW | PteBits.US;

    /** A CPU in {@code mode} whose tables are built by {@code pt}, CR3 loaded. */
    private static final class Cpu {
        final PhysicalMemory memory = new PhysicalMemory(MEMORY);
        final PageTableBuilder pt;
        final CpuRegisters regs;
        final Mmu mmu;
        final WalkResult out = new WalkResult();

        Cpu(PagingMode mode) {
            pt = new PageTableBuilder(mode, memory, 0x10_0000);
            regs = new CpuRegisters(mode);
            mmu = new Mmu(memory, regs, TlbConfig.DEFAULT);
        }

        void loadCr3() {
            assertTrue(mmu.writeCr3(pt.root));
        }

        boolean read(long va) {
            return mmu.translate(va, AccessType.READ, true, false, out);
        }

        boolean write(long va) {
            return mmu.translate(va, AccessType.WRITE, true, false, out);
        }
    }

    private static long va(PagingMode mode) {
        return mode.isLongMode() ? 0x7f00_1234_5000L : 0x0804_9000L;
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void staleTranslationIsUsedUntilInvlpg(PagingMode mode) {
        Cpu cpu = new Cpu(mode);
        long va = va(mode);
        cpu.pt.map(va, 0x20_0000, 1, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.read(va + 0x10));
        assertEquals(0x20_0010, cpu.out.pa);
        assertEquals(1, cpu.mmu.misses());

        cpu.pt.set(va, 1, 0);                     // the kernel clears the PTE, no INVLPG
        assertTrue(cpu.read(va + 0x10), "the TLB still holds the old translation");
        assertEquals(0x20_0010, cpu.out.pa);
        assertEquals(1, cpu.mmu.hits());
        assertEquals(0, cpu.out.memoryRefs);

        cpu.mmu.invlpg(va);
        assertFalse(cpu.read(va + 0x10));
        assertEquals(WalkResult.EXC_PF, cpu.out.exception);
        assertEquals(PageFaultError.US, cpu.out.errorCode);   // not present, read, user
    }

    @Test
    void globalEntrySurvivesCr3WriteButNotPgeToggle() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.mmu.setPge(true);
        long kernel = 0xffff_8880_0000_0000L;
        long user = 0x40_0000L;
        cpu.pt.map(kernel, 0x30_0000, 1, PteBits.P | PteBits.RW | PteBits.G);
        cpu.pt.map(user, 0x31_0000, 1, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.mmu.translate(kernel, AccessType.READ, false, false, cpu.out));
        assertTrue(cpu.out.global);
        assertTrue(cpu.read(user));
        cpu.pt.set(kernel, 1, 0);
        cpu.pt.set(user, 1, 0);

        cpu.loadCr3();
        assertTrue(cpu.mmu.translate(kernel, AccessType.READ, false, false, cpu.out), "global entry kept");
        assertEquals(0x30_0000, cpu.out.pa);
        assertFalse(cpu.read(user), "non-global entry flushed by the CR3 write");

        cpu.mmu.setPge(false);
        assertFalse(cpu.mmu.translate(kernel, AccessType.READ, false, false, cpu.out), "PGE toggle flushes globals");
    }

    @Test
    void pcidsAreIsolatedAndNoFlushKeepsEntries() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.regs.setPcide(true);
        long va = 0x40_0000L;
        cpu.pt.map(va, 0x50_0000, 1, USER_RW);
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 1));
        assertTrue(cpu.read(va));
        cpu.pt.set(va, 1, 0x60_0000 | USER_RW);   // remap, no flush

        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 2));
        assertTrue(cpu.read(va));
        assertEquals(0x60_0000, cpu.out.pa, "PCID 2 does not see PCID 1's entry");

        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 1 | CpuRegisters.CR3_NOFLUSH));
        assertTrue(cpu.read(va));
        assertEquals(0x50_0000, cpu.out.pa, "no-flush CR3 write keeps PCID 1's stale entry");

        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 1));
        assertTrue(cpu.read(va));
        assertEquals(0x60_0000, cpu.out.pa, "a flushing CR3 write drops PCID 1's entries");
    }

    @Test
    void invlpgRemovesExactlyOnePageIncludingGlobal() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.mmu.setPge(true);
        long a = 0x40_0000L;
        long b = a + 0x1000;
        cpu.pt.map(a, 0x50_0000, 1, USER_RW | PteBits.G);
        cpu.pt.map(b, 0x51_0000, 1, USER_RW | PteBits.G);
        cpu.loadCr3();
        assertTrue(cpu.read(a));
        assertTrue(cpu.read(b));
        cpu.pt.set(a, 1, 0x70_0000 | USER_RW);
        cpu.pt.set(b, 1, 0x71_0000 | USER_RW);
        cpu.mmu.invlpg(a);
        assertTrue(cpu.read(a));
        assertEquals(0x70_0000, cpu.out.pa);
        assertTrue(cpu.read(b));
        assertEquals(0x51_0000, cpu.out.pa, "the neighbouring page is still cached");
    }

    @Test
    void writeHitOnCleanEntryWalksAndSetsDirty() {
        Cpu cpu = new Cpu(PagingMode.X86_32_PAE);
        long va = va(PagingMode.X86_32_PAE);
        cpu.pt.map(va, 0x20_0000, 1, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        assertFalse(PteBits.dirty(cpu.pt.get(va, 1)));
        assertTrue(cpu.write(va));
        assertTrue(PteBits.dirty(cpu.pt.get(va, 1)), "D set in memory");
        assertEquals(1, cpu.mmu.dirtyRewalks());
        assertEquals(2, cpu.mmu.walks());
        assertTrue(cpu.write(va));
        assertEquals(2, cpu.mmu.walks(), "the entry is now cached dirty: no walk");
        assertEquals(2, cpu.mmu.hits());
    }

    @Test
    void cachedRightsFaultWithoutWalkAndTheFaultInvalidates() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        long va = 0x40_0000L;
        cpu.pt.map(va, 0x20_0000, 1, PteBits.P | PteBits.US);   // read-only
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        cpu.pt.set(va, 1, 0x20_0000 | USER_RW);   // made writable, no flush (Linux: spurious fault)
        assertFalse(cpu.write(va));
        assertEquals(PageFaultError.P | PageFaultError.WR | PageFaultError.US, cpu.out.errorCode);
        assertEquals(1, cpu.mmu.walks(), "the fault came from the TLB entry");
        assertTrue(cpu.write(va), "the page fault dropped the entry; the retry walks");
        assertEquals(2, cpu.mmu.walks());
    }

    @Test
    void stalePagingStructureCacheBypassesChangedUpperEntryUntilInvlpg() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        long va = 0x40_0000L;
        for (int i = 0; i < 3; i++) {
            cpu.pt.map(va + i * 0x1000L, 0x20_0000 + i * 0x1000L, 1, USER_RW);
        }
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        assertEquals(4, cpu.out.memoryRefs);
        cpu.pt.set(va, 4, 0);                     // PML4E cleared, no flush
        assertTrue(cpu.read(va + 0x1000), "walk starts at the cached PDE");
        assertEquals(0x20_1000, cpu.out.pa);
        assertEquals(1, cpu.out.memoryRefs);
        assertEquals(1, cpu.mmu.pscHits());

        cpu.mmu.invlpg(va);
        assertFalse(cpu.read(va + 0x2000));
        assertEquals(4, cpu.out.faultLevel, "the full walk sees the cleared PML4E");
    }

    @Test
    void invpcidTypes() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.regs.setPcide(true);
        cpu.mmu.setPge(true);
        long g = 0xffff_8880_0000_0000L;
        long u = 0x40_0000L;
        cpu.pt.map(g, 0x30_0000, 1, PteBits.P | PteBits.RW | PteBits.G);
        cpu.pt.map(u, 0x31_0000, 1, USER_RW);
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 3));
        assertTrue(cpu.mmu.translate(g, AccessType.READ, false, false, cpu.out));
        assertTrue(cpu.read(u));
        assertEquals(2, cpu.mmu.tlb().size());
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_ADDRESS, 3, g));
        assertEquals(2, cpu.mmu.tlb().size(), "type 0 leaves global entries");
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_SINGLE_CONTEXT, 4, 0));
        assertEquals(2, cpu.mmu.tlb().size(), "another PCID");
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_ALL_EXCEPT_GLOBAL, 0, 0));
        assertEquals(1, cpu.mmu.tlb().size());
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_ALL_INCLUDING_GLOBAL, 0, 0));
        assertEquals(0, cpu.mmu.tlb().size());
        assertFalse(cpu.mmu.invpcid(4, 0, 0));
        assertFalse(cpu.mmu.invpcid(0, 0x1000, 0));
    }

    @Test
    void paeCr3WriteWithReservedPdpteBitIsGpAndKeepsCr3() {
        Cpu cpu = new Cpu(PagingMode.X86_32_PAE);
        cpu.pt.map(0x1000, 0x20_0000, 1, USER_RW);
        cpu.loadCr3();
        long bad = 0x20_0000;
        cpu.memory.storeLong(bad, 0x5000 | PteBits.P | PteBits.RW);   // R/W is reserved in a PDPTE
        assertFalse(cpu.mmu.writeCr3(bad));
        assertEquals(cpu.pt.root, cpu.regs.cr3());
    }

    @Test
    void largePagesGoToTheirOwnArray() {
        Cpu cpu = new Cpu(PagingMode.X86_32);
        long va = 0x0840_0000L;
        cpu.pt.map(va, 0x0c00_0000L, 2, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.read(va + 0x12_3456));
        assertTrue(cpu.read(va + 0x3f_0000));
        assertEquals(0x0c3f_0000L, cpu.out.pa);
        assertEquals(22, cpu.out.pageShift);
        assertEquals(1, cpu.mmu.hits());
    }

    @Test
    void dirtyRewalkOfAGlobalEntryFromAnotherPcidRefillsInPlace() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.regs.setPcide(true);
        cpu.mmu.setPge(true);
        long va = 0xffff_8880_0000_0000L;
        cpu.pt.map(va, 0x30_0000, 1, PteBits.P | PteBits.RW | PteBits.G);
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 1));
        assertTrue(cpu.mmu.translate(va, AccessType.READ, false, false, cpu.out));
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 2));
        assertTrue(cpu.mmu.translate(va, AccessType.WRITE, false, false, cpu.out));
        assertTrue(cpu.mmu.translate(va, AccessType.WRITE, false, false, cpu.out));
        assertEquals(1, cpu.mmu.tlb().size(), "one global entry, not a copy per PCID");
        assertEquals(1, cpu.mmu.dirtyRewalks(), "the refilled entry is dirty");
    }

    /** A TLB hit reports what the walk that filled the entry reported, for every page size. */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void tlbHitReportsWhatTheWalkReported(PagingMode mode) {
        int topLeaf = mode.isLongMode() ? 3 : 2;
        for (int level = 1; level <= topLeaf; level++) {
            Cpu cpu = new Cpu(mode);
            long size = 1L << mode.shift(level);
            long va = mode.isLongMode() ? 0x7f00_0000_0000L + 3 * size : 2 * size;
            long pa = level == 3 ? 1L << 30 : 0x40_0000L;
            cpu.pt.map(va, pa, level, USER_RW | PteBits.A | PteBits.D | PteBits.G);
            cpu.mmu.setPge(true);
            cpu.loadCr3();
            long offset = size - 8;
            assertTrue(cpu.read(va + offset), cpu.out::toString);
            WalkResult walked = copy(cpu.out);
            assertTrue(cpu.read(va + offset));
            assertEquals(1, cpu.mmu.hits(), mode + " level " + level);
            assertEquals(pa + offset, cpu.out.pa);
            assertEquals(walked.va, cpu.out.va);
            assertEquals(walked.pa, cpu.out.pa);
            assertEquals(walked.pageShift, cpu.out.pageShift);
            assertEquals(level, cpu.out.leafLevel);
            assertEquals(level, cpu.out.faultLevel);
            assertEquals(walked.restrictions, cpu.out.restrictions);
            assertEquals(walked.pkey, cpu.out.pkey);
            assertTrue(cpu.out.global);
            assertEquals(WalkResult.EXC_NONE, cpu.out.exception);
            assertEquals(0, cpu.out.errorCode);
            assertEquals(0, cpu.out.memoryRefs);
            assertEquals(0, cpu.out.leafEntry);
        }
    }

    /**
     * A hit stores only what differs between hits (WalkResult.setTlbHit): whatever the previous
     * result was (a walk, a #PF, a #GP, another hit), a hit leaves no field of it behind.
     */
    @Test
    void tlbHitAfterAWalkAFaultOrAGpLeavesNothingStale() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        long va = 0x7f00_1234_5000L;
        long other = va + 0x1000;
        cpu.pt.map(va, 0x20_0000, 1, USER_RW | PteBits.A | PteBits.D);
        cpu.pt.map(other, 0x30_0000, 1, USER_RW | PteBits.A | PteBits.D);
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        assertTrue(cpu.out.leafEntry != 0 && cpu.out.leafEntryAddress != 0 && cpu.out.memoryRefs == 4);
        assertHit(cpu, va + 8, 0x20_0008);
        assertHit(cpu, va + 16, 0x20_0010);   // a hit after a hit
        assertFalse(cpu.read(va + 0x10_0000));   // not mapped: #PF from a walk
        assertHit(cpu, va + 24, 0x20_0018);
        assertFalse(cpu.read(va ^ 1L << 48));   // #GP
        assertHit(cpu, va + 32, 0x20_0020);
        assertTrue(cpu.read(other));   // a walk
        assertHit(cpu, va + 40, 0x20_0028);
        assertHit(cpu, other + 8, 0x30_0008);
    }

    private static void assertHit(Cpu cpu, long va, long pa) {
        long hits = cpu.mmu.hits();
        assertTrue(cpu.read(va), cpu.out::toString);
        assertEquals(hits + 1, cpu.mmu.hits(), "a TLB hit");
        WalkResult r = cpu.out;
        assertEquals(va, r.va);
        assertEquals(pa, r.pa);
        assertEquals(WalkResult.EXC_NONE, r.exception);
        assertEquals(0, r.errorCode);
        assertEquals(1, r.faultLevel);
        assertEquals(12, r.pageShift);
        assertEquals(1, r.leafLevel);
        assertEquals(0, r.leafEntryAddress);
        assertEquals(0, r.leafEntry);
        assertEquals(0, r.restrictions);
        assertEquals(0, r.memoryRefs);
        assertEquals(0, r.restarts);
    }

    /** The #GP check waits for a TLB miss: a non-canonical alias of a cached page must still miss and #GP. */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void nonCanonicalAliasOfACachedPageIsGp(PagingMode mode) {
        Cpu cpu = new Cpu(mode);
        long va = va(mode);
        cpu.pt.map(va, 0x20_0000, 1, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        long alias = mode.isLongMode() ? va ^ (1L << (mode.levels() == 5 ? 57 : 48)) : va | 1L << 32;
        assertFalse(cpu.read(alias));
        assertEquals(WalkResult.EXC_GP, cpu.out.exception);
        assertEquals(0, cpu.mmu.hits());
        assertEquals(1, cpu.mmu.misses(), "a #GP is neither a hit nor a miss");
    }

    private static WalkResult copy(WalkResult r) {
        WalkResult c = new WalkResult();
        c.setTranslation(r.va, r.pa, r.pageShift, r.leafLevel, r.leafEntryAddress, r.leafEntry, r.restrictions, r.pkey,
                r.global, r.memoryRefs);
        return c;
    }

    /**
     * SDM 4.10.4.1: a page fault invalidates the TLB entries of the faulting address. Here the
     * fault comes from the walk of a write hit on a clean entry (4.8) whose PTE the kernel made
     * read-only without a flush: the stale writable entry must not survive the #PF.
     */
    @Test
    void aPageFaultInvalidatesTheTlbEntryOfTheFaultingAddress() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        long va = 0x40_0000L;
        long neighbour = va + 0x1000;
        cpu.pt.map(va, 0x20_0000, 1, USER_RW);
        cpu.pt.map(neighbour, 0x21_0000, 1, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        assertTrue(cpu.read(neighbour));
        cpu.pt.set(va, 1, 0x20_0000 | PteBits.P | PteBits.US | PteBits.A);   // write-protected, no flush
        assertFalse(cpu.write(va), "the clean entry walks again and sees R/W=0");
        assertEquals(PageFaultError.P | PageFaultError.WR | PageFaultError.US, cpu.out.errorCode);
        assertEquals(-1, cpu.mmu.tlb().probe(va, 0), "the faulting address's entry is gone");
        assertTrue(cpu.mmu.tlb().probe(neighbour, 0) >= 0, "only that address's");
    }

    /**
     * SDM 4.10.4.1: the #PF also drops the paging-structure-cache entries that would be used for
     * the faulting address, so the retry after the kernel's fix walks from CR3.
     */
    @Test
    void aPageFaultDropsThePagingStructureCacheEntriesOfTheFaultingAddress() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        long va = 0x40_0000L;
        cpu.pt.map(va, 0x20_0000, 1, USER_RW);
        cpu.pt.map(va + 0x2000, 0x22_0000, 1, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        assertEquals(3, cpu.mmu.pagingStructureCaches().size(2) + cpu.mmu.pagingStructureCaches().size(3)
                + cpu.mmu.pagingStructureCaches().size(4), "PML4E, PDPTE and PDE cached");
        assertFalse(cpu.read(va + 0x1000), "not mapped: a #PF from a walk that started at the PDE cache");
        assertEquals(1, cpu.mmu.pscHits());
        assertEquals(0, cpu.mmu.pagingStructureCaches().deepestHit(va + 0x1000, 0));
        assertTrue(cpu.read(va + 0x2000));
        assertEquals(4, cpu.out.memoryRefs, "the walk after the fault starts at CR3");
        assertEquals(1, cpu.mmu.pscHits());
    }

    /** A CPU with PCIDE=1, PGE=1 that has cached {@code u1}, {@code u2} and global {@code g} in PCID 3 and {@code u1} in PCID 4. */
    private static Cpu twoPcids(long g, long u1, long u2) {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.regs.setPcide(true);
        cpu.mmu.setPge(true);
        cpu.pt.map(g, 0x30_0000, 1, PteBits.P | PteBits.RW | PteBits.G);
        cpu.pt.map(u1, 0x31_0000, 1, USER_RW);
        cpu.pt.map(u2, 0x32_0000, 1, USER_RW);
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 4));
        assertTrue(cpu.read(u1));
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 3));
        assertTrue(cpu.mmu.translate(g, AccessType.READ, false, false, cpu.out));
        assertTrue(cpu.read(u1));
        assertTrue(cpu.read(u2));
        assertEquals(4, cpu.mmu.tlb().size());
        return cpu;
    }

    private static boolean cached(Cpu cpu, long va, int pcid) {
        return cpu.mmu.tlb().probe(va, pcid) >= 0;
    }

    @Test
    void invpcidType0DropsOnlyThatAddressInThatPcid() {
        long g = 0xffff_8880_0000_0000L;
        long u1 = 0x40_0000L;
        long u2 = 0x80_0000L;
        Cpu cpu = twoPcids(g, u1, u2);
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_ADDRESS, 3, u1));
        assertFalse(cached(cpu, u1, 3));
        assertTrue(cached(cpu, u2, 3), "another address of the PCID stays");
        assertTrue(cached(cpu, u1, 4), "the address in another PCID stays");
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_ADDRESS, 3, g));
        assertTrue(cached(cpu, g, 3), "type 0 leaves global entries");
        assertEquals(0, cpu.mmu.pagingStructureCaches().deepestHit(u2, 3), "and drops the PCID's PSC entries");
        assertTrue(cpu.mmu.pagingStructureCaches().deepestHit(u1, 4) != 0, "not another PCID's");
        assertFalse(cpu.mmu.invpcid(Mmu.INVPCID_ADDRESS, 3, 1L << 60), "non-canonical: #GP");
    }

    @Test
    void invpcidType1DropsTheNonGlobalEntriesOfThatPcid() {
        long g = 0xffff_8880_0000_0000L;
        long u1 = 0x40_0000L;
        long u2 = 0x80_0000L;
        Cpu cpu = twoPcids(g, u1, u2);
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_SINGLE_CONTEXT, 3, 0));
        assertFalse(cached(cpu, u1, 3));
        assertFalse(cached(cpu, u2, 3));
        assertTrue(cached(cpu, g, 3), "global entries stay");
        assertTrue(cached(cpu, u1, 4), "another PCID stays");
        assertEquals(0, cpu.mmu.pagingStructureCaches().deepestHit(u1, 3));
        assertTrue(cpu.mmu.pagingStructureCaches().deepestHit(u1, 4) != 0);
    }

    @Test
    void invpcidType3DropsEveryNonGlobalEntryOfEveryPcid() {
        long g = 0xffff_8880_0000_0000L;
        long u1 = 0x40_0000L;
        long u2 = 0x80_0000L;
        Cpu cpu = twoPcids(g, u1, u2);
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_ALL_EXCEPT_GLOBAL, 0, 0));
        assertFalse(cached(cpu, u1, 3));
        assertFalse(cached(cpu, u2, 3));
        assertFalse(cached(cpu, u1, 4));
        assertTrue(cached(cpu, g, 3));
        assertEquals(0, cpu.mmu.pagingStructureCaches().deepestHit(u1, 4));
        assertTrue(cpu.read(u1));
        assertTrue(cpu.mmu.pagingStructureCaches().deepestHit(u1, 3) != 0);
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_ALL_INCLUDING_GLOBAL, 0, 0));
        assertEquals(0, cpu.mmu.tlb().size(), "type 2 drops the global entry too");
        assertEquals(0, cpu.mmu.pagingStructureCaches().deepestHit(u1, 3), "and every PSC entry");
    }

    /**
     * MOV to CR3 with PCIDE=1: bit 63 set keeps the PCID's TLB and paging-structure-cache
     * entries, bit 63 clear drops them (4.10.4.1); with PCIDE=0 every PSC entry goes.
     */
    @Test
    void cr3WriteKeepsOrDropsThePagingStructureCachesLikeTheTlb() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.regs.setPcide(true);
        long va = 0x40_0000L;
        cpu.pt.map(va, 0x50_0000, 1, USER_RW);
        cpu.pt.map(va + 0x1000, 0x51_0000, 1, USER_RW);
        cpu.pt.map(va + 0x2000, 0x52_0000, 1, USER_RW);
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 1));
        assertTrue(cpu.read(va));
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 1 | CpuRegisters.CR3_NOFLUSH));
        assertTrue(cpu.read(va + 0x1000));
        assertEquals(1, cpu.mmu.pscHits(), "no-flush: the walk starts at the cached PDE");
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 1));
        assertTrue(cpu.read(va + 0x2000));
        assertEquals(1, cpu.mmu.pscHits(), "flushing CR3 write: the walk starts at CR3");
        assertEquals(4, cpu.out.memoryRefs);

        Cpu plain = new Cpu(PagingMode.X86_64);
        plain.pt.map(va, 0x50_0000, 1, USER_RW);
        plain.pt.map(va + 0x1000, 0x51_0000, 1, USER_RW);
        plain.loadCr3();
        assertTrue(plain.read(va));
        plain.loadCr3();
        assertTrue(plain.read(va + 0x1000));
        assertEquals(0, plain.mmu.pscHits(), "PCIDE=0: a CR3 write drops every PSC entry");
    }

    /**
     * SDM 4.8: the processor sets A in every paging-structure entry it uses, not only in the
     * leaf; a leaf whose A is already set must not make the walk skip the upper entries.
     */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void aWalkSetsAccessedInEveryUpperEntryEvenWhenTheLeafHasIt(PagingMode mode) {
        Cpu cpu = new Cpu(mode);
        long va = va(mode);
        cpu.pt.map(va, 0x20_0000, 1, USER_RW | PteBits.A);   // upper entries: P RW US, no A
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        for (int level = mode.levels(); level >= 2; level--) {
            if (mode.isPae() && level == 3) {
                continue;   // a PDPTE register has no A flag (4.4.1)
            }
            assertTrue(PteBits.accessed(cpu.pt.get(va, level)), mode + ": A at level " + level);
        }
        assertFalse(PteBits.dirty(cpu.pt.get(va, 1)), "a read sets no D");
    }

    /** The counters the measurements read: walks, misses, hits and the entries walks read from memory. */
    @Test
    void walkCountersAddUpAndResetStatsClearsThem() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        assertEquals(cpu.regs, cpu.mmu.registers());
        long va = 0x40_0000L;
        cpu.pt.map(va, 0x20_0000, 1, USER_RW);
        cpu.pt.map(va + 0x1000, 0x21_0000, 1, USER_RW);
        cpu.loadCr3();
        assertTrue(cpu.read(va));
        assertEquals(4, cpu.mmu.walkMemoryRefs(), "PML4E, PDPTE, PDE, PTE");
        assertTrue(cpu.read(va + 0x1000));
        assertEquals(5, cpu.mmu.walkMemoryRefs(), "from the cached PDE: only the PTE");
        assertTrue(cpu.read(va));
        assertEquals(2, cpu.mmu.walks());
        assertEquals(2, cpu.mmu.misses());
        assertEquals(1, cpu.mmu.hits());
        assertEquals(cpu.pt.get(va, 1), cpu.mmu.walker().translate(cpu.regs, va, AccessType.READ, true, false, cpu.out)
                ? cpu.out.leafEntry : -1, "the walker is the MMU's own");
        cpu.mmu.resetStats();
        assertEquals(0, cpu.mmu.walks() + cpu.mmu.misses() + cpu.mmu.hits() + cpu.mmu.walkMemoryRefs()
                + cpu.mmu.pscHits() + cpu.mmu.dirtyRewalks());
    }

    /** A TLB entry for physical frame 0 (a clean 4 KiB page with no restriction packs to 0) is a hit like any other. */
    @Test
    void aPageAtPhysicalAddressZeroHitsInTheTlb() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        long va = 0x40_0000L;
        cpu.pt.map(va, 0, 1, USER_RW | PteBits.A);
        cpu.loadCr3();
        assertTrue(cpu.read(va + 8));
        assertEquals(8, cpu.out.pa);
        assertTrue(cpu.read(va + 16));
        assertEquals(16, cpu.out.pa);
        assertEquals(1, cpu.mmu.hits());
        assertEquals(1, cpu.mmu.misses());
    }

    /** INVPCID takes PCIDs 0..4095; 4096 is #GP(0) and invalidates nothing. */
    @Test
    void invpcidAcceptsEveryTwelveBitPcid() {
        Cpu cpu = new Cpu(PagingMode.X86_64);
        cpu.regs.setPcide(true);
        long va = 0x40_0000L;
        cpu.pt.map(va, 0x20_0000, 1, USER_RW);
        assertTrue(cpu.mmu.writeCr3(cpu.pt.root | 0xFFF));
        assertTrue(cpu.read(va));
        assertFalse(cpu.mmu.invpcid(Mmu.INVPCID_SINGLE_CONTEXT, 0x1000, 0));
        assertFalse(cpu.mmu.invpcid(Mmu.INVPCID_SINGLE_CONTEXT, -1, 0));
        assertTrue(cached(cpu, va, 0xFFF), "a #GP invalidates nothing");
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_SINGLE_CONTEXT, 0xFFF, 0));
        assertFalse(cached(cpu, va, 0xFFF));
        assertTrue(cpu.mmu.invpcid(Mmu.INVPCID_SINGLE_CONTEXT, 0, 0));
    }
}
