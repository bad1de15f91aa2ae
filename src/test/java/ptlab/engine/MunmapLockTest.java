package ptlab.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;

/**
 * munmap downgrades mmap_lock to read once the vmas are detached (Linux v6.6 mm/mmap.c
 * do_vmi_align_munmap: "We can free page tables without write-locking mmap_lock because VMAs
 * were isolated before we downgraded mmap_lock"). So a fault in a neighbouring vma runs while
 * the unmapping CPU zaps, frees page tables and flushes — interleavings the explorer must see
 * and survive (invariants 2, 3 and 6 checked by the bridge).
 */
class MunmapLockTest {

    static final long A = 0x4000_0000L;
    static final int PAGES = 4;

    /** Schedules in which the fault and the munmap held mmap_lock for read at the same time. */
    private final int[] overlapping = new int[1];

    private Machine build() {
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(32L << 20).withCpus(2),
                KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        Task t = k.createProcess();
        Task thread = k.cloneThread(t);
        k.switchTo(k.cpu(0), t);
        k.switchTo(k.cpu(1), thread);
        int rw = Kernel.PROT_READ | Kernel.PROT_WRITE;
        int flags = Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS | Kernel.MAP_FIXED;
        long len = PAGES * 4096L;
        assertEquals(A, k.mmap(t, A, len, rw, flags));
        assertEquals(A + len, k.mmap(t, A + len, len, rw, flags));   // the neighbour: same pte table
        for (int p = 0; p < PAGES; p++) {
            k.access(k.cpu(0), A + p * 4096L, AccessType.WRITE);
        }
        KernelBridge.watchUserRange(m, A, len);
        KernelBridge.addKernelCpu(m, k.cpu(0), c -> {
            if (k.munmap(t, A, len) != 0) {
                m.fail(4, "munmap failed");
            }
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), c -> {
            for (int p = 0; p < PAGES; p++) {
                if (k.access(k.cpu(1), A + len + p * 4096L, AccessType.WRITE) < 0) {
                    m.fail(4, "fault in the neighbouring vma failed");
                }
            }
        });
        boolean[] seen = new boolean[1];
        m.addStepCheck(mm -> {
            KernelBridge.State s = (KernelBridge.State) mm.kernelLocks.get(t.mm().mmap_lock);
            if (s != null && s.readers == 2 && !seen[0]) {
                seen[0] = true;
                overlapping[0]++;
            }
            return null;
        });
        m.addEndCheck(mm -> {
            for (int p = 0; p < PAGES; p++) {
                if (k.lookup(t.mm(), A + p * 4096L) >= 0) {
                    return new Violation(8, mm.steps(), "page " + p + " still mapped after munmap");
                }
                if (k.lookup(t.mm(), A + len + p * 4096L) < 0) {
                    return new Violation(4, mm.steps(), "neighbour page " + p + " lost");
                }
            }
            return null;
        });
        return m;
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void faultsRunAlongsideTheDowngradedMunmap() {
        Scenario sc = MachineTest.scenario("munmap-vs-fault", this::build);
        Explorer.Summary s = Explorer.explore(sc, null, Explorer.Settings.of("random", 16, 120, 0), () -> false, null);
        assertNull(s.violation(), () -> s.violation().describe());
        assertEquals(120, s.schedules());
        assertTrue(overlapping[0] > 0, "in some schedule a fault held mmap_lock for read while munmap freed tables");
    }
}
