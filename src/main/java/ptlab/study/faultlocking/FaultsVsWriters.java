package ptlab.study.faultlocking;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import ptlab.engine.KernelBridge;
import ptlab.engine.SimCpu;
import ptlab.kernel.Kernel;

/**
 * {@code faults-vs-writers}: the correct fault paths on four CPUs against every kind of vma
 * change at once. CPU0 write-faults in a new pte table of vma A, CPU1 in A's existing one; CPU2
 * munmaps vma B (free_pgtables frees B's tables, next to A's); CPU3 mprotects a page in the
 * middle of A read-only and back (split, then merge: A is write-locked twice).
 *
 * <p>Checks: each faulting CPU reads back what it wrote ({@link #readBacks()}); every freed
 * page-table page is empty (KernelBridge); at the end every installed pte table covers a vma
 * ({@link #endChecks()}).
 */
public final class FaultsVsWriters extends FaultScenario {

    static final long A = 1L << 30;
    static final long B = A + (8L << 20);

    private final AtomicLong readBacks = new AtomicLong();
    private final AtomicLong endChecks = new AtomicLong();

    @Override
    public String name() {
        return "faults-vs-writers";
    }

    @Override
    public String description() {
        return "two CPUs fault in vma A while one munmaps vma B and one mprotects (splits, merges) A";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("per-vma", false, "per-VMA locks (Linux 6.4+)"),
                new Variant("speculative", false, "speculative faults, fall back to mmap_lock"),
                new Variant("speculative-retry", false, "speculative faults, retried before falling back"),
                new Variant("mmap-lock", false, "mmap_lock for read over the whole fault"),
                new Variant("speculative-broken", true, "speculative faults installing tables without the re-check"));
    }

    public long readBacks() {
        return readBacks.get();
    }

    public long endChecks() {
        return endChecks.get();
    }

    @Override
    int cpus() {
        return 4;
    }

    @Override
    void setUp(FaultKit kit) {
        Kernel k = kit.kernel;
        kit.mmapFixed(A, 4L << 20);
        kit.mmapFixed(B, 2L << 20);
        kit.prefault(0, A, 1);
        kit.prefault(2, B, 2);
        kit.cpu(0, cpu -> writeAndCheck(cpu, A + (2L << 20), 0xa0));
        kit.cpu(1, cpu -> writeAndCheck(cpu, A + 0x2000, 0xa1));
        kit.cpu(2, cpu -> k.munmap(kit.threads[2], B, 2L << 20));
        kit.cpu(3, cpu -> {
            k.mprotect(kit.threads[3], A + (1L << 20), 4096, Kernel.PROT_READ);
            k.mprotect(kit.threads[3], A + (1L << 20), 4096, Kernel.PROT_READ | Kernel.PROT_WRITE);
        });
        kit.checkTablesInsideVmasAtEnd(endChecks);
    }

    private void writeAndCheck(SimCpu cpu, long va, long value) {
        if (!FaultKit.writeAndReadBack(cpu, va, value, readBacks, "")) {
            cpu.machine().fail(8, String.format("CPU%d's fault at 0x%x inside a live vma failed", cpu.id(), va));
        }
    }
}
