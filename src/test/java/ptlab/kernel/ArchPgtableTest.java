package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.hw.PteBits;
import ptlab.hw.WalkResult;

/** pgd_alloc/pgd_ctor/pgd_list, PAE pmds, the direct map, free_pgtables floor/ceiling, lock hooks. */
class ArchPgtableTest {

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void newPgdSharesTheKernelHalfAndTheDirectMapWorks(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20));
        Task t = k.createProcess();
        long pgd = t.mm().pgd();
        long swapper = k.initMm().pgd();
        Pgtable pt = k.pgtable();
        int eb = pt.entryBytes();
        int boundary = k.arch().kernelPgdBoundary();
        assertEquals(mode.index(k.layout().pageOffset(), mode.levels()), boundary);
        for (int i = boundary; i < k.arch().ptrsPerPgd(); i++) {
            if (!mode.isPae()) {
                assertEquals(pt.get(swapper + (long) i * eb), pt.get(pgd + (long) i * eb), "kernel entry " + i + " cloned");
            }
        }
        for (int i = 0; i < boundary; i++) {
            assertEquals(mode.isPae(), pt.get(pgd + (long) i * eb) != 0, "user entry " + i + " (PAE: preallocated pmd)");
        }
        // A kernel-mode access through the process's CR3 reaches RAM via the direct map.
        Cpu cpu = k.cpu(0);
        k.switchTo(cpu, t);
        WalkResult w = new WalkResult();
        long pa = 0x123_4568L;
        assertTrue(cpu.mmu().translate(k.layout().pageOffset() + pa, AccessType.WRITE, false, false, w), w.toString());
        assertEquals(pa, w.pa);
        assertTrue(w.pageSize() > 4096, "the direct map uses large pages: " + w.pageSize());
        assertTrue(w.global, "kernel mappings are global");
        k.switchTo(cpu, null);
        k.exit(t);
        k.unlazyAll();
        k.checkNoLeaks();
    }

    @Test
    void paeSharedKernelPmdUses32BytePgdsOffPgdList() {
        Kernel k = new Kernel(PagingMode.X86_32_PAE, KernelConfig.defaults().withRam(64L << 20));
        assertTrue(k.arch().sharedKernelPmd());
        Task a = k.createProcess();
        Task b = k.createProcess();
        Pgtable pt = k.pgtable();
        assertEquals(32, Math.abs(b.mm().pgd() - a.mm().pgd()), "two pgds 32 bytes apart in one slab page");
        assertEquals(2, k.arch().pgdSlabObjects());
        for (int i = 0; i < 4; i++) {
            long e = pt.get(a.mm().pgd() + 8L * i);
            assertEquals(PteBits.P, e & 0xFFF, "PDPTE " + i + ": present, nothing else (the rest is reserved)");
        }
        assertEquals(pt.get(k.initMm().pgd() + 24), pt.get(a.mm().pgd() + 24), "kernel pmd shared with swapper");
        assertEquals(3, a.mm().pgtables(Pgtable.PMD), "three user pmds preallocated");
        assertEquals(0, k.arch().pgdListLength(), "SHARED_KERNEL_PMD: nothing to sync, no pgd_list");
        k.exit(a);
        k.exit(b);
        assertEquals(0, k.arch().pgdSlabPages(), "slab page returned");
        k.checkNoLeaks();
    }

    @Test
    void paeWithoutSharedKernelPmdCopiesItAndListsThePgd() {
        Kernel k = new Kernel(PagingMode.X86_32_PAE, KernelConfig.defaults().withRam(64L << 20).withSharedKernelPmd(false));
        Task a = k.createProcess();
        Pgtable pt = k.pgtable();
        assertEquals(0, a.mm().pgd() & 4095, "a whole page (PTI)");
        assertEquals(4 + 1, a.mm().pgtables(Pgtable.PMD), "four pmds, and PTI's user pmd for the kernel PDPTE");
        long mine = pt.table(pt.get(a.mm().pgd() + 24));
        long swapper = pt.table(pt.get(k.initMm().pgd() + 24));
        assertNotEquals(swapper, mine, "own copy of the kernel pmd");
        for (int i = 0; i < 512; i++) {
            assertEquals(pt.get(swapper + 8L * i), pt.get(mine + 8L * i));
        }
        k.arch().pgd_lock.lock();
        assertEquals(List.of(a.mm()), k.arch().pgdList());
        k.arch().pgd_lock.unlock();
        k.exit(a);
        assertEquals(0, k.arch().pgdListLength());
        k.checkNoLeaks();
    }

    /**
     * pgd_list is an array with holes (ArchPgtable): through adds, deletes anywhere and the
     * compactions and growths they cause, it must keep the linked list's order, newest first,
     * and the walk's pgd addresses must be exactly the listed mms' pgds.
     */
    @Test
    void pgdListKeepsNewestFirstOrderThroughExitsAndCompaction() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(256L << 20));
        List<Task> live = new ArrayList<>();                     // oldest first
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int step = 0; step < 600; step++) {
            if (live.isEmpty() || rnd.nextInt(3) != 0) {
                live.add(k.createProcess());
            } else {
                k.exit(live.remove(rnd.nextInt(live.size())));
            }
            if (step % 37 == 0 || step == 599) {
                assertPgdListIs(k, live);
            }
        }
        while (!live.isEmpty()) {
            k.exit(live.remove(live.size() / 2));
            assertPgdListIs(k, live);
        }
        k.arch().pgd_lock.lock();
        assertEquals(0, k.arch().pgdListSlots(), "no holes left once empty");
        k.arch().pgd_lock.unlock();
        k.checkNoLeaks();
    }

    private static void assertPgdListIs(Kernel k, List<Task> oldestFirst) {
        List<MmStruct> want = new ArrayList<>();
        List<Long> wantPgds = new ArrayList<>();
        for (int i = oldestFirst.size() - 1; i >= 0; i--) {
            want.add(oldestFirst.get(i).mm());
            wantPgds.add(oldestFirst.get(i).mm().pgd());
        }
        k.arch().pgd_lock.lock();
        assertEquals(want, k.arch().pgdList());
        assertEquals(want.size(), k.arch().pgdListLength());
        List<Long> walked = new ArrayList<>();
        long[] pgds = k.arch().pgdListPgds();
        for (int s = k.arch().pgdListSlots() - 1; s >= 0; s--) {
            if (pgds[s] != ArchPgtable.NO_PGD) {
                walked.add(pgds[s]);
            }
        }
        k.arch().pgd_lock.unlock();
        assertEquals(wantPgds, walked);
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void freePgtablesKeepsTablesANeighbourStillUses(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20));
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        long pmdSpan = k.pgtable().size(Pgtable.PMD);
        long base = 0x2000_0000L;                                 // pmd-aligned in every mode
        long a = k.mmap(t, base, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        long b = k.mmap(t, base + 2 * 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        assertTrue(k.writeUserLong(cpu, a, 1));
        assertTrue(k.writeUserLong(cpu, b, 2));
        long ptes = t.mm().pgtables(Pgtable.PTE);
        assertEquals(0, k.munmap(t, a, 4096));
        assertEquals(ptes, t.mm().pgtables(Pgtable.PTE), "b still lives in that pte table (ceiling)");
        assertEquals(2, k.readUserLong(cpu, b, -1));
        assertEquals(0, k.munmap(t, b, 4096));
        assertEquals(ptes - 1, t.mm().pgtables(Pgtable.PTE), "last user gone: pte table freed");
        // A vma in the next pmd span does not keep this one's table alive.
        long c = k.mmap(t, base + pmdSpan, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        long d = k.mmap(t, base + pmdSpan - 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        assertTrue(k.writeUserLong(cpu, c, 3));
        assertTrue(k.writeUserLong(cpu, d, 4));
        long ptes2 = t.mm().pgtables(Pgtable.PTE);
        assertEquals(0, k.munmap(t, d, 4096));
        assertEquals(ptes2 - 1, t.mm().pgtables(Pgtable.PTE), "d's pte table covered nothing else");
        assertEquals(3, k.readUserLong(cpu, c, -1));
    }

    @Test
    void interleavingSeesBalancedAcquireAndRelease() {
        List<String> ops = new ArrayList<>();
        boolean[] on = new boolean[1];
        Interleaving obs = new Interleaving() {
            @Override
            public void afterAcquire(KernelLock lock, int mode) {
                if (on[0]) {
                    ops.add("+" + lock);
                }
            }

            @Override
            public void beforeRelease(KernelLock lock, int mode) {
                if (on[0]) {
                    ops.add("-" + lock);
                }
            }
        };
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20), obs, KernelVariant.CORRECT);
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        long a = k.mmap(t, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        on[0] = true;
        assertTrue(k.writeUserLong(cpu, a, 1));
        on[0] = false;
        assertTrue(ops.get(0).contains("mmap_lock"), ops.toString());
        assertTrue(ops.stream().anyMatch(s -> s.contains("page_table_lock")), "pud/pmd populated: " + ops);
        assertTrue(ops.stream().anyMatch(s -> s.contains("ptl@")), "split pte lock: " + ops);
        assertEquals(ops.stream().filter(s -> s.startsWith("+")).count(), ops.stream().filter(s -> s.startsWith("-")).count());
        assertTrue(ops.get(ops.size() - 1).contains("mmap_lock"), ops.toString());
    }

    /**
     * PTI on PAE (SHARED_KERNEL_PMD 0): Linux v6.6 pgd_alloc also allocates the user copy of the
     * pgd (PGD_ALLOCATION_ORDER 1) and PREALLOCATED_USER_PMDS = KERNEL_PGD_PTRS pmds for its
     * kernel part, filled by pgd_prepopulate_user_pmd; pgd_free gives them back. The old model
     * allocated only the kernel side, undercounting fork's work and page-table memory.
     */
    @ParameterizedTest
    @EnumSource(VmSplit.class)
    void paePtiPreallocatesTheUserPgdAndItsKernelPmds(VmSplit split) {
        Kernel k = new Kernel(PagingMode.X86_32_PAE,
                KernelConfig.defaults().withRam(64L << 20).withSharedKernelPmd(false).withVmSplit(split));
        int kernelPdptes = 4 - k.arch().kernelPgdBoundary();
        long before = k.allocator().inUse(FrameUse.PAGE_TABLE);
        Task a = k.createProcess();
        assertEquals(2 + 4 + kernelPdptes, k.allocator().inUse(FrameUse.PAGE_TABLE) - before,
                "two pgd pages, four pmds, and a user pmd per kernel PDPTE");
        assertEquals(2, a.mm().pgtables(Pgtable.PGD));
        assertEquals(4 + kernelPdptes, a.mm().pgtables(Pgtable.PMD));
        Pgtable pt = k.pgtable();
        long userPgd = a.mm().user_pgd;
        assertNotEquals(0, userPgd);
        for (int i = 0; i < 4; i++) {
            long e = pt.get(userPgd + 8L * i);
            assertEquals(i >= k.arch().kernelPgdBoundary(), e != 0, "user-copy PDPTE " + i);
            if (e != 0) {
                long swapperPmd = pt.table(pt.get(k.initMm().pgd() + 8L * i));
                assertEquals(pt.get(swapperPmd + 8), pt.get(pt.table(e) + 8), "a copy of the kernel pmd");
            }
        }
        Task child = k.fork(a);
        assertEquals(2, child.mm().pgtables(Pgtable.PGD), "fork allocates the user side too");
        k.exit(child);
        k.exit(a);
        k.checkNoLeaks();

        Kernel shared = new Kernel(PagingMode.X86_32_PAE, KernelConfig.defaults().withRam(64L << 20).withVmSplit(split));
        Task s = shared.createProcess();
        assertEquals(0, s.mm().user_pgd, "SHARED_KERNEL_PMD (no PTI): no user copy");
        shared.exit(s);
        shared.checkNoLeaks();
    }
}
