package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.hw.PagingMode;
import ptlab.hw.PteBits;
import ptlab.kernel.FrameAllocator;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;

/** Invariants 4 and 6 on kernel-level machines: the messages name the CPU, the address and the entry. */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class InvariantsTest {

    private static KernelBridge.Booted booted() {
        return KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(32L << 20).withCpus(1),
                ptlab.kernel.KernelVariant.CORRECT, new ptlab.check.Invariants());
    }

    /**
     * A kernel mapping created in init_mm after a process was forked, in a top-level slot the
     * process does not share: used from an NMI it would fault, which invariant 4 reports; after
     * the top-level entry is copied (the sync) the same check passes.
     */
    @Test
    void missingKernelMappingSyncIsInvariant4() {
        for (boolean synced : new boolean[]{false, true}) {
            KernelBridge.Booted b = booted();
            Kernel k = b.kernel();
            Machine m = b.machine();
            Task t = k.createProcess();
            k.switchTo(k.cpu(0), t);
            long va = KernelLayout.VMALLOC_START_L4 + (16L << 40);
            Pgtable pt = k.pgtable();
            MmStruct init = k.initMm();
            long pgdp = pt.pgd_offset(init, va);
            long pmdp = pt.pmd_alloc(init, pt.pud_alloc(init, pt.p4d_alloc(init, pgdp, va, 0), va, 0), va, 0);
            assertEquals(0, pt.pte_alloc(init, pmdp, 0));
            long page = k.allocator().allocFrame(0, FrameUse.KERNEL);
            pt.set(pt.pte_offset(pmdp, va), page | PteBits.P | PteBits.RW | PteBits.A | PteBits.D);
            long userPgdp = pt.pgd_offset(t.mm(), va);
            k.memory().storeLong(userPgdp, synced ? k.memory().loadLong(pgdp) : 0);   // the process's copy, or none
            MmStruct mm = t.mm();
            KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> ptlab.check.KernelChecks.kernelMappingAsInInitMm(cpu, mm, va, "NMI"));
            m.run(new Strategies.Random(), new int[1000], 1000);
            if (synced) {
                assertNull(m.violation(), () -> m.violation().describe());
            } else {
                assertEquals(4, m.violation().invariant(), m.violation().describe());
                String msg = m.violation().message();
                assertTrue(msg.contains("CPU0 (NMI) uses kernel va 0x" + Long.toHexString(va)), msg);
                assertTrue(msg.contains("init_mm maps it (-> 0x" + Long.toHexString(page)), msg);
                assertTrue(msg.contains("do not") && msg.contains("top-level entry 0x0 [np]"), msg);
            }
        }
    }

    @Test
    void leakedPageTableIsInvariant6() {
        KernelBridge.Booted b = booted();
        Kernel k = b.kernel();
        Machine m = b.machine();
        FrameAllocator.Snapshot before = k.allocator().snapshot();
        long[] table = new long[1];
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> table[0] = k.allocator().allocPageTable(0, 1));
        m.addEndCheck(ptlab.check.KernelChecks.allFreedSince(k, before));
        m.run(new Strategies.Random(), new int[1000], 1000);
        assertEquals(6, m.violation().invariant(), String.valueOf(m.violation()));
        assertTrue(m.violation().message().contains(String.format("0x%x PAGE_TABLE level 1", table[0])),
                m.violation().message());
    }

    @Test
    void doubleFreeIsInvariant6() {
        KernelBridge.Booted b = booted();
        Kernel k = b.kernel();
        Machine m = b.machine();
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            long f = k.allocator().allocPageTable(0, 1);
            k.allocator().freeFrame(f);
            k.allocator().freeFrame(f);
        });
        m.run(new Strategies.Random(), new int[1000], 1000);
        assertEquals(6, m.violation().invariant(), String.valueOf(m.violation()));
        assertTrue(m.violation().message().startsWith("CPU0: free of frame 0x"), m.violation().message());
        assertTrue(m.violation().message().contains("double free"), m.violation().message());
    }
}
