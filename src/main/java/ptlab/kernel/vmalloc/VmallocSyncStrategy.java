package ptlab.kernel.vmalloc;

import java.util.List;

import ptlab.hw.PagingMode;
import ptlab.kernel.Cpu;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;
import ptlab.kernel.MmStruct;

/**
 * How a new kernel mapping reaches every process's page tables (mails 000, 001, 003). Each
 * strategy is one small class naming the kernel code it models; {@link Vmalloc} calls the hooks
 * at the points where Linux has them.
 *
 * <pre>
 *   boot            after init_mm is built, before the first process (preallocate, shared-top)
 *   afterMap        vmalloc/vmap/ioremap populated init_mm over [start, end) with pgtbl_mod_mask
 *   vmallocFault    a kernel-mode #PF on a vmalloc address: true = fixed, retry the access
 *   switchMm        context switch to next, before CR3 is loaded
 *   forked          a child's pgd was built by pgd_ctor (under pgd_lock) from init_mm
 * </pre>
 */
public sealed interface VmallocSyncStrategy
        permits LazyFault, EagerWalk, EagerGeneration, SwitchCheck, TrackedMask, Preallocate, SharedTop, BrokenNoSync {

    /** The CLI name, e.g. {@code lazy-fault}. */
    String name();

    /** One line: what it does and which kernel code it models. */
    String description();

    /** Whether it is deliberately broken (the checker must catch it). */
    default boolean broken() {
        return false;
    }

    /** Whether kernel-mode faults on vmalloc addresses are part of the design (then they are counted, not violations). */
    default boolean toleratesFaults() {
        return false;
    }

    /**
     * Whether an mm is brought up to date only when it is switched to: then only the mms loaded
     * on CPUs must be complete, not every process's.
     */
    default boolean syncsOnSwitch() {
        return false;
    }

    /**
     * The kernel configuration this strategy needs on {@code mode}. On PAE every strategy but
     * shared-top runs with PTI's unshared kernel pmds (SHARED_KERNEL_PMD = 0), the case where
     * pmd entries must be synced.
     */
    default KernelConfig configure(PagingMode mode, KernelConfig base) {
        return mode.isPae() ? base.withSharedKernelPmd(false) : base;
    }

    /** [start, end) of the vmalloc space this strategy lets vmalloc use. */
    default long[] vmallocRange(KernelLayout layout) {
        return new long[] {layout.vmallocStart(), layout.vmallocEnd() + 1};
    }

    default void boot(KernelMappingSync s) {
    }

    default void afterMap(KernelMappingSync s, Cpu cpu, long start, long end, int pgtblModMask) {
    }

    default boolean vmallocFault(KernelMappingSync s, MmStruct mm, long address) {
        return false;
    }

    default void switchMm(KernelMappingSync s, Cpu cpu, MmStruct next) {
    }

    default void forked(KernelMappingSync s, MmStruct child) {
    }

    /** Page-table bytes allocated at boot by the strategy itself. */
    default long bootTableBytes() {
        return 0;
    }

    /** Every strategy, the deliberately broken one last. */
    static List<VmallocSyncStrategy> all() {
        return List.of(new LazyFault(), new EagerWalk(), new EagerGeneration(), new SwitchCheck(), new TrackedMask(),
                new Preallocate(), new SharedTop(), new BrokenNoSync());
    }

    /** The strategy called {@code name}; IllegalArgumentException naming the known ones otherwise. */
    static VmallocSyncStrategy byName(String name) {
        StringBuilder known = new StringBuilder();
        for (VmallocSyncStrategy s : all()) {
            if (s.name().equals(name)) {
                return s;
            }
            known.append(known.length() == 0 ? "" : ", ").append(s.name());
        }
        throw new IllegalArgumentException("unknown strategy '" + name + "' (known: " + known + ")");
    }
}
