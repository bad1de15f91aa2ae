package ptlab.sim.scenarios;

import java.util.List;

import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.sim.Machine;
import ptlab.sim.Scenario;
import ptlab.sim.SimCpu;

/**
 * {@code pte-clear-vs-dirty}: CPU0 writes to a page through a translation its TLB cached
 * clean, while CPU1 clears the PTE and decides from the D bit it read whether the page must be
 * written back (zap_pte_range, try_to_unmap).
 *
 * <p>A write through a clean TLB entry makes the CPU walk again and set D with a locked
 * compare-and-swap (SDM 4.8). If CPU1 clears with a plain load and store, the walker's D can
 * land between them and be overwritten: the write completed, the kernel saw a clean page, the
 * data is lost. With an atomic exchange ({@code ptep_get_and_clear}) the walker's CAS either
 * precedes the exchange (D is in the old value) or fails and re-walks into a not-present PTE
 * (the write faults instead of completing).
 *
 * <p>Invariant 1 is checked when CPU1 relies on the D bit — after its TLB flush finished on
 * every CPU, so no write can complete later — against the machine's shadow record of completed
 * writes, which does not look at any A/D bit.
 */
public final class PteClearVsDirty implements Scenario {

    static final long PTE_ENTRY = X86Kit.entry(X86Kit.PTE, X86Kit.VA, 1);

    @Override
    public String name() {
        return "pte-clear-vs-dirty";
    }

    @Override
    public String description() {
        return "CPU0 writes through a clean cached translation while CPU1 clears the PTE; the D bit must not be lost";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("plain-store", true, "CPU1 reads the PTE, then clears it with a plain store (the bug)"),
                new Variant("xchg", false, "CPU1 clears with an atomic exchange, as ptep_get_and_clear"));
    }

    @Override
    public Machine build(String variant) {
        boolean xchg = variant(variant).name().equals("xchg");
        X86Kit kit = new X86Kit();
        Machine m = kit.machine;
        PhysicalMemory mem = kit.memory;
        m.addCpu(X86Kit.registers(), cpu -> {
            if (!cpu.userRead(X86Kit.VA)) {            // caches the translation clean
                return;
            }
            if (!cpu.userWrite(X86Kit.VA, 1)) {        // clean hit: re-walk, walker sets D, then stores
                return;
            }
            cpu.userWrite(X86Kit.VA + 8, 2);           // dirty hit: no walk
        });
        m.addCpu(X86Kit.registers(), cpu -> {
            long old;
            if (xchg) {
                old = mem.exchangeLong(PTE_ENTRY, 0);    // ptep_get_and_clear
            } else {
                old = mem.loadLong(PTE_ENTRY);           // pte = *ptep; pte_clear(ptep): D can rise in between
                mem.storeLong(PTE_ENTRY, 0);
            }
            flushTlbPage(cpu, X86Kit.VA);
            m.relyPoint(cpu, PTE_ENTRY);                 // if (pte_dirty(old)) set_page_dirty(page)
            long written = m.shadow().writes(X86Kit.PAGE);
            if (!PteBits.dirty(old) && written > 0) {
                m.fail(1, String.format("CPU%d completed %d write(s) to page 0x%x (va 0x%x, last at step %d) but "
                                + "CPU%d cleared pte 0x%x reading 0x%x [%s] without D: the page is treated as clean "
                                + "and the data is lost", m.shadow().lastWriter(X86Kit.PAGE), written, X86Kit.PAGE,
                        X86Kit.VA, m.shadow().lastWriteStep(X86Kit.PAGE), cpu.id(), PTE_ENTRY, old,
                        PteBits.describe(old)));
            }
        });
        return m;
    }

    /** flush_tlb_page: INVLPG here, then on every other CPU by IPI, waiting for all of them. */
    static void flushTlbPage(SimCpu cpu, long va) {
        cpu.invlpg(va);
        long others = ((1L << cpu.machine().cpuCount()) - 1) & ~(1L << cpu.id());
        cpu.smpCallFunction(others, (target, addr) -> target.invlpg(addr), va);
    }
}
