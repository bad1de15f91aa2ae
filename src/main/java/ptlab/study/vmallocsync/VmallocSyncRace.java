package ptlab.study.vmallocsync;

import java.util.List;

import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.EagerGeneration;
import ptlab.kernel.vmalloc.LazyFault;
import ptlab.kernel.vmalloc.TrackedMask;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;

/**
 * {@code vmalloc-sync-race}: why pgtbl_mod_mask alone is not enough ("mm/vmalloc: track which
 * page-table levels were modified", v5.8, and "x86/mm/32: Bring back vmalloc faulting on
 * x86_32", which says: "In this race window another thread/CPU can map an area on the same PMD,
 * finds it already present and does not synchronize it with the rest of the system yet").
 *
 * <p>Two CPUs vmalloc at once into the same not-yet-populated sync-level entry (the p4d on
 * x86-64, the pgd on la57, the pmd on x86-32 and - mail 001 - on PAE, where every mm has its own
 * kernel pmd pages). CPU0 populates it, so its mask has the sync bit and it will run
 * arch_sync_kernel_mappings(); CPU1 finds the entry present, its mask lacks the bit, it skips
 * the sync and writes to its new memory from process P, which predates the entry. The write is
 * a supervisor access through CPU1's MMU with P's CR3: if CPU0 has not yet copied the entry
 * into P's page tables, the walker raises #PF (error code 0x2: not present, write,
 * supervisor) and the kernel's fault path decides: no vmalloc_fault() means oops (invariant 4).
 * Without a preemption inside CPU0's vmalloc the race cannot happen: either CPU0 finishes its
 * sync first, or CPU1 populates the entry itself.
 *
 * <p>Variants: {@code tracked-mask} (broken alone), {@code tracked-mask+fault} (x86-32's
 * answer: the same sync plus vmalloc_fault() for the window), {@code eager-generation} (CPU1
 * syncs itself when it sees the generation changed - broken too, found once the generation
 * became a shared variable (engine v2): CPU0 populates the entry and bumps the generation in two
 * steps, and CPU1 can map under the populated entry, read the old generation in between, skip
 * the sync and touch its memory). {@link #build(String, PagingMode)} runs it in
 * any of the four modes; the registry's instance uses x86-64.
 */
public final class VmallocSyncRace implements Scenario {

    private final PagingMode mode;

    public VmallocSyncRace() {
        this(PagingMode.X86_64);
    }

    public VmallocSyncRace(PagingMode mode) {
        this.mode = mode;
    }

    @Override
    public String name() {
        return "vmalloc-sync-race";
    }

    @Override
    public String description() {
        return "two CPUs vmalloc into one new sync-level entry; the one that did not populate it skips the sync";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("tracked-mask", true, "arch_sync_kernel_mappings only by the CPU whose mask has the bit"),
                new Variant("tracked-mask+fault", false, "the same, plus vmalloc_fault() for the window (x86-32)"),
                new Variant("eager-generation", true, "sync whenever init_mm's populated-entry count changed; "
                        + "races with the populate-then-count window"));
    }

    /** Every mode; this instance's first (x86-64 for the registry's). */
    @Override
    public List<PagingMode> modes(String variant) {
        List<PagingMode> ms = new java.util.ArrayList<>(List.of(PagingMode.values()));
        ms.remove(mode);
        ms.add(0, mode);
        return ms;
    }

    @Override
    public Machine build(String variant) {
        return build(variant, mode);
    }

    /** The machine for {@code variant} in paging mode {@code m}. */
    @Override
    public Machine build(String variant, PagingMode m) {
        String v = variant(variant).name();
        VmallocSyncStrategy strategy = v.equals("eager-generation") ? new EagerGeneration() : new TrackedMask();
        boolean fault = v.equals("tracked-mask+fault");
        KernelBridge.Booted b = KernelBridge.boot(m, strategy.configure(m, config(m)), KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Vmalloc vm = new Vmalloc(k, strategy);
        Machine machine = b.machine();
        Task q = k.createProcess();
        Task p = k.createProcess();
        vm.switchTo(k.cpu(0), q);
        vm.switchTo(k.cpu(1), p);
        LazyFault lazy = new LazyFault();
        KernelBridge.KernelFaultHandler doKernAddrFault = (cpu, errorCode, address) ->
                fault && (errorCode & PageFaultError.P) == 0 && vm.isVmallocAddr(address)
                        && lazy.vmallocFault(vm.sync(), cpu.loadedMm(), address);       // vmalloc_fault(): CR3's mm
        KernelBridge.addKernelCpu(machine, k.cpu(0), cpu -> vm.vmalloc(k.cpu(0), 4096));
        KernelBridge.addKernelCpu(machine, k.cpu(1), cpu -> {
            long va = vm.vmalloc(k.cpu(1), 4096);
            KernelBridge.kernelAccess(cpu, true, va, 0x5a, "process context right after vmalloc", doKernAddrFault);
        });
        return machine;
    }

    /**
     * 64 MiB of RAM; on x86-32 the space above vmalloc is enlarged so that vmalloc spans 60 pmds
     * rather than ~470: arch_sync_kernel_mappings() walks every pmd up to VMALLOC_END, each a
     * pgd_lock hold with a page_table_lock per mm, and a shorter area keeps the schedules short
     * without changing the race (the new pmd is the first one walked).
     */
    static KernelConfig config(PagingMode m) {
        KernelConfig c = KernelConfig.defaults().withRam(64L << 20).withCpus(2);
        return m.isLongMode() ? c : c.withTopReserve(0x1_0000_0000L - 0xCC00_0000L);
    }
}
