package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.PteBits;

/** Transparent huge pages: pmd-mapped 2 MiB, split to ptes on partial munmap/mprotect and on COW. */
class ThpTest {

    private static final long HPAGE = 2L << 20;

    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_64", "X86_64_LA57"})
    void partialMunmapSplitsThePmd(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withThp(true));
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        long a = k.mmap(t, 0, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertEquals(0, a & (HPAGE - 1), "THP-sized mappings are 2 MiB aligned");
        long ptesBefore = t.mm().pgtables(Pgtable.PTE);
        for (long off = 0; off < 2 * HPAGE; off += 4096) {
            assertTrue(k.writeUserLong(cpu, a + off, off));
        }
        assertEquals(2, k.stats().thpFaultAlloc.get(), "two faults map 4 MiB");
        assertEquals(ptesBefore, t.mm().pgtables(Pgtable.PTE), "no pte table for pmd-mapped memory");
        assertEquals(21, cpu.mmu().tlb().pageShift(cpu.mmu().tlb().lookup(a, cpu.pcid())), "a 2 MiB TLB entry");
        assertEquals(1024, t.mm().rss());
        long huge = k.lookup(t.mm(), a);
        long free0 = k.allocator().freeFrames();

        // munmap 4 KiB in the middle of the first huge page: split, free exactly one frame
        assertEquals(0, k.munmap(t, a + 4096 * 7, 4096));
        assertEquals(1, k.stats().thpSplitPmd.get());
        assertEquals(ptesBefore + 1, t.mm().pgtables(Pgtable.PTE));
        assertEquals(free0 + 1 - 1, k.allocator().freeFrames(), "one frame freed, one pte table allocated");
        assertEquals(SIGSEGV, k.access(cpu, a + 4096 * 7, AccessType.READ));
        for (long off = 0; off < HPAGE; off += 4096) {
            if (off != 4096 * 7) {
                assertEquals(off, k.readUserLong(cpu, a + off, -1), "data kept across the split at " + off);
                assertEquals(huge + off, k.lookup(t.mm(), a + off), "same frame, now pte-mapped");
            }
        }
        assertEquals(1023, t.mm().rss());

        // mprotect half of the second huge page: split there too
        assertEquals(0, k.mprotect(t, a + HPAGE, HPAGE / 2, PROT_READ));
        assertEquals(2, k.stats().thpSplitPmd.get());
        assertEquals(SIGSEGV, k.access(cpu, a + HPAGE, AccessType.WRITE));
        assertTrue(k.writeUserLong(cpu, a + HPAGE + HPAGE / 2, 1));

        k.exit(t);
        k.unlazyAll();
        k.checkNoLeaks();
        java.util.Set<Long> blocks = new java.util.HashSet<>();
        for (long b; (b = k.allocator().allocHugeUser(0)) >= 0; ) {
            blocks.add(b);
        }
        assertTrue(blocks.contains(huge & -HPAGE), "the split 2 MiB block merged back to order 9");
    }

    @ParameterizedTest
    @EnumSource(value = PagingMode.class, names = {"X86_64", "X86_64_LA57"})
    void forkSharesTheHugePageAndCowSplits(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withThp(true));
        Cpu cpu = k.cpu(0);
        Task p = k.createProcess();
        k.switchTo(cpu, p);
        long a = k.mmap(p, 0, HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(cpu, a, 1));
        assertTrue(k.writeUserLong(cpu, a + 4096, 2));
        Task c = k.fork(p);
        assertTrue(PteBits.large(k.leafEntry(c.mm(), a)), "child maps the same huge page by pmd");
        assertEquals(k.lookup(p.mm(), a), k.lookup(c.mm(), a));
        assertTrue(k.writeUserLong(cpu, a, 10));                // parent: COW → split, copy 4 KiB
        assertFalse(PteBits.large(k.leafEntry(p.mm(), a)));
        k.switchTo(cpu, c);
        assertEquals(1, k.readUserLong(cpu, a, -1));
        assertEquals(2, k.readUserLong(cpu, a + 4096, -1));
        k.switchTo(cpu, p);
        assertEquals(10, k.readUserLong(cpu, a, -1));
        assertEquals(k.lookup(c.mm(), a + 4096), k.lookup(p.mm(), a + 4096), "unwritten subpages still shared");
        k.exit(c);
        k.exit(p);
        k.unlazyAll();
        k.checkNoLeaks();
    }
}
