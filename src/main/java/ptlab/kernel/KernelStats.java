package ptlab.kernel;

import java.util.concurrent.atomic.AtomicLong;

/** The kernel's event counters (the model's /proc/vmstat). Atomic, allocation-free to bump. */
public final class KernelStats {
    /** PGFAULT: calls of handle_mm_fault. */
    public final AtomicLong pgfault = new AtomicLong();
    /** Faults answered with SIGSEGV (no vma, access error, kernel address). */
    public final AtomicLong sigsegv = new AtomicLong();
    public final AtomicLong oom = new AtomicLong();
    /** do_anonymous_page installed a new zeroed page. */
    public final AtomicLong anonPages = new AtomicLong();
    /** Read faults served by the shared zero page. */
    public final AtomicLong zeroPageMaps = new AtomicLong();
    /** do_wp_page copied (COW). */
    public final AtomicLong cowCopies = new AtomicLong();
    /** do_wp_page reused an exclusively owned page. */
    public final AtomicLong wpReuses = new AtomicLong();
    /** The pte was already as the fault wanted (a stale TLB entry on this CPU, or a race). */
    public final AtomicLong spurious = new AtomicLong();
    /** Faults that raced and found the pte changed (pte_same failed): retried. */
    public final AtomicLong raced = new AtomicLong();
    public final AtomicLong thpFaultAlloc = new AtomicLong();
    public final AtomicLong thpFaultFallback = new AtomicLong();
    public final AtomicLong thpSplitPmd = new AtomicLong();
    public final AtomicLong forks = new AtomicLong();
    public final AtomicLong exits = new AtomicLong();
    public final AtomicLong stackExpansions = new AtomicLong();

    @Override
    public String toString() {
        return String.format("pgfault=%d sigsegv=%d oom=%d anon=%d zero=%d cow=%d wp_reuse=%d spurious=%d raced=%d "
                        + "thp_alloc=%d thp_fallback=%d thp_split=%d forks=%d exits=%d",
                pgfault.get(), sigsegv.get(), oom.get(), anonPages.get(), zeroPageMaps.get(), cowCopies.get(),
                wpReuses.get(), spurious.get(), raced.get(), thpFaultAlloc.get(), thpFaultFallback.get(),
                thpSplitPmd.get(), forks.get(), exits.get());
    }
}
