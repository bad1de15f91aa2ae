package ptlab.tools.scenarios;

import java.util.List;

import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;

/**
 * {@code tlb-gen-vs-cpumask}: the ordering {@code TlbFlush}'s class comment states (Linux v6.6
 * arch/x86/mm/tlb.c:switch_mm_irqs_off, "cpumask_set_cpu() ... before reading tlb_gen").
 * With PCID, CPU0 switches back to process P whose ASID it still caches, with TLB entries for
 * P's pages, and away again, {@link #PAGES} times; meanwhile CPU1 (P's other thread) munmaps
 * those pages one by one: each flush_tlb_mm_range bumps tlb_gen, reads mm_cpumask, IPIs the
 * CPUs in it, and mmu_gather frees the page.
 *
 * <pre>
 *   correct:  CPU0 set bit ; read tlb_gen        CPU1 tlb_gen++ ; read cpumask
 *             either CPU1 sees the bit (IPI) or CPU0 sees the new generation (flushes itself)
 *   broken:   CPU0 read tlb_gen (old) ........... CPU1 tlb_gen++ ; read cpumask (no bit: no IPI)
 *             CPU0 set bit ; ASID "up to date" -> CR3 with no-flush: the stale entry survives
 * </pre>
 * Invariant 3 at the free: no CPU's TLB may still translate the page in its current PCID. The
 * default schedule (CPU0 first, then CPU1) is correct in both orders: the bug needs CPU1's
 * flush to fall between CPU0's read of tlb_gen and its cpumask update.
 */
public final class TlbGenVsCpumask implements Scenario {

    /** Pages CPU1 unmaps one by one while CPU0 switches to P and away as often. */
    static final int PAGES = 2;

    @Override
    public String name() {
        return "tlb-gen-vs-cpumask";
    }

    @Override
    public String description() {
        return "CPU0 switches back to an mm while CPU1 munmaps in it; switch_mm must set its mm_cpumask bit "
                + "before reading tlb_gen";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("gen-before-cpumask", true,
                        "switch_mm_irqs_off reads tlb_gen, then sets its mm_cpumask bit"),
                new Variant("cpumask-before-gen", false,
                        "switch_mm_irqs_off sets its mm_cpumask bit, then reads tlb_gen (Linux)"));
    }

    /** The race needs PCID (a CPU switching back keeps its TLB entries), which only 4- and 5-level paging have. */
    static final List<PagingMode> MODES = List.of(PagingMode.X86_64, PagingMode.X86_64_LA57);

    @Override
    public List<PagingMode> modes(String variant) {
        return MODES;
    }

    @Override
    public Machine build(String variant) {
        return build(variant, modes(variant).get(0));
    }

    @Override
    public Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        boolean broken = variant(variant).name().equals("gen-before-cpumask");
        KernelBridge.Booted b = KernelBridge.boot(mode,
                KernelConfig.defaults().withRam(32L << 20).withCpus(2).withPcid(true),
                broken ? KernelVariant.of(KernelVariant.Bug.TLB_GEN_BEFORE_CPUMASK) : KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        Task p0 = k.createProcess();
        Task p1 = k.cloneThread(p0);
        Task q = k.createProcess();
        k.switchTo(k.cpu(0), p0);
        k.switchTo(k.cpu(1), p1);
        long va = k.mmap(p0, 0, (PAGES + 1) * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE,
                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        for (int p = 0; p <= PAGES; p++) {   // before the run: no points
            if (k.access(k.cpu(0), va + p * 4096L, AccessType.WRITE) < 0) {
                throw new IllegalStateException("setup fault failed");
            }
        }
        k.switchTo(k.cpu(0), q);        // CPU0 leaves P: its bit is cleared, P's ASID and TLB entry stay
        KernelBridge.watchUserRange(m, va, PAGES * 4096L);
        long keep = va + PAGES * 4096L;  // stays mapped: CPU0's own reads
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            for (int r = 0; r < PAGES; r++) {
                cpu.localIrqDisable();  // context_switch runs switch_mm_irqs_off with interrupts off
                k.switchTo(k.cpu(0), p0);
                cpu.localIrqEnable();
                KernelBridge.userAccess(cpu, false, keep, 0);
                if (r < PAGES - 1) {    // the last round stays on P: CPU1's next free finds the entry in use
                    cpu.localIrqDisable();
                    k.switchTo(k.cpu(0), q);
                    cpu.localIrqEnable();
                }
            }
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            for (int p = 0; p < PAGES; p++) {
                k.munmap(p1, va + p * 4096L, 4096);   // one flush and one free per page
            }
        });
        return m;
    }
}
