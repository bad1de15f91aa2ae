package ptlab.kernel;

import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.WalkResult;

/**
 * The kernel's view of one CPU: its hardware {@link Mmu}, the task it runs, and the x86
 * per-CPU TLB state of arch/x86/mm/tlb.c (Linux v6.6, {@code cpu_tlbstate}): the loaded mm, its ASID, whether
 * it is in lazy TLB mode, and the small ASID cache ({@code ctxs[TLB_NR_DYN_ASIDS]}) that
 * remembers, per ASID, which mm (ctx_id) it holds and up to which tlb_gen it is flushed.
 *
 * <pre>
 *   scheduler view:   current (task or null = kernel thread/idle),  active_mm (holds mm_count)
 *   TLB view:         loaded_mm (what CR3 points at), loaded_asid, is_lazy
 * </pre>
 * They differ in lazy TLB mode: a kernel thread borrows the previous mm (active_mm) and leaves
 * CR3 alone; when a flush of that mm arrives that must reach it, leave_mm() switches CR3 to
 * init_mm while active_mm stays borrowed until the next context switch.
 *
 * <p>Not thread-safe: one simulated CPU runs its own code; other CPUs reach it only through
 * IPIs ({@link #flush_tlb_func}).
 */
public final class Cpu {

    /** TLB_NR_DYN_ASIDS. */
    public static final int TLB_NR_DYN_ASIDS = 6;

    private final int id;
    private final int node;
    private final Mmu mmu;
    private final TlbFlush tlb;
    /** Reused for every translation on this CPU (no allocation on the access path). */
    final WalkResult walk = new WalkResult();
    /** This CPU's flush request buffer (per-CPU flush_tlb_info). */
    final FlushTlbInfo flushInfo = new FlushTlbInfo();
    /** This CPU's flush targets (smp_call_function_many_cond's per-CPU cfd->cpumask). */
    final Cpumask flushTargets;

    Task current;
    MmStruct active_mm;

    /**
     * cpu_tlbstate.loaded_mm and .is_lazy: written only by this CPU (so it reads them plainly),
     * read by other CPUs without a lock (a flusher's tlb_is_not_lazy, a page-table migrator
     * looking for users of a pgd): shared variables.
     */
    final SharedRef<MmStruct> loaded_mm;
    int loaded_asid;
    final SharedLong is_lazy;
    final long[] ctxId = new long[TLB_NR_DYN_ASIDS];
    final long[] ctxTlbGen = new long[TLB_NR_DYN_ASIDS];
    int next_asid;

    long ipisReceived;
    long fullFlushes;
    long pageFlushes;
    long leaveMms;
    long cr3Writes;

    /** local_irq_disable/enable as the CPU that runs this kernel CPU implements them. */
    public interface IrqControl {
        void disable();

        void enable();
    }

    private static final IrqControl NO_IRQS = new IrqControl() {
        @Override
        public void disable() {
        }

        @Override
        public void enable() {
        }
    };

    private IrqControl irq = NO_IRQS;

    /** Installed by the engine that runs this CPU, so interrupts-off sections delay IPIs. */
    public void setIrqControl(IrqControl c) {
        this.irq = c == null ? NO_IRQS : c;
    }

    /** local_irq_disable(): an IPI sent to this CPU now waits until {@link #local_irq_enable}. */
    public void local_irq_disable() {
        irq.disable();
    }

    public void local_irq_enable() {
        irq.enable();
    }

    Cpu(int id, int node, Mmu mmu, TlbFlush tlb, Interleaving il) {
        String n = "cpu" + id;
        this.loaded_mm = new SharedRef<>(il, n, ".loaded_mm", null);
        this.is_lazy = new SharedLong(il, n, ".is_lazy", 0);
        this.id = id;
        this.node = node;
        this.mmu = mmu;
        this.tlb = tlb;
        this.flushTargets = new Cpumask(tlb.nrCpus());
    }

    public int id() {
        return id;
    }

    /** numa_node_id() of this CPU. */
    public int node() {
        return node;
    }

    public Mmu mmu() {
        return mmu;
    }

    public CpuRegisters registers() {
        return mmu.registers();
    }

    /** The task running here, or null for idle / a kernel thread. */
    public Task current() {
        return current;
    }

    public MmStruct activeMm() {
        return active_mm;
    }

    /** cpu_tlbstate.loaded_mm: the mm CR3 points at (read by another CPU: a scheduling point). */
    public MmStruct loadedMm() {
        return loaded_mm.get();
    }

    /** cpu_tlbstate.is_lazy (read by another CPU: a scheduling point). */
    public boolean isLazy() {
        return is_lazy.get() != 0;
    }

    /** This CPU's own view of loaded_mm: only it writes the variable, so no scheduling point. */
    MmStruct loadedMmLocal() {
        return loaded_mm.plainGet();
    }

    boolean isLazyLocal() {
        return is_lazy.plainGet() != 0;
    }

    /** The PCID in CR3 (0 without PCID). */
    public int pcid() {
        return mmu.registers().pcid();
    }

    public long ipisReceived() {
        return ipisReceived;
    }

    public long fullFlushes() {
        return fullFlushes;
    }

    public long pageFlushes() {
        return pageFlushes;
    }

    public long leaveMms() {
        return leaveMms;
    }

    public long cr3Writes() {
        return cr3Writes;
    }

    /** flush_tlb_func(): runs on this CPU for a local flush or a received IPI. */
    public void flush_tlb_func(FlushTlbInfo info, boolean local) {
        tlb.flush_tlb_func(this, info, local);
    }

    @Override
    public String toString() {
        return "cpu" + id;
    }
}
