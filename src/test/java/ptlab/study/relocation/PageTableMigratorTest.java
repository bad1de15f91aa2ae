package ptlab.study.relocation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;

/** The migrator outside any machine: every level of every mode moves, or is refused with the mail's reason. */
class PageTableMigratorTest {

    record Setup(Kernel k, Task t, long va) {
    }

    static Setup setup(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(2).withNodes(2));
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        long va = k.mmap(t, 0, 64 * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        for (int i = 0; i < 64; i++) {
            assertTrue(k.writeUserLong(k.cpu(0), va + i * 4096L, i + 1));
        }
        return new Setup(k, t, va);
    }

    /** Linux levels that have a page-sized table of their own in {@code mode} (user half). */
    static int[] movable(PagingMode mode) {
        return switch (mode) {
            case X86_32 -> new int[]{Pgtable.PTE, Pgtable.PGD};
            case X86_32_PAE -> new int[]{Pgtable.PTE, Pgtable.PMD};
            case X86_64 -> new int[]{Pgtable.PTE, Pgtable.PMD, Pgtable.PUD, Pgtable.PGD};
            case X86_64_LA57 -> new int[]{Pgtable.PTE, Pgtable.PMD, Pgtable.PUD, Pgtable.P4D, Pgtable.PGD};
        };
    }

    @ParameterizedTest(name = "{1} moves every table of {0} to node 1 and the process reads its data")
    @CsvSource({"x86-32, safe", "x86-32-pae, safe", "x86-64, safe", "x86-64-la57, safe",
            "x86-32, safe-stall", "x86-32-pae, safe-stall", "x86-64, safe-stall", "x86-64-la57, safe-stall",
            "x86-32, naive", "x86-64-la57, naive"})
    void everyMovableLevelMoves(String arch, String protocol) {
        PagingMode mode = PagingMode.fromCliName(arch);
        Setup s = setup(mode);
        Kernel k = s.k();
        for (int level : movable(mode)) {
            PageTableMigrator m = new PageTableMigrator(k, s.t().mm(), k.cpu(1), null);
            long before = m.find(level, s.va()).table();
            assertEquals(0, k.memory().nodeOf(before), "setup allocates on node 0");
            MoveResult r = RelocationProtocol.byName(protocol).move(m, level, s.va(), 1);
            assertTrue(r.moved(), r.toString());
            assertEquals(before, r.oldTable());
            assertEquals(1, k.memory().nodeOf(r.newTable()), k.pgtable().name(level));
            assertEquals(r.newTable(), m.find(level, s.va()).table());
            for (int i = 0; i < 64; i++) {
                assertEquals(i + 1, k.readUserLong(k.cpu(0), s.va() + i * 4096L, -1), "after moving " + k.pgtable().name(level));
                assertEquals(k.lookup(s.t().mm(), s.va() + i * 4096L) & ~0xFFFL,
                        k.access(k.cpu(0), s.va() + i * 4096L, AccessType.READ) & ~0xFFFL);
            }
        }
        k.exit(s.t());
        k.unlazyAll();
        k.checkNoLeaks();
    }

    @ParameterizedTest(name = "{0}: refusals")
    @ValueSource(strings = {"x86-32", "x86-32-pae", "x86-64", "x86-64-la57"})
    void refusalsAreResults(String arch) {
        PagingMode mode = PagingMode.fromCliName(arch);
        Setup s = setup(mode);
        Kernel k = s.k();
        PageTableMigrator init = new PageTableMigrator(k, k.initMm(), k.cpu(1), null);
        MoveResult r = new SafeMerge().move(init, Pgtable.PTE, s.va(), 1);
        assertEquals(MoveResult.Status.REFUSED, r.status());
        assertTrue(r.reason().contains("init_mm"), r.reason());
        PageTableMigrator m = new PageTableMigrator(k, s.t().mm(), k.cpu(1), null);
        if (mode.isPae()) {
            MoveResult pgd = new SafeMerge().move(m, Pgtable.PGD, s.va(), 1);
            assertEquals(MoveResult.Status.REFUSED, pgd.status());
            assertTrue(pgd.reason().contains("32 bytes"), pgd.reason());
        }
        if (mode != PagingMode.X86_64_LA57) {
            MoveResult p4d = new Naive().move(m, Pgtable.P4D, s.va(), 1);
            assertEquals(MoveResult.Status.REFUSED, p4d.status());
            assertTrue(p4d.reason().contains("folded"), p4d.reason());
        }
        long kernelVa = k.layout().pageOffset();
        MoveResult kern = new SafeMerge().move(m, Pgtable.PTE, kernelVa, 1);
        assertEquals(MoveResult.Status.REFUSED, kern.status());
        assertNotEquals(null, kern.reason());
    }

    @ParameterizedTest(name = "{0}: replicas serve node 1, A/D are OR-ed, updates reach every copy")
    @ValueSource(strings = {"x86-32", "x86-32-pae", "x86-64", "x86-64-la57"})
    void replicasStayCoherent(String arch) {
        PagingMode mode = PagingMode.fromCliName(arch);
        Setup s = setup(mode);
        Kernel k = s.k();
        Task other = k.cloneThread(s.t());
        k.switchTo(k.cpu(1), other);                               // CPU1 is on node 1
        Replicate rep = new Replicate();
        PageTableMigrator m = new PageTableMigrator(k, s.t().mm(), k.cpu(1), null);
        MoveResult r = rep.move(m, Pgtable.PTE, s.va(), 1);
        assertTrue(r.moved(), r.toString());
        long top = rep.replicas().top(1);
        assertEquals(top, k.cpu(1).registers().cr3() & ~0xFFFL);
        assertEquals(1, k.memory().nodeOf(top));
        assertTrue(rep.replicas().pages() >= mode.levels());
        // CPU1 writes through the replica: D is set there; the kernel's read sees it
        long va = s.va() + 5 * 4096L;
        int[] level = new int[1];
        long ptep = k.pgtable().walk(s.t().mm(), va, level);
        k.pgtable().set(ptep, k.pgtable().get(ptep) & ~ptlab.hw.PteBits.D);
        k.cpu(1).mmu().flushAll();
        assertTrue(k.writeUserLong(k.cpu(1), va, 99));
        assertTrue(Pgtable.pte_dirty(k.leafEntry(s.t().mm(), va)), "D set in the replica must be seen by the kernel");
        assertEquals(99, k.readUserLong(k.cpu(0), va, -1));
        // munmap on CPU0 updates the master; CPU1's replica must follow
        assertEquals(0, k.munmap(s.t(), va, 4096));
        k.cpu(1).mmu().flushAll();
        assertTrue(k.access(k.cpu(1), va, AccessType.READ) < 0, "the replica still maps an unmapped page");
    }

    /**
     * With PCID a CPU that switched away keeps the mm's TLB and paging-structure-cache entries
     * under its ASID while the pgd moves. They are safe to reuse: the PML4E-cache entries hold
     * the pgd entries' contents (the tables below, which did not move), not the old pgd page, and
     * switching back loads CR3 from mm->pgd — the new page. Here the old pgd's frame is filled
     * with entries pointing nowhere after the move; CPU1 switches back and every page still reads
     * its data through its own walks.
     */
    @ParameterizedTest(name = "{0}: an ASID switched out during a pgd move walks the new pgd when it returns")
    @ValueSource(strings = {"x86-64", "x86-64-la57"})
    void pcidAsidSwitchedOutDuringPgdMove(String arch) {
        PagingMode mode = PagingMode.fromCliName(arch);
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(2).withNodes(2).withPcid(true));
        Task t = k.createProcess();
        Task other = k.createProcess();
        Task third = k.createProcess();
        k.switchTo(k.cpu(0), third);                                          // the migrator's CPU runs another mm
        k.switchTo(k.cpu(1), t);
        long va = k.mmap(t, 0, 64 * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        for (int i = 0; i < 64; i++) {
            assertTrue(k.writeUserLong(k.cpu(1), va + i * 4096L, i + 1));   // CPU1's TLB and caches fill
        }
        k.switchTo(k.cpu(1), other);                                          // t's ASID stays on CPU1
        int asid = k.cpu(1).pcid();

        PageTableMigrator m = new PageTableMigrator(k, t.mm(), k.cpu(0), null);
        MoveResult r = new SafeMerge().move(m, Pgtable.PGD, va, 1);
        assertTrue(r.moved(), r.toString());
        assertEquals(r.newTable(), t.mm().pgd());
        for (int i = 0; i < 512; i++) {                                       // the old pgd page is garbage now
            k.memory().storeLong(r.oldTable() + i * 8L, 0x7fff_f000L | 0x67);
        }

        k.switchTo(k.cpu(1), t);
        for (int i = 0; i < 64; i++) {
            assertEquals(i + 1, k.readUserLong(k.cpu(1), va + i * 4096L, -1), "page " + i + " after the pgd move");
        }
        assertEquals(r.newTable(), k.cpu(1).registers().cr3() & ~0xFFFL, "CR3 is the new pgd (PCID " + asid + ")");
        k.exit(t);
        k.exit(other);
        k.exit(third);
        k.unlazyAll();
    }
}
