package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

/**
 * The two measurements of issue #4, with their numbers printed (lines starting "MEASURE"):
 * fork+exit of a process with 1 GiB mapped and touched, and 10,000 live processes.
 */
class KernelMeasurementsTest {

    private static final long GIB = 1L << 30;

    @Test
    void forkAndExitOfOneGibTouched() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(2 * GIB).withCpus(2));
        Cpu cpu = k.cpu(0);
        Task p = k.createProcess();
        k.switchTo(cpu, p);
        long a = k.mmap(p, 0, GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        long t0 = System.nanoTime();
        for (long off = 0; off < GIB; off += 4096) {
            assertTrue(k.access(cpu, a + off, AccessType.WRITE) >= 0);
        }
        long touchMs = (System.nanoTime() - t0) / 1_000_000;
        long faults = k.stats().pgfault.get();
        assertEquals(GIB / 4096, p.mm().rss());
        long ptes = p.mm().pgtables(Pgtable.PTE);
        long pmds = p.mm().pgtables(Pgtable.PMD);
        long puds = p.mm().pgtables(Pgtable.PUD);
        assertEquals(((a + GIB - 1) >>> 21) - (a >>> 21) + 1, ptes, "one pte table per 2 MiB the mapping touches");

        long allocs0 = k.allocator().allocations();
        long ipis0 = k.tlb().ipisSent();
        t0 = System.nanoTime();
        Task c = k.fork(p);
        long forkMs = (System.nanoTime() - t0) / 1_000_000;
        long forkAllocs = k.allocator().allocations() - allocs0;
        assertEquals(GIB / 4096, c.mm().rss());
        assertEquals(ptes, c.mm().pgtables(Pgtable.PTE));
        assertEquals(2, k.allocator().pageCount(k.lookup(p.mm(), a) & -4096L));

        long frees0 = k.allocator().frees();
        t0 = System.nanoTime();
        k.exit(c);
        long exitChildMs = (System.nanoTime() - t0) / 1_000_000;
        long childFrees = k.allocator().frees() - frees0;
        t0 = System.nanoTime();
        k.exit(p);
        long exitParentMs = (System.nanoTime() - t0) / 1_000_000;
        long parentFrees = k.allocator().frees() - frees0 - childFrees;
        k.unlazyAll();
        k.checkNoLeaks();
        System.out.printf("MEASURE x86-64 1GiB: touch %d pages in %d ms (%d faults); tables pte=%d pmd=%d pud=%d pgd=1;"
                        + " fork %d ms (%d frames allocated: page tables only, %d PTEs copied);"
                        + " exit child %d ms (%d frames freed), exit parent %d ms (%d frames freed); IPIs %d%n",
                GIB / 4096, touchMs, faults, ptes, pmds, puds, forkMs, forkAllocs, GIB / 4096,
                exitChildMs, childFrees, exitParentMs, parentFrees, k.tlb().ipisSent() - ipis0);
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void tenThousandLiveProcessesFitInTheHeap(PagingMode mode) {
        Runtime rt = Runtime.getRuntime();
        System.gc();
        long heap0 = rt.totalMemory() - rt.freeMemory();
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(GIB).withCpus(1));
        Cpu cpu = k.cpu(0);
        int n = 10_000;
        Task[] tasks = new Task[n];
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Task t = k.createProcess();
            assertNotNull(t, "out of memory at process " + i);
            k.switchTo(cpu, t);
            long a = k.mmap(t, 0, 16 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
            assertTrue(k.writeUserLong(cpu, a, i));
            assertTrue(k.writeUserLong(cpu, t.mm().startStack() - 8, i));
            tasks[i] = t;
        }
        long createMs = (System.nanoTime() - t0) / 1_000_000;
        k.switchTo(cpu, null);
        System.gc();
        long heapMb = (rt.totalMemory() - rt.freeMemory() - heap0) >> 20;
        StringBuilder levels = new StringBuilder();
        for (int l = mode.levels(); l >= 1; l--) {
            levels.append(' ').append(mode.linuxName(l)).append('=').append(k.pageTablePages(l));
        }
        System.out.printf("MEASURE %s 10000 processes: %d ms; page-table pages%s (PAE pgd slab: %d objects in %d pages);"
                        + " heap %d MB (max heap %d MB)%n", mode, createMs, levels, k.arch().pgdSlabObjects(),
                k.arch().pgdSlabPages(), heapMb, rt.maxMemory() >> 20);
        assertTrue(heapMb < 1024, "10,000 processes need " + heapMb + " MB of heap");
        // spot-check isolation, then tear everything down
        k.switchTo(cpu, tasks[1234]);
        assertEquals(1234, k.readUserLong(cpu, tasks[1234].mm().startStack() - 8, -1));
        k.switchTo(cpu, null);
        for (Task t : tasks) {
            k.exit(t);
        }
        k.unlazyAll();
        k.checkNoLeaks();
    }
}
