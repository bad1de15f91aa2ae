package ptlab.tools.scenarios;

import ptlab.hw.PagingMode;

import java.util.List;
import java.util.function.Supplier;

import ptlab.kernel.KernelVariant;
import ptlab.engine.KernelBridge;
import ptlab.engine.KernelImages;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.SimLock;

/**
 * {@code tlb-stale-after-unmap}: CPU0 keeps reading a page of its process while CPU1, in the
 * same mm, munmaps it: takes mmap_lock for writing, clears the PTE, flushes, drops the lock and
 * frees the page. Without the shootdown (only the local INVLPG), CPU0's TLB still translates
 * the address to the freed page — invariant 3, checked when the page is freed. With
 * flush_tlb_mm_range's IPI the stale entry is gone before the free.
 *
 * <p>Two levels. The {@code munmap-*} variants run the kernel layer's own {@code munmap}
 * (do_vmi_munmap → unmap_region → zap_pte_range, mmu_gather, flush_tlb_mm_range) while CPU0
 * reads through {@code do_user_addr_fault}; the broken one flushes only the local CPU (no IPI),
 * and the check is the mmu_gather's free of the page. Of two mapped pages only the first is
 * unmapped, so the page-table pages stay and the bug is the TLB entry alone. The other two
 * variants are the same race with the kernel steps written out by hand on fixed tables.
 */
public final class TlbStaleAfterUnmap implements Scenario {

    static final long PTE_ENTRY = X86Kit.entry(X86Kit.PTE, X86Kit.VA, 1);

    @Override
    public String name() {
        return "tlb-stale-after-unmap";
    }

    @Override
    public String description() {
        return "CPU1 munmaps a page CPU0 is reading; no TLB entry may outlive the mapping once the page is freed";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("munmap-local-flush", true,
                        "kernel munmap whose flush_tlb_mm_range flushes only the calling CPU (no IPI)"),
                new Variant("munmap-shootdown", false, "kernel munmap: flush_tlb_mm_range IPIs every CPU in mm_cpumask"),
                new Variant("no-shootdown", true, "munmap flushes only the local TLB (INVLPG on CPU1)"),
                new Variant("shootdown", false, "munmap flushes every CPU of the mm by IPI before freeing the page"));
    }

    @Override
    public List<PagingMode> modes(String variant) {
        return variant(variant).name().startsWith("munmap-") ? KernelKit.ALL_MODES : List.of(X86Kit.MODE);
    }

    @Override
    public Machine build(String variant) {
        return build(variant, modes(variant).get(0));
    }

    /** The {@code munmap-*} variants restore each machine's kernel from the search's boot image ({@link KernelImages}). */
    @Override
    public Supplier<Machine> machines(String variant, PagingMode mode) {
        boolean localFlushOnly = variant(variant).name().equals("munmap-local-flush");
        return KernelKit.machines(this, variant, mode, "munmap-", images -> buildKernel(localFlushOnly, mode, images));
    }

    /** The {@code munmap-*} variants boot the kernel layer in any mode; the others are x86-64 tables written by hand. */
    @Override
    public Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        String v = variant(variant).name();
        if (v.startsWith("munmap-")) {
            return buildKernel(v.equals("munmap-local-flush"), mode, null);
        }
        boolean shootdown = v.equals("shootdown");
        X86Kit kit = new X86Kit();
        Machine m = kit.machine;
        SimLock mmapLock = new SimLock("mmap_lock", 1);
        m.addCpu(X86Kit.registers(), cpu -> {
            for (int i = 0; i < 3; i++) {
                if (!cpu.userRead(X86Kit.VA)) {
                    return;   // SIGSEGV: the page is gone
                }
            }
            cpu.flushTlbAll();   // switched to another process: the CR3 write drops this one's entries
        });
        m.addCpu(X86Kit.registers(), cpu -> {
            cpu.lock(mmapLock);                                    // mmap_write_lock
            kit.memory.exchangeLong(PTE_ENTRY, 0);                 // zap_pte_range: ptep_get_and_clear
            if (shootdown) {
                PteClearVsDirty.flushTlbPage(cpu, X86Kit.VA);      // flush_tlb_mm_range
            } else {
                cpu.invlpg(X86Kit.VA);                             // local flush only: the bug
            }
            cpu.unlock(mmapLock);
            m.freeUserPage(cpu, X86Kit.VA, X86Kit.PAGE);           // free_pages_and_swap_cache
        });
        return m;
    }

    private static Machine buildKernel(boolean localFlushOnly, PagingMode mode, KernelImages images) {
        KernelKit kit = new KernelKit(2, localFlushOnly
                ? KernelVariant.of(KernelVariant.Bug.LOCAL_FLUSH_ONLY) : KernelVariant.CORRECT, mode, images);
        KernelBridge.watchUserRange(kit.machine, kit.va, 2 * 4096L);
        kit.cpu(0, kit.readsThenSwitchAway(3));
        kit.cpu(1, cpu -> kit.kernel.munmap(kit.other, kit.va, 4096));
        return kit.machine;
    }
}
