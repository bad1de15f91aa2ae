package ptlab.study.vmallocsync;

import java.util.List;

import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.EagerGeneration;
import ptlab.kernel.vmalloc.LazyFault;
import ptlab.kernel.vmalloc.TrackedMask;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.SimCpu;

/**
 * {@code vmalloc-sync-race}: why pgtbl_mod_mask alone is not enough ("mm/vmalloc: track which
 * page-table levels were modified", and x86-32 bringing vmalloc_fault back). Two CPUs vmalloc
 * at once into the same not-yet-populated top-level entry. CPU0 populates it and will sync it
 * into every pgd; CPU1 finds it already present, so its pgtbl_mod_mask has no sync bit, skips
 * arch_sync_kernel_mappings, and then touches its new memory from process P, which predates the
 * entry. If CPU0 has not finished its sync, P's pgd lacks the entry: invariant 4.
 *
 * <p>Variants: {@code tracked-mask} (broken alone), {@code tracked-mask+fault} (x86-32's
 * answer: the same sync plus vmalloc_fault() for the window), {@code eager-generation} (CPU1
 * syncs itself when it sees the generation changed — broken too, found once the generation
 * became a shared variable (engine v2): CPU0 populates the entry and bumps the generation in two
 * steps, and CPU1 can map under the populated entry, read the old generation in between, skip
 * the sync and touch its memory).
 */
public final class VmallocSyncRace implements Scenario {

    @Override
    public String name() {
        return "vmalloc-sync-race";
    }

    @Override
    public String description() {
        return "two CPUs vmalloc into one new top-level entry; the one that did not populate it skips the sync";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("tracked-mask", true, "arch_sync_kernel_mappings only by the CPU whose mask has the bit"),
                new Variant("tracked-mask+fault", false, "the same, plus vmalloc_fault() for the window (x86-32)"),
                new Variant("eager-generation", true, "sync whenever init_mm's populated-entry count changed; "
                        + "races with the populate-then-count window"));
    }

    @Override
    public Machine build(String variant) {
        String v = variant(variant).name();
        VmallocSyncStrategy strategy = v.equals("eager-generation") ? new EagerGeneration() : new TrackedMask();
        boolean fault = v.equals("tracked-mask+fault");
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(2),
                KernelVariant.CORRECT);
        Kernel k = b.kernel();
        Vmalloc vm = new Vmalloc(k, strategy);
        Machine m = b.machine();
        Task q = k.createProcess();
        Task p = k.createProcess();
        vm.switchTo(k.cpu(0), q);
        vm.switchTo(k.cpu(1), p);
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> vm.vmalloc(k.cpu(0), 4096));
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            long va = vm.vmalloc(k.cpu(1), 4096);
            touch(cpu, k, vm, p.mm(), va, fault);
        });
        return m;
    }

    /**
     * A kernel-mode access to {@code va} from process context on {@code cpu} with {@code mm}
     * loaded: with {@code fault}, a missing entry takes a #PF whose handler is vmalloc_fault();
     * then invariant 4 is checked.
     */
    static void touch(SimCpu cpu, Kernel k, Vmalloc vm, MmStruct mm, long va, boolean fault) {
        long[] pa = new long[1];
        cpu.machine().unobserved(() -> pa[0] = k.lookup(mm, va));
        if (pa[0] < 0 && fault) {
            cpu.exception("#PF", va, () -> new LazyFault().vmallocFault(vm.sync(), mm, va));   // vmalloc_fault()
        }
        KernelBridge.checkKernelMapping(cpu, mm, va, "process context after vmalloc");
    }
}
