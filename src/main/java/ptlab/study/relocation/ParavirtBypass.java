package ptlab.study.relocation;

import java.util.List;

import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.hw.ValidatingHypervisor;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;
import ptlab.kernel.XenPvMmu;

/**
 * {@code paravirt-bypass}: mail 002's "under Xen it just plain won't work". The kernel runs
 * paravirtualised over a validating hypervisor ({@link ValidatingHypervisor}, {@link XenPvMmu}):
 * the process's page tables are pinned, so the guest may change them only through the
 * pv_ops hooks (mmu_update hypercalls), and a new table must be pinned before anything points
 * at it. CPU0 keeps writing its page while CPU1 moves the pte page with the {@code safe}
 * protocol. Variant {@code hooks}: the migrator pins the copy, switches the pmd through
 * set_pmd (a hypercall), merges A/D with hypercalls, unpins and frees the old page — it passes.
 * Variant {@code bypass}: the migrator switches the pmd with a plain store, as native code
 * would; the hypervisor rejects the write to a pinned table (invariant 10).
 */
public final class ParavirtBypass implements Scenario {

    public static final int INVARIANT = 10;

    @Override
    public String name() {
        return "paravirt-bypass";
    }

    @Override
    public String description() {
        return "a page-table move under a Xen-like validating hypervisor: through the pv hooks, or bypassing them";
    }

    @Override
    public List<Variant> variants() {
        return List.of(new Variant("bypass", true, "the migrator switches the pmd with a direct store"),
                new Variant("hooks", false, "the migrator pins the copy and switches the pmd by hypercall"));
    }

    /**
     * Not PAE: the Xen-like hypervisor model pins a PAE pgd as a level-3 table whose pmds it has
     * not pinned (32-byte pgd, mail 002), which it refuses.
     */
    static final List<PagingMode> MODES = List.of(PagingMode.X86_64, PagingMode.X86_32, PagingMode.X86_64_LA57);

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
        boolean bypass = variant(variant).name().equals("bypass");
        KernelBridge.Booted b = KernelBridge.boot(mode,
                KernelConfig.defaults().withRam(32L << 20).withCpus(2).withNodes(2), ptlab.kernel.KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        long va = k.mmap(t, 0, 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        if (!k.writeUserLong(k.cpu(0), va, 1)) {
            throw new IllegalStateException("setup fault failed");
        }
        ValidatingHypervisor hv = new ValidatingHypervisor(k.memory(), mode);
        Pgtable pt = k.pgtable();
        pinUserTables(k, hv, t, va);
        pt.setPvOps(new XenPvMmu(hv, k.memory(), pt.entryBytes()));
        hv.setRejections((pa, why) -> {
            if (m.current() == null) {
                throw new IllegalStateException(why);
            }
            m.fail(INVARIANT, "CPU" + m.current().id() + ": " + why);
        });
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            for (int i = 0; i < 3 && KernelBridge.userAccess(cpu, true, va + 8L * i, i); i++) {
                // writes through the TLB; a miss walks whichever copy the pmd points at
            }
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            PageTableMigrator mig = new PageTableMigrator(k, t.mm(), k.cpu(1), cpu);
            mig.setBypassHooks(bypass);
            MoveResult r = new SafeMerge().move(mig, Pgtable.PTE, va, 1);
            if (!r.moved()) {
                throw new IllegalStateException("not moved: " + r);
            }
        });
        m.addEndCheck(mm -> {
            mm.checked(INVARIANT);
            return hv.isPinned(pt.table(pt.get(new PageTableMigrator(k, t.mm(), k.cpu(1), null)
                    .find(Pgtable.PTE, va).parentp()))) ? null : new ptlab.engine.Violation(INVARIANT, mm.steps(),
                    "the moved pte page is not pinned");
        });
        return m;
    }

    /**
     * xen_pgd_pin at activate_mm: pins the mm's user tables bottom-up (pte, pmd, pud), then the
     * pgd; the kernel half's tables were pinned by the hypervisor at boot.
     */
    static void pinUserTables(Kernel k, ValidatingHypervisor hv, Task t, long va) {
        Pgtable pt = k.pgtable();
        PhysicalMemory mem = k.memory();
        int levels = k.mode().levels();
        long pgd = t.mm().pgd();
        int eb = pt.entryBytes();
        for (int i = k.arch().kernelPgdBoundary(); i < k.arch().ptrsPerPgd(); i++) {
            long e = mem.loadEntry(pgd + (long) i * eb, eb);
            if ((e & PteBits.P) != 0) {
                hv.pinTrusted(pt.table(e), levels - 1);
            }
        }
        PageTableMigrator finder = new PageTableMigrator(k, t.mm(), k.cpu(0), null);
        for (int level = Pgtable.PTE; level < Pgtable.PGD; level++) {
            if (!pt.folded(level)) {
                PageTableMigrator.TablePage tp = finder.find(level, va);
                if (!hv.pin(tp.table(), pt.hwLevel(level))) {
                    throw new IllegalStateException("pin of the " + pt.name(level) + " failed");
                }
            }
        }
        if (!hv.pin(pgd, levels)) {
            throw new IllegalStateException("pin of the pgd failed");
        }
    }
}
