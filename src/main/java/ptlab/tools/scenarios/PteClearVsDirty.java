package ptlab.tools.scenarios;

import ptlab.hw.PagingMode;

import java.util.List;
import java.util.function.Supplier;

import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.kernel.KernelVariant;
import ptlab.engine.KernelBridge;
import ptlab.engine.KernelImages;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.SimCpu;

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
 *
 * <p>The {@code mprotect-*} variants run the kernel layer's own {@code mprotect(PROT_READ)}
 * (change_pte_range: ptep_modify_prot_start, pte_modify, ptep_modify_prot_commit, then the TLB
 * flush) on CPU1 while CPU0 reads and writes the page through its TLB and the kernel's fault
 * handler. The page starts mapped writable and clean, as after MADV_FREE
 * (madvise_free_pte_range clears D so that reclaim may discard a page nobody wrote again: a
 * lost D there is lost data). The broken kernel clears the pte with a plain load and store;
 * the check, at the end of the run, is that a page the shadow record saw written and that is
 * still mapped has D in its pte.
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
                new Variant("mprotect-plain-clear", true,
                        "kernel mprotect whose ptep_get_and_clear is a plain load and store (the bug)"),
                new Variant("mprotect-xchg", false, "kernel mprotect: ptep_get_and_clear is an atomic exchange"),
                new Variant("plain-store", true, "CPU1 reads the PTE, then clears it with a plain store (the bug)"),
                new Variant("xchg", false, "CPU1 clears with an atomic exchange, as ptep_get_and_clear"));
    }

    @Override
    public List<PagingMode> modes(String variant) {
        return variant(variant).name().startsWith("mprotect-") ? KernelKit.ALL_MODES : List.of(X86Kit.MODE);
    }

    @Override
    public Machine build(String variant) {
        return build(variant, modes(variant).get(0));
    }

    /** The {@code mprotect-*} variants restore each machine's kernel from the search's boot image ({@link KernelImages}). */
    @Override
    public Supplier<Machine> machines(String variant, PagingMode mode) {
        boolean plainClear = variant(variant).name().equals("mprotect-plain-clear");
        return KernelKit.machines(this, variant, mode, "mprotect-", images -> buildKernel(plainClear, mode, images));
    }

    /** The {@code mprotect-*} variants boot the kernel layer in any mode; the others are x86-64 tables written by hand. */
    @Override
    public Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        String v = variant(variant).name();
        if (v.startsWith("mprotect-")) {
            return buildKernel(v.equals("mprotect-plain-clear"), mode, null);
        }
        boolean xchg = v.equals("xchg");
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
            m.checked(1);
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

    private static Machine buildKernel(boolean plainClear, PagingMode mode, KernelImages images) {
        KernelKit kit = new KernelKit(1, plainClear
                ? KernelVariant.of(KernelVariant.Bug.PLAIN_PTE_CLEAR) : KernelVariant.CORRECT, mode, images);
        long va = kit.va;
        // madvise_free_pte_range: the page stays mapped and writable but clean, and no TLB keeps it dirty
        int[] level = new int[1];
        long ptep = kit.kernel.pgtable().walk(kit.user.mm(), va, level);
        ptlab.kernel.Pgtable pt = kit.kernel.pgtable();
        pt.set(ptep, pt.get(ptep) & ~PteBits.D);                 // the mode's entry width (4 bytes on x86-32)
        kit.kernel.cpu(0).mmu().invlpg(va);
        kit.machine.addEndCheck(ptlab.check.KernelChecks.dirtyCheck(kit.kernel, kit.user.mm(), va, 4096));
        kit.cpu(0, cpu -> {
            if (KernelBridge.userAccess(cpu, false, va, 0)       // caches the translation clean
                    && KernelBridge.userAccess(cpu, true, va, 1)) {  // clean hit: the walker sets D
                KernelBridge.userAccess(cpu, true, va + 8, 2);
            }
        });
        kit.cpu(1, cpu -> kit.kernel.mprotect(kit.other, va, 4096, ptlab.kernel.Kernel.PROT_READ));
        return kit.machine;
    }
}
