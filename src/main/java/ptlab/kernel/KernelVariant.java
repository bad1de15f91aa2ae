package ptlab.kernel;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * Which deliberately broken behaviours a {@link Kernel} is booted with: the bugs the explorer's
 * scenarios and the tests must find. Fixed at construction and read by each component from its
 * own final fields, so a kernel is either the correct one or a named broken one for its whole
 * life (there is no switch to flip while it runs).
 *
 * @param bugs the broken behaviours; empty for the correct kernel
 */
public record KernelVariant(Set<Bug> bugs) {

    /** One broken behaviour, named by what the correct kernel does instead. */
    public enum Bug {
        /** flush_tlb_mm_range / flush_tlb_kernel_range do nothing at all. */
        SKIP_FLUSH,
        /** flush_tlb_mm_range flushes only the calling CPU and sends no IPI. */
        LOCAL_FLUSH_ONLY,
        /** mmu_gather frees page-table pages before the TLB flush instead of after it. */
        FREE_TABLES_BEFORE_FLUSH,
        /** ptep_get_and_clear is a plain load then store instead of an atomic exchange. */
        PLAIN_PTE_CLEAR,
        /** switch_mm_irqs_off reads tlb_gen before setting its bit in mm_cpumask. */
        TLB_GEN_BEFORE_CPUMASK
    }

    /** The correct kernel. */
    public static final KernelVariant CORRECT = new KernelVariant(Set.of());

    public KernelVariant {
        // An EnumSet (a bit mask) behind the read-only view: has() runs in constructors made per
        // explore schedule (MmuGather per munmap), where Set.copyOf's hashed probe showed up.
        bugs = bugs.isEmpty() ? Set.of() : Collections.unmodifiableSet(EnumSet.copyOf(bugs));
    }

    public static KernelVariant of(Bug... bugs) {
        return new KernelVariant(Set.of(bugs));
    }

    public boolean has(Bug bug) {
        return !bugs.isEmpty() && bugs.contains(bug);
    }

    public boolean isCorrect() {
        return bugs.isEmpty();
    }
}
