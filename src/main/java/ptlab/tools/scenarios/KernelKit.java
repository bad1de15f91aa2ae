package ptlab.tools.scenarios;

import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;
import ptlab.engine.KernelBridge;
import ptlab.engine.KernelImages;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.SimCpu;

/**
 * The kernel-level scenarios' setting: the kernel layer's own code (fault handler, munmap,
 * mprotect, mmu_gather, flush_tlb_mm_range) on two simulated CPUs of one {@link Machine}. One
 * process, two threads (CPU0 runs {@code user}, CPU1 runs {@code other}, same mm), an anonymous
 * mapping of {@code pages} pages at {@link #va} that CPU0 faulted in before the run, so its TLB
 * and paging-structure caches hold the translation when the run starts.
 */
final class KernelKit {

    final Kernel kernel;
    final Machine machine;
    final Task user;
    final Task other;
    /** A process CPU0 switches to when its user loop is done (its CR3 write drops P's TLB entries). */
    final Task away;
    final long va;

    /** The machine: 32 MiB of RAM, two CPUs. */
    static final KernelConfig CONFIG = KernelConfig.defaults().withRam(32L << 20).withCpus(2);

    /** Every paging mode, x86-64 first: what the kernel layer boots in. */
    static final List<PagingMode> ALL_MODES = List.of(PagingMode.X86_64, PagingMode.X86_32, PagingMode.X86_32_PAE,
            PagingMode.X86_64_LA57);

    KernelKit(int pages, KernelVariant variant, PagingMode mode) {
        this(pages, variant, mode, null);
    }

    /** The same, the kernel restored from {@code images} (one search's boot images) unless that is null. */
    KernelKit(int pages, KernelVariant variant, PagingMode mode, KernelImages images) {
        KernelConfig cfg = CONFIG;
        KernelBridge.Booted b = images == null ? KernelBridge.boot(mode, cfg, variant, new ptlab.check.Invariants())
                : images.boot(mode, cfg, variant, new ptlab.check.Invariants());
        kernel = b.kernel();
        machine = b.machine();
        user = kernel.createProcess();
        other = kernel.cloneThread(user);
        away = kernel.createProcess();
        kernel.switchTo(kernel.cpu(0), user);
        kernel.switchTo(kernel.cpu(1), other);
        va = kernel.mmap(user, 0, pages * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE,
                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        for (int p = 0; p < pages; p++) {
            if (kernel.access(kernel.cpu(0), va + p * 4096L, AccessType.WRITE) < 0) {   // before the run: no points
                throw new IllegalStateException("setup fault failed");
            }
        }
    }

    /**
     * {@link Scenario#machines(String, PagingMode)} for a scenario whose variants named
     * {@code kernelPrefix}... boot the kernel layer: their machines come from {@code build} with
     * one boot image for the whole search ({@link KernelImages}); the other variants' (tables
     * written by hand) are built afresh.
     */
    static Supplier<Machine> machines(Scenario sc, String variant, PagingMode mode, String kernelPrefix,
                                      Function<KernelImages, Machine> build) {
        sc.requireMode(variant, mode);
        if (!sc.variant(variant).name().startsWith(kernelPrefix)) {
            return () -> sc.build(variant, mode);
        }
        KernelImages images = new KernelImages();
        return () -> build.apply(images);
    }

    /** Adds CPU i running {@code program}. */
    void cpu(int i, SimCpu.Program program) {
        KernelBridge.addKernelCpu(machine, kernel.cpu(i), program);
    }

    /**
     * CPU0's user loop: {@code n} reads of {@code va}, stopping at the first signal (the page is
     * gone); then the scheduler switches CPU0 to another process, whose CR3 write drops this
     * one's TLB entries. So a stale entry is a hazard only while the loop runs: a broken flush
     * is caught only when the search runs CPU1's free inside that window (a preemption).
     */
    SimCpu.Program readsThenSwitchAway(int n) {
        return cpu -> {
            for (int i = 0; i < n && KernelBridge.userAccess(cpu, false, va, 0); i++) {
                // each read is one instruction; a fault runs the kernel's handler
            }
            cpu.localIrqDisable();   // context_switch → switch_mm_irqs_off with interrupts off
            kernel.switchTo(kernel.cpu(0), away);
            cpu.localIrqEnable();
        };
    }
}
