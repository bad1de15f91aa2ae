package ptlab.study.vmallocsync;

import java.util.List;

import ptlab.hw.AccessType;
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
 * ARCH_PAGE_TABLE_SYNC_MASK and arch_sync_kernel_mappings()" (Harry Yoo, v6.17-rc, Fixes:
 * 8d400913c231 "x86/vmemmap: handle unpopulated sub-pmd ranges"). Linux v6.6
 * arch/x86/mm/init_64.c:vmemmap_populate() does sync: "if (!err) sync_global_pgds(start, end -
 * 1);" - but only at its end, and vmemmap_populate_hugepages() writes the new struct pages
 * before that (vmemmap_set_pmd() fills an unused sub-pmd range with PAGE_UNUSED; the fix's
 * changelog: "a crash in vmemmap_set_pmd() caused by accessing vmemmap before
 * sync_global_pgds()", "PGD 0 P4D 0"). Whether that write faults depends on the page tables the
 * writing CPU has loaded: a kworker doing the hot-add (async driver probe) runs in lazy TLB
 * mode on whatever mm its CPU last ran; if that mm predates the new top-level entry, x86-64
 * (no vmalloc_fault() since v5.9) oopses; if the CPU is on init_mm, nothing happens. Hence
 * "intermittent".
 *
 * <p>The machine: process H ran on CPU1, which then went idle and runs the hot-add kworker
 * lazily on H's mm; H's other thread on CPU0 queues the hot-add work (a device probe, say from
 * daxctl) and then munmaps memory whose page tables get freed, so the shootdown IPI reaches the
 * lazy CPU1 (native_flush_tlb_multi sends to lazy CPUs when tables
 * were freed) and flush_tlb_func() makes it leave H's mm for init_mm. CPU1's hot-add populates
 * vmemmap at a new pgd entry (vmemmap_base + 1 TiB) in init_mm and then writes the struct
 * pages through its MMU (a supervisor write; a missing entry is a #PF from the walker, which
 * x86-64's do_kern_addr_fault() cannot fix: invariant 4). In the schedule without preemption
 * CPU0 goes on from queueing the work to its munmap and IPI, and CPU1 writes on init_mm: no
 * fault. Only a schedule that preempts CPU0 after it queued the work and runs the hot-add's
 * write before the IPI - the window before sync_global_pgds() on a CPU still lazily on H -
 * oopses.
 *
 * <p>Variants: {@code sync-after-populate} (broken: v6.6, the write in the window before the
 * sync at the end of vmemmap_populate) and {@code arch-sync-kernel-mappings} (the fix: the
 * pgtbl_mod_mask's p4d bit makes p4d_populate_kernel() sync the new entry into every pgd when it
 * is populated, before anything touches it).
 */
public final class HotplugKernelMapping implements Scenario {

    /** vmemmap_base on 4-level x86-64 (Documentation/arch/x86/x86_64/mm.rst) plus 1 TiB: a fresh pgd entry. */
    static final long VMEMMAP_NEW = 0xffff_ea00_0000_0000L + (1L << 40);

    /** PAGE_UNUSED, what vmemmap_set_pmd()/vmemmap_use_new_sub_pmd() write into unused struct pages. */
    static final long PAGE_UNUSED = 0xFD;

    /** Where H's other thread maps, touches and unmaps memory: a range of its own page tables. */
    static final long H_MAPPING = 0x4000_0000L;

    @Override
    public String name() {
        return "hotplug-kernel-mapping";
    }

    @Override
    public String description() {
        return "memory hotplug writes new vmemmap before syncing it, on a CPU lazily on an older mm";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("sync-after-populate", true,
                        "v6.6: vmemmap_set_pmd() writes before vmemmap_populate()'s final sync_global_pgds()"),
                new Variant("arch-sync-kernel-mappings", false,
                        "ARCH_PAGE_TABLE_SYNC_MASK: the new p4d is synced when populated, before any access"));
    }

    /** Memory hotplug's vmemmap and direct map sync at the pgd/p4d: 4- and 5-level paging only. */
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
        boolean fix = variant(variant).name().equals("arch-sync-kernel-mappings");
        KernelBridge.Booted b = KernelBridge.boot(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(2),
                KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Vmalloc vm = new Vmalloc(k, new Preallocate());
        Machine m = b.machine();
        Task h = k.createProcess();
        vm.switchTo(k.cpu(1), h);
        long a = k.mmap(h, H_MAPPING, 4096, Kernel.PROT_READ | Kernel.PROT_WRITE,
                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS | Kernel.MAP_FIXED);
        k.access(k.cpu(1), a, AccessType.WRITE);                          // H's page tables for H_MAPPING
        Task thread = k.cloneThread(h);
        vm.switchTo(k.cpu(1), null);                                      // CPU1 idles: lazy TLB on H's mm
        vm.switchTo(k.cpu(0), thread);
        long structPages = k.allocator().allocFrame(0, FrameUse.KERNEL);
        KernelBridge.KernelFaultHandler noVmallocFault = (cpu, errorCode, address) -> false;   // x86-64 since v5.9
        boolean[] queued = new boolean[1];
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            queued[0] = true;                                             // e.g. daxctl: the probe work is queued
            cpu.publish(1);
            k.munmap(thread, H_MAPPING, 4096);                            // frees tables: IPIs the lazy CPU1
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            cpu.await(c -> !queued[0], 1);                                // the kworker wakes for the queued work
            // the hot-add kworker: vmemmap_populate() for the new section
            int mask = vm.populateOutsideVmalloc(k.cpu(1), VMEMMAP_NEW, new long[] {structPages});
            if (fix && (mask & vm.sync().archPageTableSyncMask()) != 0) {
                vm.sync().archSyncKernelMappings(VMEMMAP_NEW, VMEMMAP_NEW + 4096);   // p4d_populate_kernel()
            }
            KernelBridge.kernelAccess(cpu, true, VMEMMAP_NEW, PAGE_UNUSED, "vmemmap_set_pmd() on hot-added memory",
                    noVmallocFault);
            vm.sync().syncRange(VMEMMAP_NEW, VMEMMAP_NEW + 4096);        // "if (!err) sync_global_pgds(start, end - 1)"
        });
        return m;
    }
}
