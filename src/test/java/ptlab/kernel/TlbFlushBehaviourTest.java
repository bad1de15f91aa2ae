package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

/**
 * arch/x86/mm/tlb.c as a kernel developer names it (Linux v6.6): the ASID cache of
 * choose_new_asid(), flush_tlb_func()'s choice between INVLPG of the range and a full flush,
 * tlb_single_page_flush_ceiling, and the flush and IPI counts the project measures.
 */
class TlbFlushBehaviourTest {

    private static final long VA = 0x1000_0000L;
    private static final int RW = PROT_READ | PROT_WRITE;
    private static final int ANON_FIXED = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

    private static Kernel boot(int cpus, boolean pcid) {
        return new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(cpus).withPcid(pcid));
    }

    /** A process with a thread on each of cpu0 and cpu1, {@code pages} pages at VA written from both. */
    private static Task twoCpuProcess(Kernel k, int pages) {
        Task t = k.createProcess();
        Task thread = k.cloneThread(t);
        k.switchTo(k.cpu(0), t);
        k.switchTo(k.cpu(1), thread);
        assertEquals(VA, k.mmap(t, VA, pages * 4096L, RW, ANON_FIXED));
        for (int i = 0; i < pages; i++) {
            assertTrue(k.writeUserLong(k.cpu(i % 2), VA + i * 4096L, i));
            assertEquals(i, k.readUserLong(k.cpu((i + 1) % 2), VA + i * 4096L, -1));   // cached on both
        }
        return t;
    }

    @Test
    void flushTlbFuncInvalidatesEachPageUpToTheCeiling() {
        Kernel k = boot(2, false);
        int n = TlbFlush.TLB_SINGLE_PAGE_FLUSH_CEILING;
        Task t = twoCpuProcess(k, n);
        long[] pages = {k.cpu(0).pageFlushes(), k.cpu(1).pageFlushes()};
        long[] full = {k.cpu(0).fullFlushes(), k.cpu(1).fullFlushes()};
        long ipis = k.tlb().ipisSent();
        long requests = k.tlb().flushRequests();
        assertEquals(0, k.mprotect(t, VA, n * 4096L, PROT_READ));
        for (int c = 0; c < 2; c++) {
            assertEquals(n, k.cpu(c).pageFlushes() - pages[c], "cpu" + c + ": one INVLPG per page");
            assertEquals(0, k.cpu(c).fullFlushes() - full[c], "cpu" + c + ": no full flush");
        }
        assertEquals(1, k.tlb().ipisSent() - ipis, "one IPI, to cpu1");
        assertEquals(1, k.tlb().flushRequests() - requests);
        for (int i = 0; i < n; i++) {
            assertEquals(SIGSEGV, k.access(k.cpu(i % 2), VA + i * 4096L, AccessType.WRITE), "page " + i);
        }
    }

    @Test
    void flushTlbFuncDoesAFullFlushWhenTheRangeExceedsTheCeiling() {
        Kernel k = boot(2, false);
        int n = TlbFlush.TLB_SINGLE_PAGE_FLUSH_CEILING + 1;
        Task t = twoCpuProcess(k, n);
        long[] pages = {k.cpu(0).pageFlushes(), k.cpu(1).pageFlushes()};
        long[] full = {k.cpu(0).fullFlushes(), k.cpu(1).fullFlushes()};
        long ipis = k.tlb().ipisSent();
        assertEquals(0, k.mprotect(t, VA, n * 4096L, PROT_READ));
        for (int c = 0; c < 2; c++) {
            assertEquals(0, k.cpu(c).pageFlushes() - pages[c], "cpu" + c + ": no INVLPG");
            assertEquals(1, k.cpu(c).fullFlushes() - full[c], "cpu" + c + ": one CR3 reload");
        }
        assertEquals(1, k.tlb().ipisSent() - ipis);
        for (int i = 0; i < n; i++) {
            assertEquals(SIGSEGV, k.access(k.cpu(i % 2), VA + i * 4096L, AccessType.WRITE), "page " + i);
        }
    }

    /**
     * Two flushes of one page each are in flight before cpu1 runs either IPI: the first request
     * is not the next generation of the mm any more (flush_tlb_func: f->new_tlb_gen ==
     * local_tlb_gen + 1 && f->new_tlb_gen == mm_tlb_gen fails), so cpu1 does one full flush for
     * both, and the second IPI finds it up to date and does nothing.
     */
    @Test
    void aCpuThatMissedAGenerationDoesOneFullFlushForBothRequests() {
        Kernel k = boot(2, false);
        Task t = twoCpuProcess(k, 2);
        List<FlushTlbInfo> inFlight = new ArrayList<>();
        k.tlb().setIpiSender((self, cpus, mask, info) -> {
            for (Cpu target : cpus) {                 // the IPIs are sent; nobody runs them yet
                if (target != self && mask.test(target.id())) {
                    FlushTlbInfo copy = new FlushTlbInfo();   // the sender's per-CPU info is reused
                    copy.set(info.mm, info.start, info.end, info.stride_shift, info.freed_tables, info.new_tlb_gen,
                            info.initiating_cpu);
                    inFlight.add(copy);
                }
            }
        });
        assertEquals(0, k.mprotect(t, VA, 4096, PROT_READ));
        assertEquals(0, k.mprotect(t, VA + 4096, 4096, PROT_READ));
        assertEquals(2, inFlight.size());
        Cpu cpu1 = k.cpu(1);
        long pages = cpu1.pageFlushes();
        long full = cpu1.fullFlushes();
        long cr3 = cpu1.cr3Writes();
        cpu1.flush_tlb_func(inFlight.get(0), false);
        assertEquals(1, cpu1.fullFlushes() - full, "behind by two generations: a full flush");
        assertEquals(1, cpu1.cr3Writes() - cr3, "by a CR3 reload");
        assertEquals(0, cpu1.pageFlushes() - pages);
        cpu1.flush_tlb_func(inFlight.get(1), false);
        assertEquals(1, cpu1.fullFlushes() - full, "already at the mm's generation: nothing to do");
        assertEquals(0, cpu1.pageFlushes() - pages);
        assertEquals(2, cpu1.ipisReceived());
        k.tlb().setIpiSender(null);
        assertEquals(SIGSEGV, k.access(cpu1, VA, AccessType.WRITE));
        assertEquals(SIGSEGV, k.access(cpu1, VA + 4096, AccessType.WRITE));
    }

    /**
     * choose_new_asid(): ASIDs are handed out in order (init_mm took ASID 0 at boot; ASID n runs
     * as PCID n+1, kern_pcid), and once all TLB_NR_DYN_ASIDS are taken the next mm takes one
     * round-robin — with a flush, or it would run on the previous owner's translations.
     */
    @Test
    void asidReuseRoundRobinFlushesThePreviousOwnersEntries() {
        Kernel k = boot(1, true);
        Cpu cpu = k.cpu(0);
        int n = Cpu.TLB_NR_DYN_ASIDS;
        assertEquals(1, cpu.pcid(), "init_mm on ASID 0, PCID 1: PCID 0 is left for no-PCID use");
        Task[] tasks = new Task[n + 1];
        for (int i = 0; i <= n; i++) {
            tasks[i] = k.createProcess();
        }
        for (int i = 0; i < n - 1; i++) {
            k.switchTo(cpu, tasks[i]);
            assertEquals(i + 2, cpu.pcid(), "mm " + i + " gets the next free ASID");
            if (i == 0) {
                assertEquals(VA, k.mmap(tasks[0], VA, 4096, RW, ANON_FIXED));
                assertTrue(k.writeUserLong(cpu, VA, 42));
            }
        }
        k.switchTo(cpu, tasks[n - 1]);
        assertEquals(1, cpu.pcid(), "every ASID is taken: ASID 0 again, round-robin");
        long full = cpu.fullFlushes();
        k.switchTo(cpu, tasks[n]);
        assertEquals(2, cpu.pcid(), "then ASID 1, mm 0's");
        assertEquals(1, cpu.fullFlushes() - full, "a reused ASID is flushed");
        assertEquals(SIGSEGV, k.access(cpu, VA, AccessType.READ), "mm " + n + " has nothing at VA; mm 0's entry is gone");

        k.switchTo(cpu, tasks[0]);
        assertEquals(3, cpu.pcid(), "mm 0 lost its ASID: it takes the next one round-robin");
        assertEquals(42, k.readUserLong(cpu, VA, -1));
        for (int i = 2; i < n - 1; i++) {
            full = cpu.fullFlushes();
            k.switchTo(cpu, tasks[i]);
            assertEquals(i + 2, cpu.pcid(), "mm " + i + " still owns its ASID");
            assertEquals(full, cpu.fullFlushes(), "and it is up to date: CR3 written with the no-flush bit");
        }
    }

    /** Switching back to an mm on an ASID whose generation is behind flushes it; one that is current does not. */
    @Test
    void switchingBackToAnMmOnAnAsidWhoseGenerationIsBehindFlushesIt() {
        Kernel k = boot(2, true);
        Cpu cpu = k.cpu(0);
        Task a = k.createProcess();
        Task b = k.createProcess();
        k.switchTo(cpu, a);
        assertEquals(VA, k.mmap(a, VA, 4096, RW, ANON_FIXED));
        assertTrue(k.writeUserLong(cpu, VA, 1));
        k.switchTo(cpu, b);
        long full = cpu.fullFlushes();
        k.switchTo(cpu, a);
        assertEquals(full, cpu.fullFlushes(), "a's ASID is current: no flush");
        long misses = cpu.mmu().misses();
        assertTrue(k.writeUserLong(cpu, VA, 2));
        assertEquals(misses, cpu.mmu().misses(), "the entry survived");

        k.switchTo(cpu, b);
        k.switchTo(k.cpu(1), a);
        assertEquals(0, k.mprotect(a, VA, 4096, PROT_READ));   // a's tlb_gen moves on; cpu0 runs b
        k.switchTo(k.cpu(1), null);
        k.unlazy(k.cpu(1));
        full = cpu.fullFlushes();
        int pcid = cpu.pcid();
        k.switchTo(cpu, a);
        assertNotEquals(pcid, cpu.pcid());
        assertEquals(1, cpu.fullFlushes() - full, "a's ASID is behind: flushed on the way in");
        assertEquals(SIGSEGV, k.access(cpu, VA, AccessType.WRITE), "no stale writable entry");
    }

    /** Without PCID every switch to another mm writes CR3 without the no-flush bit: a full flush. */
    @Test
    void withoutPcidEverySwitchFlushes() {
        Kernel k = boot(1, false);
        Cpu cpu = k.cpu(0);
        Task a = k.createProcess();
        Task b = k.createProcess();
        long full = cpu.fullFlushes();
        long cr3 = cpu.cr3Writes();
        k.switchTo(cpu, a);
        k.switchTo(cpu, b);
        k.switchTo(cpu, a);
        assertEquals(3, cpu.fullFlushes() - full);
        assertEquals(3, cpu.cr3Writes() - cr3);
        assertEquals(0, cpu.pcid());
    }

    /** reload_mm_cr3(): the CPU running the mm reloads CR3 with a flush; a CPU running another mm does nothing. */
    @Test
    void reloadMmCr3FlushesOnlyWhereTheMmIsLoaded() {
        Kernel k = boot(2, true);
        Task a = k.createProcess();
        Task b = k.createProcess();
        k.switchTo(k.cpu(0), a);
        k.switchTo(k.cpu(1), b);
        long full0 = k.cpu(0).fullFlushes();
        long cr3w1 = k.cpu(1).cr3Writes();
        int pcid = k.cpu(0).pcid();
        k.tlb().reload_mm_cr3(k.cpu(0), a.mm());
        k.tlb().reload_mm_cr3(k.cpu(1), a.mm());
        assertEquals(1, k.cpu(0).fullFlushes() - full0);
        assertEquals(pcid, k.cpu(0).pcid(), "same ASID");
        assertEquals(cr3w1, k.cpu(1).cr3Writes(), "cpu1 runs b");
    }

    /**
     * flush_tlb_kernel_range(): every CPU drops the range (INVLPG per page up to the ceiling,
     * else __flush_tlb_all()), the others by IPI.
     */
    @Test
    void kernelRangeFlushReachesEveryCpu() {
        Kernel k = boot(3, false);
        long start = 0xffff_c900_0000_0000L;
        long[] pages = new long[3];
        long[] full = new long[3];
        for (int c = 0; c < 3; c++) {
            pages[c] = k.cpu(c).pageFlushes();
            full[c] = k.cpu(c).fullFlushes();
        }
        long ipis = k.tlb().ipisSent();
        k.tlb().flush_tlb_kernel_range(k.cpu(1), start, start + 4 * 4096L);
        assertEquals(2, k.tlb().ipisSent() - ipis, "all but the caller by IPI");
        for (int c = 0; c < 3; c++) {
            assertEquals(4, k.cpu(c).pageFlushes() - pages[c], "cpu" + c);
            assertEquals(full[c], k.cpu(c).fullFlushes(), "cpu" + c);
        }
        assertEquals(1, k.cpu(0).ipisReceived());
        assertEquals(0, k.cpu(1).ipisReceived(), "the caller flushes locally");
        k.tlb().flush_tlb_kernel_range(k.cpu(1), start, start + 34 * 4096L);
        for (int c = 0; c < 3; c++) {
            assertEquals(4, k.cpu(c).pageFlushes() - pages[c], "cpu" + c + ": above the ceiling, no INVLPG");
            assertEquals(1, k.cpu(c).fullFlushes() - full[c], "cpu" + c);
        }
        k.tlb().flush_tlb_all(null);
        assertEquals(2 + 2 + 3, k.tlb().ipisSent() - ipis, "not called on a CPU: every CPU by IPI");
        for (int c = 0; c < 3; c++) {
            assertEquals(2, k.cpu(c).fullFlushes() - full[c], "cpu" + c);
        }
    }

    /** flush_tlb_mm_range() from outside any CPU: every CPU in mm_cpumask gets the IPI. */
    @Test
    void aFlushNotIssuedOnACpuSendsAnIpiToEveryCpuInTheMask() {
        Kernel k = boot(3, false);
        Task t = twoCpuProcess(k, 1);
        long ipis = k.tlb().ipisSent();
        long[] got = {k.cpu(0).ipisReceived(), k.cpu(1).ipisReceived(), k.cpu(2).ipisReceived()};
        k.tlb().flush_tlb_mm(null, t.mm());
        assertEquals(2, k.tlb().ipisSent() - ipis);
        assertEquals(1, k.cpu(0).ipisReceived() - got[0]);
        assertEquals(1, k.cpu(1).ipisReceived() - got[1]);
        assertEquals(0, k.cpu(2).ipisReceived() - got[2], "cpu2 never ran the mm");
        assertEquals(0, k.readUserLong(k.cpu(1), VA, -1), "still mapped: the flush only dropped cached entries");
    }

    /** flush_tlb_kernel_range() of exactly the ceiling's 33 pages still invalidates page by page. */
    @Test
    void aKernelRangeOfExactlyTheCeilingIsFlushedPageByPage() {
        Kernel k = boot(2, false);
        long start = 0xffff_c900_0000_0000L;
        int n = TlbFlush.TLB_SINGLE_PAGE_FLUSH_CEILING;
        long requests = k.tlb().flushRequests();
        long[] pages = {k.cpu(0).pageFlushes(), k.cpu(1).pageFlushes()};
        long[] full = {k.cpu(0).fullFlushes(), k.cpu(1).fullFlushes()};
        k.tlb().flush_tlb_kernel_range(k.cpu(0), start, start + n * 4096L);
        assertEquals(1, k.tlb().flushRequests() - requests);
        for (int c = 0; c < 2; c++) {
            assertEquals(n, k.cpu(c).pageFlushes() - pages[c], "cpu" + c);
            assertEquals(0, k.cpu(c).fullFlushes() - full[c], "cpu" + c);
        }
    }

    /** __flush_tlb_all(): a kernel flush above the ceiling drops global entries too, on every CPU. */
    @Test
    void aFullKernelFlushDropsGlobalEntriesOnEveryCpu() {
        Kernel k = boot(2, false);
        long va = 0xffff_c900_0000_0000L;
        for (int c = 0; c < 2; c++) {
            k.cpu(c).mmu().tlb().insert(va, 0, 12, 0x40_0000L, 0, 0, true, false);   // a global vmalloc entry
        }
        k.tlb().flush_tlb_all(k.cpu(0));
        for (int c = 0; c < 2; c++) {
            assertEquals(-1, k.cpu(c).mmu().tlb().probe(va, 0), "cpu" + c + " still holds the global entry");
        }
    }

    /** flush_tlb_page() (ptep_clear_flush): that one page, on every CPU running the mm. */
    @Test
    void flushTlbPageDropsThatPageEverywhere() {
        Kernel k = boot(2, false);
        Task t = twoCpuProcess(k, 2);
        long[] pages = {k.cpu(0).pageFlushes(), k.cpu(1).pageFlushes()};
        k.tlb().flush_tlb_page(k.cpu(0), t.mm(), VA);
        for (int c = 0; c < 2; c++) {
            assertEquals(1, k.cpu(c).pageFlushes() - pages[c], "cpu" + c + ": one INVLPG");
            int pcid = k.cpu(c).pcid();
            assertEquals(-1, k.cpu(c).mmu().tlb().probe(VA, pcid), "cpu" + c + ": the page is gone");
            assertTrue(k.cpu(c).mmu().tlb().probe(VA + 4096, pcid) >= 0, "cpu" + c + ": the next page is not");
        }
    }

    /**
     * The TLB_GEN_BEFORE_CPUMASK variant is wrong only under a race: alone on a CPU it still
     * records the generation it loaded, so a later one-page flush is one INVLPG, not a full flush.
     */
    @Test
    void withoutARaceTheBrokenOrderingStillRecordsTheLoadedGeneration() {
        for (KernelVariant variant : new KernelVariant[] {KernelVariant.CORRECT,
                KernelVariant.of(KernelVariant.Bug.TLB_GEN_BEFORE_CPUMASK)}) {
            Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(1)
                    .withPcid(true), Interleaving.NONE, variant);
            Cpu cpu = k.cpu(0);
            Task a = k.createProcess();
            Task b = k.createProcess();
            k.switchTo(cpu, a);
            assertEquals(VA, k.mmap(a, VA, 2 * 4096L, RW, ANON_FIXED));
            assertTrue(k.writeUserLong(cpu, VA, 1));
            assertTrue(k.writeUserLong(cpu, VA + 4096, 1));
            assertEquals(0, k.mprotect(a, VA, 4096, PROT_READ));    // a's tlb_gen moves on
            k.switchTo(cpu, b);
            k.switchTo(cpu, a);                                      // back, up to date
            long pages = cpu.pageFlushes();
            long full = cpu.fullFlushes();
            assertEquals(0, k.mprotect(a, VA + 4096, 4096, PROT_READ));
            assertEquals(1, cpu.pageFlushes() - pages, variant.toString());
            assertEquals(0, cpu.fullFlushes() - full, variant.toString());
        }
    }
}
