package ptlab.study.vmallocsync;

import java.util.List;

import ptlab.hw.PagingMode;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.Preallocate;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;

/**
 * {@code hotplug-kernel-mapping}: the 2025 x86-64 bug fixed by "x86/mm/64: define
 * ARCH_PAGE_TABLE_SYNC_MASK and arch_sync_kernel_mappings()". Since v5.9 x86-64 preallocates the
 * vmalloc area's top-level tables and syncs nothing; but kernel mappings made outside vmalloc
 * after boot (vmemmap_populate() for hot-added memory) can populate a new top-level entry, which
 * existing processes never get: "PGD 0 P4D 0" oopses. CPU0 hot-adds memory: populates the
 * vmemmap for it at a new pgd entry, then publishes the new struct pages (a store). CPU1 runs a
 * process that existed before and reads the struct pages once published.
 *
 * <p>Variants: {@code preallocate-vmalloc-only} (broken: no ARCH_PAGE_TABLE_SYNC_MASK) and
 * {@code arch-sync-kernel-mappings} (the fix: the pgd bit of pgtbl_mod_mask triggers the
 * pgd_list walk before publication).
 */
public final class HotplugKernelMapping implements Scenario {

    /** vmemmap_base on 4-level x86-64 (Documentation/arch/x86/x86_64/mm.rst) plus 1 TiB: a fresh pgd entry. */
    static final long VMEMMAP_NEW = 0xffff_ea00_0000_0000L + (1L << 40);

    @Override
    public String name() {
        return "hotplug-kernel-mapping";
    }

    @Override
    public String description() {
        return "memory hotplug maps vmemmap at a new pgd entry; a process created before must see it";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("preallocate-vmalloc-only", true, "x86-64 before 2025: nothing syncs mappings outside vmalloc"),
                new Variant("arch-sync-kernel-mappings", false, "ARCH_PAGE_TABLE_SYNC_MASK: sync the new pgd entry"));
    }

    @Override
    public Machine build(String variant) {
        boolean fix = variant(variant).name().equals("arch-sync-kernel-mappings");
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(2),
                KernelVariant.CORRECT);
        Kernel k = b.kernel();
        Vmalloc vm = new Vmalloc(k, new Preallocate());
        Machine m = b.machine();
        Task old = k.createProcess();
        Task hotplugger = k.createProcess();
        vm.switchTo(k.cpu(0), hotplugger);
        vm.switchTo(k.cpu(1), old);
        long structPages = k.allocator().allocFrame(0, FrameUse.KERNEL);
        long published = k.allocator().allocFrame(0, FrameUse.KERNEL);
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            int mask = vm.populateOutsideVmalloc(k.cpu(0), VMEMMAP_NEW, new long[] {structPages});
            if (fix && (mask & vm.sync().archPageTableSyncMask()) != 0) {
                vm.sync().syncRange(VMEMMAP_NEW, VMEMMAP_NEW + 4096);      // arch_sync_kernel_mappings()
            }
            k.memory().storeLong(published, 1);                            // online_pages(): visible to others
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            for (int i = 0; i < 100; i++) {                                // wait for online_pages()
                if (k.memory().loadLong(published) != 0) {
                    KernelBridge.checkKernelMapping(cpu, old.mm(), VMEMMAP_NEW, "pfn_to_page() on hot-added memory");
                    return;
                }
            }
        });
        return m;
    }
}
