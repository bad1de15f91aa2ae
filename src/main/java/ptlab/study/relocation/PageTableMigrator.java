package ptlab.study.relocation;

import ptlab.engine.Machine;
import ptlab.engine.SimCpu;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.kernel.Cpu;
import ptlab.kernel.Cpumask;
import ptlab.kernel.FlushTlbInfo;
import ptlab.kernel.Kernel;
import ptlab.kernel.MmStruct;
import ptlab.kernel.MmuGather;
import ptlab.kernel.Pgtable;

/**
 * The mechanism every relocation protocol shares: moving one page-table page of a live mm to
 * a NUMA node, written once for all levels and all four paging modes through the generic
 * folded pgd/p4d/pud/pmd/pte operations of {@link Pgtable}.
 *
 * <pre>
 *   find       walk pgd_offset → p4d/pud/pmd_offset down to the parent entry of the table
 *   allocate   pagetable_alloc on the target node (+ its split ptlock for pte/pmd pages)
 *   copy       copy_page(new, old)                       one access: walkers may run before or after
 *   switch     pXd_populate(parent, new)   or, for the pgd, mm->pgd = new and every CPU reloads CR3
 *   flush      flush_tlb_mm_range(.., freed_tables)      every CPU's TLB and paging-structure caches
 *   free       the old page, only after the flush (invariant 2 is checked at that instant)
 * </pre>
 *
 * Refused, as results (Fitzhardinge, linux-mm, 30 Apr 2008): init_mm's tables ("a number of
 * places in the kernel update init_mm without holding any locks"), the PAE pgd ("a pgd isn't
 * necessarily a page size. x86-32 PAE it's only 32 bytes"), a level folded into its parent in
 * this mode (no table of its own: 2- and 3-level paging fall out of the folding), and tables of
 * the kernel half, which are init_mm's, shared by every process.
 *
 * <p>Runs as kernel code on kernel CPU {@link #cpu()}: inside a {@link Machine} ({@link #sim}
 * non-null) every memory access, lock and IPI is a scheduling point; outside one (setup), the
 * same code runs synchronously. Locking: the caller's protocol holds {@code mmap_lock} for
 * write, so no fault handler or mprotect changes the tables meanwhile; only hardware walkers
 * (setting A/D) race with the move, which is what the protocols differ on.
 */
public final class PageTableMigrator {

    private final Kernel k;
    private final Pgtable pt;
    private final PhysicalMemory mem;
    private final MmStruct mm;
    private final Cpu cpu;
    private final SimCpu sim;
    private final long[] oldWords = new long[PhysicalMemory.PAGE_SIZE / 8];
    private final long[] newWords = new long[PhysicalMemory.PAGE_SIZE / 8];
    private long pagesMoved;
    private long pagesFreed;
    private long ipis;
    private boolean bypassHooks;

    /** The table a move concerns: Linux level, the parent entry pointing at it (-1 for the pgd), its address. */
    public record TablePage(int level, long parentp, long table) {
    }

    public PageTableMigrator(Kernel k, MmStruct mm, Cpu cpu, SimCpu sim) {
        this.k = k;
        this.pt = k.pgtable();
        this.mem = k.memory();
        this.mm = mm;
        this.cpu = cpu;
        this.sim = sim;
    }

    /** Test switch: switch the parent entry with a direct store, bypassing the paravirt hooks (a broken migrator). */
    public void setBypassHooks(boolean bypass) {
        this.bypassHooks = bypass;
    }

    public Kernel kernel() {
        return k;
    }

    public MmStruct mm() {
        return mm;
    }

    public Cpu cpu() {
        return cpu;
    }

    /** The simulated CPU running this code, or null outside a machine. */
    public SimCpu sim() {
        return sim;
    }

    public Pgtable pgtable() {
        return pt;
    }

    public long pagesMoved() {
        return pagesMoved;
    }

    /** IPIs this migrator sent itself (CR3 reloads); the flushes' IPIs are counted by TlbFlush. */
    public long ipis() {
        return ipis;
    }

    void addPagesMoved(long n) {
        pagesMoved += n;
    }

    // ---- find and refuse --------------------------------------------------------------------

    /** Why the level-{@code level} table for {@code va} must not be moved, or null if it may. */
    public String refusal(int level, long va) {
        PagingMode mode = k.mode();
        if (mm.isInitMm()) {
            return "init_mm's tables are not moved: the kernel updates init_mm without locks (mail 002)";
        }
        if (level == Pgtable.PGD && mode.isPae()) {
            return "the PAE pgd is 32 bytes (4 PDPTEs), not a page: it is not moved page-wise (mail 002)";
        }
        if (pt.folded(level)) {
            return String.format("%s is folded into the %s on %s: no table of its own", pt.name(level),
                    pt.name(level + 1), mode.cliName());
        }
        if (level != Pgtable.PGD && Long.compareUnsigned(va, mm.taskSize()) >= 0) {
            return String.format("va 0x%x is in the kernel half: its tables are init_mm's, shared by every process", va);
        }
        return null;
    }

    /** The level-{@code level} table translating {@code va}, or null if there is none (empty or a huge leaf above). */
    public TablePage find(int level, long va) {
        if (level == Pgtable.PGD) {
            return new TablePage(level, -1, mm.pgd());
        }
        long p = pt.pgd_offset(mm, va);
        for (int l = Pgtable.P4D; l > level; l--) {
            long e = pt.get(p);
            if (pt.none(l + 1, e) || pt.leaf(l + 1, e) || !pt.present(l + 1, e)) {
                return null;
            }
            p = pt.offset(l, p, va);
        }
        long e = pt.get(p);
        if (pt.none(level + 1, e) || pt.leaf(level + 1, e) || (e & PteBits.P) == 0) {
            return null;
        }
        return new TablePage(level, p, pt.table(e));
    }

    // ---- the steps ----------------------------------------------------------------------------

    /** pagetable_alloc on {@code node} (hardware level of the table), with its ptlock for pte/pmd pages; -1 on OOM. */
    public long allocate(TablePage t, int node) {
        if (t.level() <= Pgtable.PMD) {
            return pt.alloc_one(t.level(), node);
        }
        return k.allocator().allocPageTable(node, pt.hwLevel(t.level()));
    }

    /** copy_page(new, old): one access, so a walker's A/D update lands before or after it. */
    public void copy(TablePage t, long newTable) {
        annotate(String.format("copies %s page 0x%x to 0x%x (node %d)", pt.name(t.level()), t.table(), newTable,
                mem.nodeOf(newTable)));
        mem.copyFrame(t.table(), newTable);
        chargePage(1, 1);
        pagesMoved++;
        if (pt.pvOps() != null) {
            pt.pvOps().pin(newTable, pt.hwLevel(t.level()));   // paravirt_alloc_pXd: a page table from now on
        }
    }

    /**
     * Timed mode: copyFrame and readFrame are one scheduling point each, charged one load or
     * store; the rest of the 512 words each read or written costs like a load or store.
     */
    void chargePage(int pagesRead, int pagesWritten) {
        if (sim != null) {
            ptlab.engine.CostTable c = sim.machine().costs();
            int words = PhysicalMemory.PAGE_SIZE / 8 - 1;
            sim.charge((long) words * (pagesRead * c.cost(ptlab.engine.Op.LOAD)
                    + pagesWritten * c.cost(ptlab.engine.Op.STORE)));
        }
    }

    /**
     * Points the parent entry at {@code newTable} (pXd_populate; on PAE a PDPTE change makes
     * every CPU reload CR3, through the kernel's own pdpt listener), or for the pgd makes it the
     * mm's top level and has every CPU running the mm reload CR3.
     */
    public void switchTo(TablePage t, long newTable) {
        if (bypassHooks && t.level() != Pgtable.PGD) {
            // the deliberately broken migrator: a direct store, as if the page were ordinary memory
            annotate(String.format("switches the %s entry 0x%x with a direct store", pt.name(t.level() + 1), t.parentp()));
            mem.storeEntry(t.parentp(), pt.entryBytes(), pt.mk_table(t.level() + 1, newTable, true));
            return;
        }
        if (t.level() == Pgtable.PGD) {
            k.arch().pgd_replace(mm, newTable);
            onEachCpuOfMm((target) -> k.tlb().reload_mm_cr3(target, mm));
            return;
        }
        pt.populate(mm, t.level() + 1, t.parentp(), newTable);
    }

    /**
     * flush_tlb_mm_range(mm, the range the table maps, freed_tables = true): every CPU in
     * mm_cpumask (lazy ones too, as for freed tables) drops its TLB entries and its
     * paging-structure cache entries (INVLPG drops all of them, SDM 4.10.4.1). A PAE pmd page
     * hangs off a PDPTE, cached at CR3 load: then the whole mm is flushed, which reloads CR3
     * (as ___pmd_free_tlb's need_flush_all). The pgd needs nothing more: CR3 was reloaded.
     */
    public void flush(TablePage t, long va) {
        if (t.level() == Pgtable.PGD) {
            return;
        }
        long start = va & pt.mask(t.level() + 1);
        boolean all = k.mode().isPae() && t.level() == Pgtable.PMD;
        k.tlb().flush_tlb_mm_range(cpu, mm, all ? 0 : start, all ? FlushTlbInfo.TLB_FLUSH_ALL : start + 4096, 12, true);
    }

    /**
     * Frees the old table through mmu_gather (tlb_remove_table, then tlb_finish_mmu's flush
     * and free): the batching machinery mail 002 asks the patch to reuse instead of its
     * MMF_NEED_FLUSH.
     */
    public void freeViaGather(TablePage t, long va) {
        if (t.level() == Pgtable.PGD) {
            freeNow(t);
            return;
        }
        unpin(t);
        MmuGather tlb = MmuGather.tlb_gather_mmu(k, cpu, mm);
        tlb.free_table_tlb(t.level(), t.table(), va & pt.mask(t.level() + 1));
        tlb.tlb_finish_mmu();
        pagesFreed++;
    }

    /** Frees the old table now; the caller has flushed every CPU (checked: invariant 2 at this instant). */
    public void freeNow(TablePage t) {
        if (sim != null) {
            sim.machine().kernelFreedPageTable(sim, t.table());
            sim.machine().annotate(String.format("frees old %s page 0x%x", pt.name(t.level()), t.table()));
        }
        unpin(t);
        k.allocator().freeFrame(t.table());
        pagesFreed++;
    }

    /** paravirt_release_pXd: the old table stops being a page table (before it is freed). */
    private void unpin(TablePage t) {
        if (pt.pvOps() != null) {
            pt.pvOps().unpin(t.table(), pt.hwLevel(t.level()));
        }
    }

    /**
     * Merges into the new copy the A and D bits hardware walkers set in the old copy after it
     * was taken. Called after the flush, when no CPU can reach the old copy any more, so its
     * bits are final. Both pages are read whole (one access each); each entry that gained a bit
     * is updated with a compare-and-swap, since walkers set A/D in the new copy concurrently.
     * Only an entry still mapping the same frame inherits bits (the caller holds mmap_lock, so
     * none changed, but the check costs nothing). Returns the entries merged.
     */
    public int mergeAccessedDirty(TablePage t, long newTable) {
        mem.readFrame(t.table(), oldWords);
        mem.readFrame(newTable, newWords);
        chargePage(2, 0);
        int eb = pt.entryBytes();
        int n = PhysicalMemory.PAGE_SIZE / eb;
        int merged = 0;
        for (int i = 0; i < n; i++) {
            long o = word(oldWords, i, eb);
            long nw = word(newWords, i, eb);
            long bits = o & (PteBits.A | PteBits.D) & ~nw;
            if (bits == 0 || (o & PteBits.P) == 0 || pt.table(o) != pt.table(nw)) {
                continue;
            }
            long p = newTable + (long) i * eb;
            while (true) {
                long cur = pt.get(p);
                if ((cur & bits) == bits || pt.cmpxchg(p, cur, cur | bits)) {
                    break;
                }
            }
            annotate(String.format("merges %s%s of entry %d from the old copy", (bits & PteBits.A) != 0 ? "A" : "",
                    (bits & PteBits.D) != 0 ? "D" : "", i));
            merged++;
        }
        return merged;
    }

    private static long word(long[] words, int i, int eb) {
        if (eb == 8) {
            return words[i];
        }
        return (words[i >>> 1] >>> ((i & 1) * 32)) & 0xFFFF_FFFFL;
    }

    /**
     * Runs {@code fn} on every CPU in mm_cpumask: this one directly, the others by IPI
     * (smp_call_function_many, waiting for all), or directly when not on a machine.
     */
    void onEachCpuOfMm(java.util.function.Consumer<Cpu> fn) {
        Cpumask others = new Cpumask(k.cpuCount());
        mm.cpumask(others);
        if (others.test(cpu.id()) || cpu.loadedMm() == mm) {
            fn.accept(cpu);
        }
        others.clear(cpu.id());
        if (others.isEmpty()) {
            return;
        }
        ipis += others.weight();
        if (sim == null) {
            for (int i = others.next(-1); i >= 0; i = others.next(i)) {
                fn.accept(k.cpu(i));
            }
            return;
        }
        sim.smpCallFunction(others, (target, arg) -> fn.accept(k.cpu(target.id())), 0);
    }

    void annotate(String text) {
        if (sim != null) {
            sim.machine().annotate(text);
        }
    }
}
