package ptlab.study.faultlocking;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import ptlab.engine.KernelBridge;

/**
 * {@code fork-vs-vma-fault}: the Linux 6.4 memory corruption fixed by "fork: lock VMAs of the
 * parent process when forking" (v6.5, fb49c455323f). Three threads of one process: CPU0 forks;
 * CPU1 writes to a page P it never touched; CPU2 has P writable in its TLB and keeps writing a
 * counter to another word of P and reading it back.
 *
 * <p>dup_mmap() write-protects P's pte in the parent (copy_present_pte) and flushes the parent's
 * TLBs only at the end. Until then CPU2 may still write P through its stale entry — a write
 * concurrent with fork, which Linux accepts. Under mmap_lock nothing else can happen meanwhile.
 * Under a vma lock that fork does not take, CPU1's write fault runs wp_page_copy() now: it copies
 * P, and CPU2's write that lands in P after the copy and before the copy's flush IPI reaches
 * CPU2 is lost — CPU2 then reads its own word from the new page and finds an older value
 * (invariant 7: a parent write lost). With vma_start_write() in dup_mmap, CPU1's vma lock
 * fails, it falls back to mmap_lock and waits for fork, flush included.
 *
 * <p>Check: after every write CPU2 reads the word back ({@link #readBacks()} counts them).
 */
public final class ForkVsVmaFault extends FaultScenario {

    static final long BASE = 1L << 30;

    private final AtomicLong readBacks = new AtomicLong();

    @Override
    public String name() {
        return "fork-vs-vma-fault";
    }

    @Override
    public String description() {
        return "a write fault under a vma lock copies a page that fork just write-protected, before the flush";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("per-vma-fork-unlocked", true, "dup_mmap without vma_start_write (Linux 6.4.0)"),
                new Variant("per-vma", false, "dup_mmap write-locks every parent vma (6.4.3+/6.5)"),
                new Variant("mmap-lock", false, "faults under mmap_lock: fork's write lock excludes them"));
    }

    /** Read-backs CPU2 compared (the check ran). */
    public long readBacks() {
        return readBacks.get();
    }

    @Override
    int cpus() {
        return 3;
    }

    @Override
    void setUp(FaultKit kit) {
        kit.mmapFixed(BASE, 4096);
        kit.prefault(2, BASE + 8, 0);                       // CPU2's TLB: P writable
        kit.cpu(0, cpu -> kit.kernel.fork(kit.threads[0]));
        kit.cpu(1, cpu -> KernelBridge.userAccess(cpu, true, BASE, 0x1111));
        kit.cpu(2, cpu -> {
            for (long n = 1; n <= 3; n++) {
                if (!FaultKit.writeAndReadBack(cpu, BASE + 8, n, readBacks, ": a parent write was lost (it went to "
                        + "the page a concurrent COW fault had already copied)")) {
                    return;
                }
            }
        });
    }
}
