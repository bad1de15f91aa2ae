package ptlab.kernel.vmalloc;

import ptlab.hw.PagingMode;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;

/**
 * {@code shared-top}: all of vmalloc lives under one top-level entry, populated at boot and
 * shared by every pgd (mail 003's first answer: "optimal, but ... on 32-bit x86, it would
 * limit the vmalloc space to 4MB in non-PAE"). ptlab does not pretend: vmalloc is confined to
 * the one entry's span, and allocations beyond it fail and are counted.
 * <ul>
 * <li>x86-64 / la57: one pgd entry, 512 GiB / 256 TiB of vmalloc (pgd_ctor's clone_pgd_range
 *     shares it).</li>
 * <li>x86-32 non-PAE: one pgd entry maps 4 MiB: that is the vmalloc limit.</li>
 * <li>x86-32 PAE: the top level is the 4-entry PDPT; sharing the kernel's PDPTE means sharing
 *     its pmd page, which is Linux's SHARED_KERNEL_PMD (no PTI; pgds are 32-byte slab
 *     objects, pgd_list is unused). The limit is then the whole vmalloc area.</li>
 * </ul>
 */
public final class SharedTop implements VmallocSyncStrategy {

    private long pages;

    @Override
    public String name() {
        return "shared-top";
    }

    @Override
    public String description() {
        return "one shared top-level entry for all of vmalloc (PAE: SHARED_KERNEL_PMD, no PTI)";
    }

    @Override
    public KernelConfig configure(PagingMode mode, KernelConfig base) {
        return mode.isPae() ? base.withSharedKernelPmd(true) : base;
    }

    @Override
    public long[] vmallocRange(KernelLayout l) {
        if (l.mode().isPae()) {
            return VmallocSyncStrategy.super.vmallocRange(l);
        }
        // The first whole top-level entry inside the vmalloc area. It always fits: the area is
        // more than two entries in every layout KernelLayout builds (x86-64 32 TiB of 512 GiB
        // entries, la57 12800 TiB of 256 TiB, x86-32 at least 120 MiB of 4 MiB), which
        // VmallocTest.sharedTopUsesTheFirstWholeTopLevelEntryOfTheVmallocArea checks.
        long span = l.mode().entrySpan(l.mode().levels());
        long start = (l.vmallocStart() + span - 1) & -span;
        return new long[] {start, start + span};
    }

    @Override
    public void boot(KernelMappingSync s) {
        if (s.kernel().mode().isPae()) {
            return;                                        // the kernel pmds themselves are shared
        }
        long[] r = vmallocRange(s.kernel().layout());
        pages += s.preallocate(r[0]);
    }

    @Override
    public long bootTableBytes() {
        return pages * KernelLayout.PAGE_SIZE;
    }
}
