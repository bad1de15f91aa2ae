package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

/** TLB shootdown, lazy TLB, flush-before-free, and the stale entry a skipped flush leaves. */
class TlbShootdownTest {

    private static Kernel boot(PagingMode mode, int cpus) {
        return boot(mode, cpus, Interleaving.NONE, KernelVariant.CORRECT);
    }

    private static Kernel boot(PagingMode mode, int cpus, Interleaving il, KernelVariant variant) {
        return new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(cpus), il, variant);
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void skippedFlushLeavesAStaleTranslation(PagingMode mode) {
        Kernel k = boot(mode, 1, Interleaving.NONE, KernelVariant.of(KernelVariant.Bug.SKIP_FLUSH));   // the broken kernel
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        long a = k.mmap(t, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(cpu, a, 1));
        long pa = k.access(cpu, a, AccessType.READ);          // now cached in the TLB
        assertEquals(0, k.munmap(t, a, 4096));
        assertEquals(-1, k.lookup(t.mm(), a), "the pte is gone");
        assertEquals(pa, k.access(cpu, a, AccessType.READ),
                "stale: the TLB still translates to the freed frame " + Long.toHexString(pa));
        assertEquals(FrameUse.FREE, k.allocator().useOf(pa & -4096L), "and that frame is already free");

        // The correct kernel: the same sequence faults after munmap.
        Kernel c = boot(mode, 1);
        Cpu cpu0 = c.cpu(0);
        Task u = c.createProcess();
        c.switchTo(cpu0, u);
        long b = c.mmap(u, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(c.writeUserLong(cpu0, b, 1));
        c.access(cpu0, b, AccessType.READ);
        assertEquals(0, c.munmap(u, b, 4096));
        assertEquals(SIGSEGV, c.access(cpu0, b, AccessType.READ));
    }

    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void munmapFreesPagesAndTablesOnlyAfterTheFlush(PagingMode mode) {
        List<String> events = new ArrayList<>();
        boolean[] recording = new boolean[1];
        FrameAllocator[] allocator = new FrameAllocator[1];
        Interleaving gather = new Interleaving() {   // this kernel's own hook: sees only its gathers
            @Override
            public void gatherFlushed(MmStruct mm, long start, long end, boolean freedTables) {
                if (recording[0]) {
                    events.add("flush" + (freedTables ? "+tables" : ""));
                }
            }

            @Override
            public void pageFreed(long pa) {
                if (recording[0]) {
                    events.add("page");
                    assertEquals(FrameUse.FREE, allocator[0].useOf(pa), "the last reference went with the gather");
                }
            }

            @Override
            public void tableFreed(long pa, int level) {
                if (recording[0]) {
                    events.add("table");
                    assertEquals(FrameUse.FREE, allocator[0].useOf(pa), "freed by the gather");
                }
            }
        };
        Kernel k = boot(mode, 2, gather, KernelVariant.CORRECT);
        allocator[0] = k.allocator();
        Cpu cpu0 = k.cpu(0);
        Cpu cpu1 = k.cpu(1);
        Task t = k.createProcess();
        Task thread = k.cloneThread(t);
        k.switchTo(cpu0, t);
        k.switchTo(cpu1, thread);
        long len = 4L << 20;   // whole pmd spans: its pte tables go too
        long a = k.mmap(t, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        for (long off = 0; off < len; off += 4096) {
            assertTrue(k.writeUserLong(off % 8192 == 0 ? cpu0 : cpu1, a + off, off));
        }
        long cpu1IpisBefore = cpu1.ipisReceived();
        recording[0] = true;
        assertEquals(0, k.munmap(t, a, len));
        assertTrue(events.contains("table"), "pte tables were freed: " + events);
        // Every free comes after a flush; a freed table after a flush that announced freed tables
        // (so lazy CPUs and paging-structure caches were reached too).
        String lastFlush = null;
        for (int i = 0; i < events.size(); i++) {
            String e = events.get(i);
            if (e.startsWith("flush")) {
                lastFlush = e;
            } else {
                assertNotNull(lastFlush, "free before any flush at event " + i + ": " + events);
                if (e.equals("table")) {
                    assertEquals("flush+tables", lastFlush, "table freed after a flush without freed_tables");
                }
            }
        }
        assertTrue(cpu1.ipisReceived() > cpu1IpisBefore, "cpu1 runs the mm: it got the shootdown");
        assertEquals(SIGSEGV, k.access(cpu1, a, AccessType.READ), "no stale entry on cpu1");
    }

    @Test
    void shootdownReachesExactlyTheCpusInMmCpumask() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(4));
        Task t = k.createProcess();
        Task other = k.createProcess();
        Task thread = k.cloneThread(t);
        k.switchTo(k.cpu(0), t);
        k.switchTo(k.cpu(1), thread);
        k.switchTo(k.cpu(2), other);
        assertEquals(0b011, t.mm().cpumaskWord(0));
        long a = k.mmap(t, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(k.cpu(1), a, 5));
        assertEquals(5, k.readUserLong(k.cpu(0), a, -1));
        long[] before = new long[4];
        for (int i = 0; i < 4; i++) {
            before[i] = k.cpu(i).ipisReceived();
        }
        assertEquals(0, k.mprotect(t, a, 4096, PROT_READ));
        assertEquals(0, k.cpu(0).ipisReceived() - before[0], "the initiator flushes locally");
        assertEquals(1, k.cpu(1).ipisReceived() - before[1], "cpu1 is in mm_cpumask");
        assertEquals(0, k.cpu(2).ipisReceived() - before[2], "cpu2 runs another mm");
        assertEquals(0, k.cpu(3).ipisReceived() - before[3], "cpu3 is idle on init_mm");
        assertEquals(SIGSEGV, k.access(k.cpu(1), a, AccessType.WRITE), "cpu1's writable TLB entry was shot down");
    }

    /**
     * mm_cpumask has a word per 64 CPUs (CONFIG_NR_CPUS above 64): native_flush_tlb_multi's
     * for_each_cpu must map bit b of word w to CPU 64w + b, or CPU 65's stale entry survives.
     */
    @Test
    void shootdownReachesACpuBeyondTheFirstCpumaskWord() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(66));
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        k.switchTo(k.cpu(65), k.cloneThread(t));
        assertEquals(0b10, t.mm().cpumaskWord(1));
        long a = k.mmap(t, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(k.cpu(65), a, 5));
        long ipis = k.cpu(65).ipisReceived();
        assertEquals(0, k.mprotect(t, a, 4096, PROT_READ));
        assertEquals(ipis + 1, k.cpu(65).ipisReceived(), "cpu65 is bit 1 of mm_cpumask's second word");
        assertEquals(SIGSEGV, k.access(k.cpu(65), a, AccessType.WRITE), "cpu65's writable TLB entry was shot down");
    }

    /**
     * The flush's target mask is rebuilt from mm_cpumask at every flush_tlb_mm_range (the
     * per-CPU cpumask Linux v6.6 native_flush_tlb_multi fills): a CPU that switched to another
     * mm since the last shootdown gets no IPI from the next one.
     */
    @Test
    void aCpuThatLeftTheMmGetsNoIpiFromTheNextShootdown() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(2));
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        k.switchTo(k.cpu(1), k.cloneThread(t));
        long a = k.mmap(t, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(k.cpu(0), a, 1));          // mprotect flushes only what is mapped
        assertTrue(k.writeUserLong(k.cpu(0), a + 4096, 2));
        long ipis = k.cpu(1).ipisReceived();
        assertEquals(0, k.mprotect(t, a, 4096, PROT_READ));
        assertEquals(ipis + 1, k.cpu(1).ipisReceived(), "cpu1 runs the mm");
        k.switchTo(k.cpu(1), k.createProcess());
        assertEquals(0b01, t.mm().cpumaskWord(0));
        assertEquals(0, k.mprotect(t, a + 4096, 4096, PROT_READ));
        assertEquals(ipis + 1, k.cpu(1).ipisReceived(), "cpu1 left mm_cpumask: no IPI");
    }

    @Test
    void lazyCpuIsSkippedUnlessTablesAreFreedAndCatchesUpOnReturn() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(2));
        Cpu cpu0 = k.cpu(0);
        Cpu cpu1 = k.cpu(1);
        Task t = k.createProcess();
        Task thread = k.cloneThread(t);
        k.switchTo(cpu0, t);
        k.switchTo(cpu1, thread);
        long a = k.mmap(t, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(cpu1, a, 1));
        k.switchTo(cpu1, null);                               // a kernel thread: lazy, mm still loaded
        assertTrue(cpu1.isLazy());
        assertSame(t.mm(), cpu1.loadedMm());
        long ipis = cpu1.ipisReceived();
        assertEquals(0, k.mprotect(t, a, 4096, PROT_READ));    // no table freed
        assertEquals(ipis, cpu1.ipisReceived(), "lazy cpu skipped");
        assertEquals(1, k.tlb().lazySkipped());
        k.switchTo(cpu1, thread);                             // back: tlb_gen is behind, full flush
        assertEquals(SIGSEGV, k.access(cpu1, a, AccessType.WRITE), "no stale writable entry after returning");

        k.switchTo(cpu1, null);
        long b = k.mmap(t, 0x4000_0000L, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        assertTrue(k.writeUserLong(cpu0, b, 2));
        long leaves = cpu1.leaveMms();
        assertEquals(0, k.munmap(t, b, 4096));                // frees its pte/pmd/pud tables
        assertEquals(leaves + 1, cpu1.leaveMms(), "freed tables: the lazy cpu got the IPI and left the mm");
        assertSame(k.initMm(), cpu1.loadedMm());
        assertSame(t.mm(), cpu1.activeMm(), "active_mm stays borrowed until the next switch");
    }

    @Test
    void pcidKeepsEntriesAcrossSwitchesAndFlushesWhatWentStale() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(2).withPcid(true));
        Cpu cpu = k.cpu(0);
        Task a = k.createProcess();
        Task b = k.createProcess();
        k.switchTo(cpu, a);
        long va = k.mmap(a, 0x1000_0000L, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        assertTrue(k.writeUserLong(cpu, va, 1));
        int pcidA = cpu.pcid();
        k.switchTo(cpu, b);
        assertNotEquals(pcidA, cpu.pcid());
        long vb = k.mmap(b, 0x1000_0000L, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        assertTrue(k.writeUserLong(cpu, vb, 2));
        k.switchTo(cpu, a);
        long misses = cpu.mmu().misses();
        assertEquals(1, k.readUserLong(cpu, va, -1));
        assertEquals(misses, cpu.mmu().misses(), "a's TLB entry survived the switch (CR3 no-flush)");
        k.switchTo(cpu, b);
        // Change a's mapping while a is not loaded anywhere: no IPI, a's tlb_gen moves on.
        k.switchTo(k.cpu(1), a);
        assertEquals(0, k.mprotect(a, va, 4096, PROT_READ));
        k.switchTo(k.cpu(1), null);
        k.unlazy(k.cpu(1));
        k.switchTo(cpu, a);
        assertEquals(SIGSEGV, k.access(cpu, va, AccessType.WRITE), "switching back flushed a's stale ASID");
    }

    /**
     * Linux v6.6 flush_tlb_func: a request whose generation this CPU has already reached is
     * done at once, even while the mm's tlb_gen is further ahead (a later request is on its
     * way and will flush). The old model compared only with mm_tlb_gen and did a needless full
     * flush here.
     */
    @Test
    void requestAlreadySatisfiedIsNotFlushedAgain() {
        Kernel k = boot(PagingMode.X86_64, 2);
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        Cpu cpu1 = k.cpu(1);
        k.switchTo(cpu1, k.cloneThread(t));
        long local = cpu1.ctxTlbGen[cpu1.loaded_asid];
        assertEquals(t.mm().tlb_gen.get(), local, "cpu1 is up to date");
        t.mm().tlb_gen.addAndGet(1);                         // another flusher's inc_mm_tlb_gen, its IPI not here yet
        FlushTlbInfo stale = new FlushTlbInfo();
        stale.set(t.mm(), 0, FlushTlbInfo.TLB_FLUSH_ALL, 12, false, local, 0);
        long full = cpu1.fullFlushes();
        long pages = cpu1.pageFlushes();
        cpu1.flush_tlb_func(stale, false);
        assertEquals(full, cpu1.fullFlushes(), "no full flush for a generation already reached");
        assertEquals(pages, cpu1.pageFlushes());
        assertEquals(local, cpu1.ctxTlbGen[cpu1.loaded_asid], "still behind the mm: the next request flushes");
        FlushTlbInfo next = new FlushTlbInfo();
        next.set(t.mm(), 0, FlushTlbInfo.TLB_FLUSH_ALL, 12, false, local + 1, 0);
        cpu1.flush_tlb_func(next, false);
        assertEquals(full + 1, cpu1.fullFlushes(), "the pending request does flush");
    }

    /**
     * munmap and a shrinking brk free pages and page tables with mmap_lock downgraded to read
     * (Linux v6.6 do_vmi_align_munmap(..., unlock=true)); mmap(MAP_FIXED) over a mapping keeps
     * it for write (unlock=false); the lock is free afterwards either way.
     */
    @Test
    void munmapAndBrkFreeUnderTheDowngradedLockMmapFixedUnderWrite() {
        List<String> modes = new ArrayList<>();
        RwSemaphore[] lockOf = new RwSemaphore[1];
        Interleaving gather = new Interleaving() {   // this kernel's own hook: sees only its gathers
            @Override
            public void gatherFlushed(MmStruct mm, long start, long end, boolean freedTables) {
                RwSemaphore lock = lockOf[0];
                modes.add(lock.isWriteLocked() ? "write" : lock.isReadLocked() ? "read" : "none");
            }
        };
        Kernel k = boot(PagingMode.X86_64, 1, gather, KernelVariant.CORRECT);
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        RwSemaphore lock = t.mm().mmap_lock;
        lockOf[0] = lock;
        long len = 4L << 20;
        long a = k.mmap(t, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(cpu, a, 1));
        assertEquals(0, k.munmap(t, a, len));
        assertEquals(List.of("read", "read"), modes, "munmap's flushes: the zap's, then free_pgtables'");

        modes.clear();
        long b = k.mmap(t, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        assertTrue(k.writeUserLong(cpu, b, 1));
        assertEquals(b, k.mmap(t, b, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED));
        assertTrue(!modes.isEmpty() && modes.stream().allMatch("write"::equals),
                "mmap_region's MAP_FIXED unmap keeps the write lock: " + modes);

        modes.clear();
        long brk0 = k.brk(t, 0);
        assertEquals(brk0 + 8192, k.brk(t, brk0 + 8192));
        assertTrue(k.writeUserLong(cpu, brk0 + 4096, 1));
        assertEquals(brk0, k.brk(t, brk0));
        assertTrue(!modes.isEmpty() && modes.stream().allMatch("read"::equals), "a shrinking brk unmaps like munmap: " + modes);
        assertEquals(SIGSEGV, k.access(cpu, brk0 + 4096, AccessType.READ));

        assertEquals(-Errno.EINVAL, k.munmap(t, b + 1, 4096), "an error returns with the lock released too");
        assertTrue(!lock.isLocked(), "mmap_lock free after every call");
    }
}
