package ptlab.sim.scenarios;

import java.util.List;

import ptlab.sim.Machine;
import ptlab.sim.Scenario;
import ptlab.sim.SimLock;

/**
 * {@code tlb-stale-after-unmap}: CPU0 keeps reading a page of its process while CPU1, in the
 * same mm, munmaps it: takes mmap_lock for writing, clears the PTE, flushes, drops the lock and
 * frees the page. Without the shootdown (only the local INVLPG), CPU0's TLB still translates
 * the address to the freed page — invariant 3, checked when the page is freed. With
 * flush_tlb_mm_range's IPI the stale entry is gone before the free.
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
                new Variant("no-shootdown", true, "munmap flushes only the local TLB (INVLPG on CPU1)"),
                new Variant("shootdown", false, "munmap flushes every CPU of the mm by IPI before freeing the page"));
    }

    @Override
    public Machine build(String variant) {
        boolean shootdown = variant(variant).name().equals("shootdown");
        X86Kit kit = new X86Kit();
        Machine m = kit.machine;
        SimLock mmapLock = new SimLock("mmap_lock", 1);
        m.addCpu(X86Kit.registers(), cpu -> {
            for (int i = 0; i < 3; i++) {
                if (!cpu.userRead(X86Kit.VA)) {
                    return;   // SIGSEGV: the page is gone
                }
            }
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
}
