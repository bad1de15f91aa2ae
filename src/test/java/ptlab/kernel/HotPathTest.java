package ptlab.kernel;

import static org.junit.jupiter.api.Assertions.*;
import static ptlab.kernel.Kernel.*;

import java.lang.management.ManagementFactory;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;

/** The access path allocates nothing; NUMA placement; faults racing on real threads. */
class HotPathTest {

    @Test
    void accessAndFaultPathAllocateNoJavaObjects() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20));
        Cpu cpu = k.cpu(0);
        Task t = k.createProcess();
        k.switchTo(cpu, t);
        long a = k.mmap(t, 0x4000_0000L, 2L << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        // The allocator makes a 2 MiB block's struct pages when it first splits the block (boot
        // visits blocks, not frames): once per block, not per fault. Have it make them all now.
        java.util.ArrayDeque<Long> frames = new java.util.ArrayDeque<>();
        for (long f; (f = k.allocator().allocFrame(0, FrameUse.USER)) >= 0; ) {
            frames.push(f);
        }
        while (!frames.isEmpty()) {
            k.allocator().freeFrame(frames.pop());
        }
        // warm up (JIT, the pte table and its lock) on the first half
        for (int round = 0; round < 3; round++) {
            for (long off = 0; off < (1L << 20); off += 4096) {
                k.access(cpu, a + off, AccessType.WRITE);
            }
        }
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long before = mx.getThreadAllocatedBytes(tid);
        long faults = k.stats().pgfault.get();
        for (long off = 1L << 20; off < (2L << 20); off += 4096) {          // 256 write faults (new pages)
            k.access(cpu, a + off, AccessType.WRITE);
        }
        for (int round = 0; round < 20; round++) {                          // TLB hits and misses
            for (long off = 0; off < (2L << 20); off += 4096) {
                k.access(cpu, a + off, AccessType.READ);
            }
        }
        long allocated = mx.getThreadAllocatedBytes(tid) - before;
        assertEquals(256, k.stats().pgfault.get() - faults);
        assertTrue(allocated < 1024, "the access/fault path allocated " + allocated + " bytes");
    }

    @Test
    void pageTablesAndPagesComeFromTheFaultingCpusNode() {
        Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withNodes(2).withCpus(2));
        Cpu cpu1 = k.cpu(1);
        assertEquals(1, cpu1.node());
        Task t = k.createProcess();
        k.switchTo(cpu1, t);
        long a = k.mmap(t, 0x4000_0000L, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        assertTrue(k.writeUserLong(cpu1, a, 1));
        assertEquals(1, k.memory().nodeOf(k.lookup(t.mm(), a)), "page on node 1");
        long pmdp = k.pgtable().pmd_offset(k.pgtable().pud_offset(k.pgtable().p4d_offset(
                k.pgtable().pgd_offset(t.mm(), a), a), a), a);
        assertEquals(1, k.memory().nodeOf(k.pgtable().table(k.pgtable().get(pmdp))), "pte table on node 1");
    }

    @Test
    void threadsFaultingTheSameTablesConcurrently() throws Exception {
        for (PagingMode mode : PagingMode.values()) {
            Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(2).withZeroPage(false));
            Task t = k.createProcess();
            Task thread = k.cloneThread(t);
            k.switchTo(k.cpu(0), t);
            k.switchTo(k.cpu(1), thread);
            long len = 8L << 20;
            long a = k.mmap(t, 0x1000_0000L, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
            CyclicBarrier start = new CyclicBarrier(2);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread[] th = new Thread[2];
            for (int c = 0; c < 2; c++) {
                Cpu cpu = k.cpu(c);
                int id = c;
                th[c] = new Thread(() -> {
                    try {
                        start.await();
                        // both CPUs fault every page, in opposite orders: racing pte_alloc / do_anonymous_page
                        for (long i = 0; i < len / 4096; i++) {
                            long off = (id == 0 ? i : len / 4096 - 1 - i) * 4096;
                            if (k.access(cpu, a + off, AccessType.READ) < 0) {
                                throw new AssertionError("fault failed at " + Long.toHexString(a + off));
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
                th[c].start();
            }
            for (Thread x : th) {
                x.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(mode + ": " + failure.get(), failure.get());
            }
            assertEquals(len / 4096, t.mm().rss(), mode + ": each page faulted in exactly once");
            k.switchTo(k.cpu(1), null);
            k.exit(thread);
            k.switchTo(k.cpu(0), null);
            k.exit(t);
            k.unlazyAll();
            k.checkNoLeaks();
        }
    }
}
