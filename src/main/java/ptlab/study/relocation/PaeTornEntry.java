package ptlab.study.relocation;

import java.util.List;

import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.engine.Violation;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Pgtable;
import ptlab.kernel.SpinLock;
import ptlab.kernel.Task;

/**
 * {@code pae-torn-entry}: on 32-bit PAE a pte is 8 bytes but the kernel writes it as two 4-byte
 * halves, high first ({@link Pgtable#set_pte}, Linux's native_set_pte). A page-table copier
 * that reads an entry as two halves (a 32-bit copy loop: low word, then high word) without the
 * page-table lock can read the low half from before the write and the high half from after:
 * an entry that never existed. Here CPU0 maps a new page (pte_offset_map_lock, set_pte, a
 * no-execute mapping: NX is bit 63, in the high half) while CPU1 copies the pte page to node 1
 * and switches the pmd to the copy. The torn copy holds NX and no present bit: the page the
 * kernel just mapped is gone from the moved table — or, written the other way round, an
 * executable mapping the kernel never made.
 *
 * <p>Variants: {@code unlocked-halves} (the copier takes no lock: broken) and {@code ptl} (the
 * copier holds the old pte page's split lock while it copies and switches the pmd; the mapper
 * re-checks the pmd after taking the lock, as Linux v6.5+ __pte_offset_map_lock does, and so
 * writes into the new page when it lost the race). Invariant 9 is checked at the end: the
 * moved table maps exactly what the kernel mapped.
 */
public final class PaeTornEntry implements Scenario {

    /** Invariant 9 of this study: a moved page table maps what the original mapped. */
    public static final int INVARIANT = 9;

    @Override
    public String name() {
        return "pae-torn-entry";
    }

    @Override
    public String description() {
        return "PAE set_pte writes two halves; a copy reading them in two halves without the ptl sees a torn entry";
    }

    @Override
    public List<Variant> variants() {
        return List.of(new Variant("unlocked-halves", true, "the copier reads each entry low half, high half, without the pte lock"),
                new Variant("ptl", false, "the copier holds the pte lock; the mapper re-checks the pmd after locking"));
    }

    /** PAE's two-half pte write exists only in PAE. */
    @Override
    public List<PagingMode> modes(String variant) {
        return List.of(PagingMode.X86_32_PAE);
    }

    @Override
    public Machine build(String variant) {
        boolean locked = variant(variant).name().equals("ptl");
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_32_PAE,
                KernelConfig.defaults().withRam(32L << 20).withCpus(2).withNodes(2), ptlab.kernel.KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Machine m = b.machine();
        Pgtable pt = k.pgtable();
        Task t = k.createProcess();
        k.switchTo(k.cpu(0), t);
        long va = k.mmap(t, 0, 2 * 4096L, Kernel.PROT_READ | Kernel.PROT_WRITE, Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS);
        if (!k.writeUserLong(k.cpu(0), va, 1)) {
            throw new IllegalStateException("setup fault failed");
        }
        long newVa = va + 4096;
        long page = k.allocator().allocFrame(0, FrameUse.USER);
        long entry = pt.pfn_pte(page, PteBits.P | PteBits.RW | PteBits.US | PteBits.A | PteBits.D | pt.nx());
        int[] lvl = new int[1];
        long firstPte = pt.walk(t.mm(), va, lvl);
        long firstEntry = pt.get(firstPte);
        long pmdp = firstPte;   // replaced below: the pmd entry pointing at the pte page
        PageTableMigrator probe = new PageTableMigrator(k, t.mm(), k.cpu(1), null);
        pmdp = probe.find(Pgtable.PTE, va).parentp();
        long pmdEntry = pmdp;
        int index0 = (int) ((firstPte & (PhysicalMemory.PAGE_SIZE - 1)) / 8);

        // CPU0: map the new page as the tail of a fault would (pte_offset_map_lock + set_pte)
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            while (true) {
                long pmdval = pt.get(pmdEntry);
                SpinLock ptl = pt.ptlock(pt.table(pmdval));
                ptl.lock();
                if (pt.get(pmdEntry) == pmdval) {                    // pmd_same(): still the table we locked
                    pt.set_pte(pt.table(pmdval) + (long) (index0 + 1) * 8, entry);
                    ptl.unlock();
                    return;
                }
                ptl.unlock();                                        // the table moved: retry on the new one
            }
        });
        // CPU1: copy the pte page entry by entry, each as two 32-bit reads, then switch the pmd, flush, free
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            PageTableMigrator mig = new PageTableMigrator(k, t.mm(), k.cpu(1), cpu);
            PageTableMigrator.TablePage tp = mig.find(Pgtable.PTE, va);
            long copy = mig.allocate(tp, 1);
            SpinLock ptl = pt.ptlock(tp.table());
            if (locked) {
                ptl.lock();
            }
            for (int i = index0; i < index0 + 2; i++) {              // the entries of the vma
                long p = tp.table() + i * 8L;
                long lo = Integer.toUnsignedLong(k.memory().loadInt(p));
                long hi = Integer.toUnsignedLong(k.memory().loadInt(p + 4));
                k.memory().storeLong(copy + i * 8L, hi << 32 | lo);
            }
            m.annotate(String.format("copied the vma's entries of pte page 0x%x to 0x%x in 32-bit halves", tp.table(), copy));
            mig.switchTo(tp, copy);
            if (locked) {
                ptl.unlock();
            }
            mig.flush(tp, va);
            mig.freeNow(tp);
        });
        m.addEndCheck(mm -> {
            mm.checked(INVARIANT);
            long now = k.leafEntry(t.mm(), newVa);
            long first = k.leafEntry(t.mm(), va);
            long ad = PteBits.A | PteBits.D;
            if ((now & ~ad) != (entry & ~ad)) {
                boolean torn = now != 0 && (now >>> 32) == (entry >>> 32) && (now & 0xFFFF_FFFFL) != (entry & 0xFFFF_FFFFL);
                return new Violation(INVARIANT, mm.steps(), String.format("the moved pte for va 0x%x is 0x%x [%s] but "
                                + "CPU0's set_pte wrote 0x%x [%s]%s", newVa, now, PteBits.describe(now), entry,
                        PteBits.describe(entry), torn ? String.format(": a torn entry, high half 0x%x of the new value "
                                + "with low half 0x%x of the old", now >>> 32, now & 0xFFFF_FFFFL)
                                : ": the write landed in the old copy after it was read"));
            }
            if ((first & ~ad) != (firstEntry & ~ad)) {
                return new Violation(INVARIANT, mm.steps(), String.format("the moved pte for va 0x%x changed from 0x%x to 0x%x",
                        va, firstEntry, first));
            }
            return null;
        });
        return m;
    }
}
