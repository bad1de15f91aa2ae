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
 * {@code free-pgtables-vs-walk}: CPU1 unmaps the last page of a 2 MiB region and frees the
 * now-empty PTE page (free_pgtables: pmd_clear, pte_free) while CPU0 keeps accessing the
 * region. CPU0's page walker may be between reading the PMD entry and reading the PTE page,
 * and its paging-structure cache (PDE cache) keeps pointing to the PTE page after the PMD entry
 * is cleared. Freeing the page before every CPU flushed is the bug mmu_gather's
 * {@code tlb_remove_table} exists to prevent; invariant 2 is checked at the free (no cache may
 * point to it) and at every walker access afterwards.
 *
 * <p>The {@code munmap-*} variants run the kernel layer's own {@code munmap} of the process's
 * only mapping (zap, free_pgtables freeing the pte, pmd and pud pages into the mmu_gather,
 * tlb_finish_mmu) while CPU0 reads the page; the broken kernel frees the gathered page-table
 * pages before flush_tlb_mm_range instead of after it. Invariant 2 is checked at each free (no
 * paging-structure cache may point to the page) and at every walker read of a free frame.
 */
public final class FreePgtablesVsWalk implements Scenario {

    static final long PTE_ENTRY = X86Kit.entry(X86Kit.PTE, X86Kit.VA, 1);
    static final long PMD_ENTRY = X86Kit.entry(X86Kit.PMD, X86Kit.VA, 2);

    @Override
    public String name() {
        return "free-pgtables-vs-walk";
    }

    @Override
    public String description() {
        return "CPU1 frees a page-table page while CPU0's walk or paging-structure cache may still use it";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("munmap-free-before-flush", true,
                        "kernel munmap whose mmu_gather frees the page tables before the TLB flush (the bug)"),
                new Variant("munmap-mmu-gather", false, "kernel munmap: tlb_finish_mmu flushes, then frees the tables"),
                new Variant("free-before-flush", true, "pmd_clear, pte_free, then the TLB flush"),
                new Variant("mmu-gather", false, "pmd_clear, flush every CPU by IPI, then free (tlb_remove_table)"));
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
        boolean freeBeforeFlush = variant(variant).name().equals("munmap-free-before-flush");
        return KernelKit.machines(this, variant, mode, "munmap-", images -> buildKernel(freeBeforeFlush, mode, images));
    }

    /** The {@code munmap-*} variants boot the kernel layer in any mode; the others are x86-64 tables written by hand. */
    @Override
    public Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        String v = variant(variant).name();
        if (v.startsWith("munmap-")) {
            return buildKernel(v.equals("munmap-free-before-flush"), mode, null);
        }
        boolean gather = v.equals("mmu-gather");
        X86Kit kit = new X86Kit();
        Machine m = kit.machine;
        SimLock mmapLock = new SimLock("mmap_lock", 1);
        m.addCpu(X86Kit.registers(), cpu -> {
            for (int i = 0; i < 3; i++) {
                if (!cpu.userRead(X86Kit.VA)) {
                    return;
                }
            }
            cpu.flushTlbAll();   // switched to another process: the CR3 write drops this one's entries
        });
        m.addCpu(X86Kit.registers(), cpu -> {
            cpu.lock(mmapLock);
            kit.memory.exchangeLong(PTE_ENTRY, 0);      // zap the last pte
            kit.memory.storeLong(PMD_ENTRY, 0);         // free_pte_range: pmd_clear
            if (gather) {
                PteClearVsDirty.flushTlbPage(cpu, X86Kit.VA);   // tlb_flush_mmu: INVLPG drops PSC entries too
                m.freePageTable(cpu, X86Kit.PTE);               // tlb_remove_table after the flush
            } else {
                m.freePageTable(cpu, X86Kit.PTE);               // pte_free right away: the bug
                PteClearVsDirty.flushTlbPage(cpu, X86Kit.VA);
            }
            cpu.unlock(mmapLock);
        });
        return m;
    }

    private static Machine buildKernel(boolean freeBeforeFlush, PagingMode mode, KernelImages images) {
        KernelKit kit = new KernelKit(1, freeBeforeFlush
                ? KernelVariant.of(KernelVariant.Bug.FREE_TABLES_BEFORE_FLUSH) : KernelVariant.CORRECT, mode, images);
        KernelBridge.watchUserRange(kit.machine, kit.va, 4096);
        // CPU0 reads until munmap makes it fault, then switches away: Linux's zap flushes at the
        // vma's end (tlb_end_vma) before free_pgtables, so only a walk after that flush can leave
        // the tables in a paging-structure cache when the broken kernel frees them early.
        kit.cpu(0, kit.readsThenSwitchAway(64));
        kit.cpu(1, cpu -> kit.kernel.munmap(kit.other, kit.va, 4096));
        return kit.machine;
    }
}
